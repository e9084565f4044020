import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/env.js';
import { PhaseReader } from '../../shared/context/phase-reader.js';
import type { Clock } from '../../shared/core/clock.js';
import { SwitchInProgressError } from '../../shared/core/errors.js';
import { endFence, movePhase, readStoredPhase, releaseFence, renewFence } from '../../shared/postgres/phase-store.js';
import { createPrismaClient } from '../../shared/postgres/prisma-client.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * The phase every process routes its writes by: read from PostgreSQL (`switch_state`) and trusted for a second,
 * the settings where no switch was recorded or PostgreSQL is not configured, and a write held while a fence holds.
 * The reader's clock is a virtual one the tests move; the fence's own end is the database's clock.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());
beforeEach(async () => {
  await db.pool.query('TRUNCATE "switch_state"');
});

/** A clock that moves only when told to; `sleep` moves it and lets other work run. */
function virtualClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
    sleep: async (ms) => {
      now += ms;
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const settings = (flags: Record<string, string>) => loadConfig({ DATABASE_URL: db.url, ...flags });

describe('PhaseReader', () => {
  it('follows the settings while no switch is recorded, and the recorded phase once one is', async () => {
    const clock = virtualClock();
    const reader = new PhaseReader(() => db.prisma, settings({ USE_POSTGRESQL: 'false', DUAL_DATABASE_MODE: 'true' }), { clock });
    expect(await reader.current()).toEqual({ phase: 'cosmos-primary', source: 'settings' });
    await movePhase(db.prisma, { epoch: undefined, from: 'cosmos-primary', to: 'postgresql-primary', switchId: 's1' });
    // Trusted for a second: the reading does not change before then.
    clock.advance(999);
    expect((await reader.current()).phase).toBe('cosmos-primary');
    clock.advance(1);
    expect(await reader.current()).toMatchObject({ phase: 'postgresql-primary', source: 'switch', epoch: 1 });
  });

  it('reads the settings alone where PostgreSQL is not configured', async () => {
    const reader = new PhaseReader(
      () => {
        throw new Error('no client should be made');
      },
      loadConfig({ USE_POSTGRESQL: 'true' }),
    );
    expect(await reader.current()).toEqual({ phase: 'postgresql', source: 'settings' });
  });

  it('holds a write while a fence holds and lets it go on the phase the switch flips to', async () => {
    const reader = new PhaseReader(() => db.prisma, settings({}), { writeWaitMs: 10_000, pollMs: 20 });
    const fenced = await movePhase(db.prisma, {
      epoch: undefined,
      from: 'cosmos-primary',
      to: 'switching-to-postgresql',
      switchId: 's1',
      fenceMs: 60_000,
    });
    expect(await reader.forRead()).toBe('cosmos-primary');
    let flipped = false;
    const write = reader.forWrite().then((phase) => {
      expect(flipped).toBe(true);
      return phase;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    flipped = await endFence(db.prisma, { epoch: fenced?.epoch as number, to: 'postgresql-primary' });
    expect(await write).toBe('postgresql-primary');
  });

  it('fails a write with a retryable error when the fence outlasts its wait, having written nothing', async () => {
    const clock = virtualClock();
    const reader = new PhaseReader(() => db.prisma, settings({}), { clock, writeWaitMs: 2_000, pollMs: 100 });
    await movePhase(db.prisma, { epoch: undefined, from: 'cosmos-primary', to: 'switching-to-cosmos', switchId: 's1', fenceMs: 60_000 });
    const error = await reader.forWrite().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SwitchInProgressError);
    expect((error as SwitchInProgressError).fields).toMatchObject({ phase: 'switching-to-cosmos', retryable: true });
    expect((error as SwitchInProgressError).fields.waitedMs).toBeGreaterThanOrEqual(2_000);
  });

  it('goes back to the phase before a fence that lapsed, without anyone giving it back', async () => {
    const reader = new PhaseReader(() => db.prisma, settings({}), { trustMs: 0 });
    await movePhase(db.prisma, { epoch: undefined, from: 'cosmos-primary', to: 'switching-to-postgresql', switchId: 's1', fenceMs: 300 });
    expect((await reader.current()).phase).toBe('switching-to-postgresql');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await reader.current()).phase).toBe('cosmos-primary');
    const stored = await readStoredPhase(db.prisma);
    // Once lapsed, the fence can be neither ended (flipped) nor renewed: the switch must start over.
    expect(await endFence(db.prisma, { epoch: stored?.epoch as number, to: 'postgresql-primary' })).toBe(false);
    expect(await renewFence(db.prisma, { epoch: stored?.epoch as number, fenceMs: 1000 })).toBeUndefined();
    expect(await releaseFence(db.prisma, stored?.epoch as number)).toBe(true);
    expect((await readStoredPhase(db.prisma))?.phase).toBe('cosmos-primary');
  });

  it('keeps its last reading while PostgreSQL cannot be reached, marked stale', async () => {
    const unreachable = createPrismaClient('postgresql://nobody@127.0.0.1:1/none', 1);
    try {
      const clock = virtualClock();
      let prisma = db.prisma;
      const reader = new PhaseReader(() => prisma, settings({}), { clock, readTimeoutMs: 1_000 });
      await movePhase(db.prisma, { epoch: undefined, from: 'cosmos-primary', to: 'postgresql-primary', switchId: 's1' });
      expect((await reader.current()).phase).toBe('postgresql-primary');
      prisma = unreachable;
      clock.advance(1_000);
      expect(await reader.current()).toMatchObject({ phase: 'postgresql-primary', stale: true });
    } finally {
      await unreachable.$disconnect();
    }
  });

  it('moves only from the epoch it read: two switches cannot both take the fence', async () => {
    const first = await movePhase(db.prisma, {
      epoch: undefined,
      from: 'cosmos-primary',
      to: 'switching-to-postgresql',
      switchId: 'a',
      fenceMs: 60_000,
    });
    expect(
      await movePhase(db.prisma, {
        epoch: undefined,
        from: 'cosmos-primary',
        to: 'switching-to-postgresql',
        switchId: 'b',
        fenceMs: 60_000,
      }),
    ).toBeUndefined();
    const renewed = await renewFence(db.prisma, { epoch: first?.epoch as number, fenceMs: 60_000 });
    expect(await endFence(db.prisma, { epoch: first?.epoch as number, to: 'postgresql-primary' })).toBe(false);
    expect(await endFence(db.prisma, { epoch: renewed?.epoch as number, to: 'postgresql-primary' })).toBe(true);
  });
});
