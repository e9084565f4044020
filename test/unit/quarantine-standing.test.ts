import { describe, expect, it } from 'vitest';
import { parseAge } from '../../shared/core/age.js';
import { isDifference, standingOf } from '../../shared/quarantine/standing.js';
import { formatAge } from '../../shared/stats/type-labels.js';

describe("a quarantine entry's standing against its document's row", () => {
  it.each([
    ['unmappable', { table: 'accounts', order: 1 }, 'newer-than-row', true],
    ['unmappable', { table: 'accounts', order: 0 }, 'not-newer-than-row', false],
    ['held-for-review', { table: 'payments', order: -1 }, 'not-newer-than-row', false],
    // Written in Cosmos apart from PostgreSQL's own version: PostgreSQL does not serve it, whatever the times say.
    ['diverged', { table: 'payments', order: -1 }, 'newer-than-row', true],
    ['unmappable', null, 'no-table', false],
    ['refused', null, 'no-table', false],
    ['conflict', null, 'waiting-for-row', true],
    ['displaced', null, 'waiting-for-row', true],
    ['diverged', null, 'waiting-for-row', true],
    // A code this version does not know is never taken as settled.
    ['held-for-review', null, 'waiting-for-row', true],
  ] as const)('%s with row %j: %s', (reasonCode, row, standing, difference) => {
    expect(standingOf({ reasonCode, row })).toBe(standing);
    expect(isDifference(standingOf({ reasonCode, row }))).toBe(difference);
  });
});

describe('ages', () => {
  it('reads a whole number and a unit, and nothing else', () => {
    expect(parseAge('90s')).toBe(90_000);
    expect(parseAge('15m')).toBe(900_000);
    expect(parseAge(' 2h ')).toBe(7_200_000);
    expect(parseAge('7d')).toBe(604_800_000);
    for (const text of ['2', 'h', '1.5h', '-2h', '2 weeks', '2H', '']) expect(parseAge(text)).toBeUndefined();
  });

  it('prints its two largest units', () => {
    expect(formatAge(12)).toBe('12s');
    expect(formatAge(200)).toBe('3m 20s');
    expect(formatAge(3900)).toBe('1h 5m');
    expect(formatAge(183_600)).toBe('2d 3h');
  });
});
