import type { DataMigrationUtility } from '../shared/api/data-migration-utility.js';
import type { AppContext } from '../shared/context/app-context.js';
import { assertMayMigrate } from '../shared/migration/migration-mode.js';
import type { MigrationOptions, MigrationProgress } from '../shared/migration/run-migration.js';
import { parseBatchSize, parseMaxRu, UsageError } from './cli-options.js';
import { type CommandIO, ExitCode, type OptionValues } from './command.js';
import { describeInterruption, describeRun, type RunOutcome, runWithProgress } from './migration-runner.js';

/**
 * The guide's migration API, loaded when a command runs: it brings the Cosmos SDK and Azure identity
 * with it, which would otherwise make every `--help` and argument error take seconds.
 */
export async function migrationUtility(): Promise<typeof DataMigrationUtility> {
  return (await import('../shared/api/data-migration-utility.js')).DataMigrationUtility;
}

/** The run options the migrating commands share, from their flags. */
export type RunFlags = Pick<MigrationOptions, 'batchSize' | 'skipExisting' | 'dryRun' | 'resume' | 'maxRequestUnitsPerSecond'>;

export function runFlags(values: OptionValues): RunFlags {
  const flags: RunFlags = {
    batchSize: parseBatchSize(values['batch-size'] as string | undefined),
    skipExisting: values['skip-existing'] === true,
    dryRun: values['dry-run'] === true,
    resume: values.resume === true,
    maxRequestUnitsPerSecond: parseMaxRu(values['max-ru'] as string | undefined),
  };
  if (flags.dryRun && flags.resume)
    throw new UsageError('--resume: a dry run keeps no checkpoint to resume; drop one of --dry-run and --resume');
  return flags;
}

export interface MigrationSpec {
  /** Heading of the result, e.g. "Accounts migration". */
  title: string;
  /** The command line that continues this run, shown after Ctrl-C or a failure. */
  resumeCommand: string;
  dryRun: boolean;
  /** Documents the run will read, for the progress bar (undefined when it cannot be known up front). */
  total(services: AppContext): Promise<number | undefined>;
  start(onProgress: NonNullable<MigrationOptions['onProgress']>): Promise<MigrationProgress>;
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
    return await runWithProgress(io, spec.dryRun ? 'Dry run' : 'Migrating', total, (onProgress) => spec.start(onProgress));
  } catch (error) {
    if (!spec.dryRun)
      io.log(`The run is recorded as failed, with its checkpoint. Once the cause is fixed, continue it with: ${spec.resumeCommand}`);
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
