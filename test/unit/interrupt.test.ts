import { describe, expect, it } from 'vitest';
import { whenAborted } from '../../cli/core/interrupt.js';

describe('whenAborted', () => {
  it('resolves for a signal aborted before it was asked, whose abort event has come and gone', async () => {
    const controller = new AbortController();
    controller.abort();
    const outcome = await Promise.race([
      whenAborted(controller.signal).then(() => 'resolved'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1000)),
    ]);
    expect(outcome).toBe('resolved');
  });

  it('waits for a signal that aborts later, and resolves then', async () => {
    const controller = new AbortController();
    let resolved = false;
    const waiting = whenAborted(controller.signal).then(() => {
      resolved = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resolved).toBe(false);
    controller.abort();
    await waiting;
    expect(resolved).toBe(true);
  });
});
