import { describe, expect, it } from 'vitest';
import { nextAttemptAt } from '../../shared/mirror/pending-sync.js';
import { retryDelaySeconds } from '../../shared/mirror/pending-sync-retry.js';

describe('retryDelaySeconds', () => {
  const now = new Date('2026-11-24T10:00:00.000Z');
  const after = (ms: number) => new Date(now.getTime() + ms);

  it('holds the message until the entry is due, rounded up to whole seconds, from 10 s to 15 min', () => {
    expect(retryDelaySeconds(after(20_000), now)).toBe(20);
    expect(retryDelaySeconds(after(20_001), now)).toBe(21);
    expect(retryDelaySeconds(after(1), now)).toBe(10);
    expect(retryDelaySeconds(after(3_600_000), now)).toBe(15 * 60);
  });

  it('does not hold it back for entries due already (a backlog beyond one batch)', () => {
    expect(retryDelaySeconds(now, now)).toBe(0);
    expect(retryDelaySeconds(after(-60_000), now)).toBe(0);
  });
});

describe('nextAttemptAt', () => {
  it('backs off exponentially up to a cap', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const delays = [1, 2, 3, 4, 50].map((attempts) => nextAttemptAt(attempts, now).getTime() - now.getTime());
    expect(delays.slice(0, 4)).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(delays[4]).toBe(15 * 60_000);
  });
});
