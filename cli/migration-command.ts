import type { DataMigrationUtility } from '../shared/api/data-migration-utility.js';
import type { AppContext } from '../shared/context/app-context.js';
import { InvalidInputError } from '../shared/core/errors.js';
import { assertMayMigrate } from '../shared/migration/migration-mode.js';
import { type MigrationOptions, type MigrationProgress, runEndRecorded } from '../shared/migration/run-migration.js';
import { abandonedAfterMs } from '../shared/migration/runs.js';
import type { CommandIO } from './core/command.js';
import { ExitCode } from './core/exit-codes.js';
import { describeInterruption, describeRun, type RunHooks, type RunOutcome, runWithProgress } from './migration-progress.js';

/**
 * The guide's migration API, loaded when a command runs: it brings the Cosmos SDK and Azure identity
 * with it, which would otherwise make every `--help` and argument error take seconds.
 */
export async function migrationUtility(): Promise<typeof DataMigrationUtility> {
  return (await import('../shared/api/data-migration-utility.js')).DataMigrationUtility;
}

/** The run options the migrating commands share, from their flags. */
export type RunFlags = Pick<MigrationOptions, 'batchSize' | 'skipExisting' | 'dryRun' | 'resume' | 'maxRequestUnitsPerSecond'>;

/** The flags of a migrating command, as `runFlags` reads them (each command declares the ones it takes). */
export interface RunFlagValues {
  batchSize?: number;
  skipExisting?: boolean;
  dryRun?: boolean;
  resume?: boolean;
  maxRu?: number;
}

/** `--resume` asks for an existing run: with none to continue, the engine refuses rather than start a new one. */
export function runFlags(values: RunFlagValues): RunFlags {
  if (values.dryRun === true && values.resume === true) {
    throw new InvalidInputError('--resume', 'a dry run keeps no checkpoint to resume; drop one of --dry-run and --resume');
  }
  return {
    batchSize: values.batchSize,
    skipExisting: values.skipExisting === true,
    dryRun: values.dryRun === true,
    resume: values.resume === true ? 'required' : false,
    maxRequestUnitsPerSecond: values.maxRu,
  };
}

export interface MigrationSpec {
  /** Heading of the result, e.g. "Accounts migration". */
  title: string;
  /** The command line that continues this run, shown after Ctrl-C or a failure. */
  resumeCommand: string;
  dryRun: boolean;
  /** Documents the run will read, for the progress bar (undefined when it cannot be known up front). */
  total(services: AppContext): Promise<number | undefined>;
  start(hooks: RunHooks): Promise<MigrationProgress>;
}

/**
 * Checks MIGRATION_MODE before reading anything, then runs with progress. A run that throws is
 * recorded as failed with its checkpoint, so the user is told how to continue it.
 */
export async function migrateWithProgress(io: CommandIO, spec: MigrationSpec): Promise<RunOutcome> {
  const services = io.services();
  assertMayMigrate(services.config, spec.dryRun);
  const total = await spec.total(services);
  try {
    return await runWithProgress(io, spec.dryRun ? 'Dry run' : 'Migrating', total, (hooks) => spec.start(hooks));
  } catch (error) {
    if (!spec.dryRun && !io.signal.aborted) {
      const recorded = runEndRecorded(error)
        ? 'The run is recorded as failed, with its checkpoint.'
        : 'The run could not be recorded as failed (PostgreSQL did not answer): it still says running, and stats show it as ' +
          `abandoned once its heartbeat is ${abandonedAfterMs / 60_000} minutes old. Its checkpoint is kept.`;
      io.log(`${recorded} Once the cause is fixed, continue it with: ${spec.resumeCommand}`);
    }
    throw error;
  }
}

/** Prints a migration's outcome (human or JSON) and returns the exit code. */
export function reportMigration(
  io: CommandIO,
  spec: Pick<MigrationSpec, 'title' | 'resumeCommand' | 'dryRun'>,
  outcome: RunOutcome,
): number {
  if (outcome.state === 'interrupted') {
    io.log(describeInterruption(outcome.progress, spec.dryRun, spec.resumeCommand));
    if (io.json)
      io.result(
        JSON.stringify({ state: 'interrupted', run: outcome.progress ?? null, resume: spec.dryRun ? null : spec.resumeCommand }, null, 2),
      );
    return ExitCode.interrupted;
  }
  io.result(io.json ? JSON.stringify({ state: 'completed', run: outcome.progress }, null, 2) : describeRun(spec.title, outcome.progress));
  return ExitCode.ok;
}

/** A whole migrating command: run, then report. */
export async function runMigrationCommand(io: CommandIO, spec: MigrationSpec): Promise<number> {
  return reportMigration(io, spec, await migrateWithProgress(io, spec));
}
