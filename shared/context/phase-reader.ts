import type { AppConfig } from '../config/env.js';
import { type Clock, systemClock } from '../core/clock.js';
import { SwitchInProgressError } from '../core/errors.js';
import { isSteady, type Phase, phaseOfFlags, phaseTrustMs, type SteadyPhase } from '../domain/phase.js';
import { effectivePhase, readStoredPhase } from '../postgres/phase-store.js';
import { sqlStateOf } from '../postgres/postgres-errors.js';
import type { PrismaClient } from '../postgres/prisma-client.js';

/** What a process acts on: the phase, and whether a switch recorded it or the settings say it. */
export interface PhaseReading {
  phase: Phase;
  /** `switch`: read from `switch_state`; `settings`: USE_POSTGRESQL/DUAL_DATABASE_MODE (no switch recorded, or no database to ask). */
  source: 'switch' | 'settings';
  /** The stored phase's epoch (absent for the settings). */
  epoch?: number;
  /** Set when the last attempt to read the stored phase failed and an older reading (or the settings) stands in. */
  stale?: boolean;
}

export interface PhaseReaderOptions {
  /** How long a reading is trusted, from the moment the read began. Default {@link phaseTrustMs}, which the switch waits out. */
  trustMs?: number;
  /** How long a write waits at a switch's fence before it fails with `SwitchInProgressError`. Default 10 s. */
  writeWaitMs?: number;
  /** How often a waiting write asks again. Default 100 ms. */
  pollMs?: number;
  /** A read of the stored phase that takes longer is given up, and the last reading stands in. Default 2 s. */
  readTimeoutMs?: number;
  clock?: Clock;
}

const undefinedTable = '42P01';

/**
 * The phase as this process sees it: read from PostgreSQL (`switch_state`) at most every `trustMs`, so every
 * process acts on a phase no older than that; the settings where no switch was ever recorded or PostgreSQL is
 * not configured. Writes ask {@link forWrite}, which waits while a switch holds its fence.
 *
 * When the stored phase cannot be read (PostgreSQL down), the last reading stands in (the settings if there was
 * none): a Cosmos-primary service keeps serving while PostgreSQL is away, and no switch can move the phase
 * without PostgreSQL. A write that lands on the wrong side that way is still not lost: the sync applies it, or
 * keeps it as a conflict (docs/architecture.md, "The switch").
 */
export class PhaseReader {
  readonly #prisma: () => PrismaClient | undefined;
  readonly #config: AppConfig;
  readonly #trustMs: number;
  readonly #writeWaitMs: number;
  readonly #pollMs: number;
  readonly #readTimeoutMs: number;
  readonly #clock: Clock;
  #last: { reading: PhaseReading; trustedUntil: number } | undefined;
  #reading: Promise<PhaseReading> | undefined;

  /** `prisma` gives the client to read from, or undefined (or throws) where PostgreSQL is not configured. */
  constructor(prisma: () => PrismaClient | undefined, config: AppConfig, options: PhaseReaderOptions = {}) {
    this.#prisma = prisma;
    this.#config = config;
    this.#trustMs = options.trustMs ?? phaseTrustMs;
    this.#writeWaitMs = options.writeWaitMs ?? 10_000;
    this.#pollMs = options.pollMs ?? 100;
    this.#readTimeoutMs = options.readTimeoutMs ?? 2_000;
    this.#clock = options.clock ?? systemClock;
  }

  /** The phase now: a reading still trusted, or a new one. */
  async current(): Promise<PhaseReading> {
    const last = this.#last;
    if (last && this.#clock.now() < last.trustedUntil) return last.reading;
    return this.refresh();
  }

  /** A new reading, whatever the last one was (a waiting write asks this way). */
  refresh(): Promise<PhaseReading> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  /** The phase to read in: during a switch, the side writes went to before it (nothing is written meanwhile). */
  async forRead(): Promise<SteadyPhase> {
    const { phase } = await this.current();
    if (phase === 'switching-to-postgresql') return 'cosmos-primary';
    if (phase === 'switching-to-cosmos') return 'postgresql-primary';
    return phase;
  }

  /**
   * The phase to write in. While a switch holds its fence the write waits, asking again every `pollMs`, and
   * fails with `SwitchInProgressError` (retryable; nothing was written) if the switch outlasts `writeWaitMs`.
   */
  async forWrite(): Promise<SteadyPhase> {
    const started = this.#clock.now();
    let { phase } = await this.current();
    while (!isSteady(phase)) {
      const waited = this.#clock.now() - started;
      if (waited >= this.#writeWaitMs) throw new SwitchInProgressError(phase, waited);
      await this.#clock.sleep(Math.min(this.#pollMs, this.#writeWaitMs - waited));
      ({ phase } = await this.refresh());
    }
    return phase;
  }

  async #read(): Promise<PhaseReading> {
    const began = this.#clock.now();
    const settings: PhaseReading = { phase: phaseOfFlags(this.#config.usePostgres, this.#config.dualDatabaseMode), source: 'settings' };
    let prisma: PrismaClient | undefined;
    try {
      prisma = this.#config.databaseUrl === undefined ? undefined : this.#prisma();
    } catch {
      prisma = undefined;
    }
    if (!prisma) return this.#remember(settings, began);
    try {
      const stored = await withTimeout(readStoredPhase(prisma), this.#readTimeoutMs);
      const reading: PhaseReading = stored ? { phase: effectivePhase(stored), source: 'switch', epoch: stored.epoch } : settings;
      return this.#remember(reading, began);
    } catch (error) {
      // No schema yet: no switch can have been recorded.
      if (sqlStateOf(error) === undefinedTable) return this.#remember(settings, began);
      // Asked again after `trustMs`, not on every call: each attempt may take `readTimeoutMs`.
      return this.#remember({ ...(this.#last?.reading ?? settings), stale: true }, began);
    }
  }

  #remember(reading: PhaseReading, began: number): PhaseReading {
    this.#last = { reading, trustedUntil: began + this.#trustMs };
    return reading;
  }
}

/** `work`, or a rejection once `ms` have passed (the work itself carries on and its result is dropped). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The context's own reader; a context built by hand (a test, a tool) without one reads the stored phase on
 * every call, which is always current.
 */
export function phaseReaderOf(ctx: {
  readonly config: AppConfig;
  readonly prisma: PrismaClient;
  readonly phases?: PhaseReader;
}): PhaseReader {
  return ctx.phases ?? new PhaseReader(() => ctx.prisma, ctx.config, { trustMs: 0 });
}
