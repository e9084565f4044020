import type { Command } from '../core/command.js';
import { databaseSettings, type SettingName } from '../core/settings.js';

/** What the migrate:* commands say alike in their help, written once. */

/** When a command needs MIGRATION_MODE=true. */
export type Writes = 'always' | 'unless-dry-run' | 'with-repair' | 'never';

const modeLines: Record<Exclude<Writes, 'never'>, string> = {
  always: 'must be true: this command writes to PostgreSQL',
  'unless-dry-run': 'must be true to write (not needed with --dry-run)',
  'with-repair': 'must be true with --repair (repair writes); reading needs nothing',
};

/** The settings of a command on both databases, with MIGRATION_MODE as it applies to it. */
export function databaseCommandSettings(writes: Writes): Command['settings'] {
  const mode: ReadonlyArray<readonly [SettingName, string]> = writes === 'never' ? [] : [['MIGRATION_MODE', modeLines[writes]]];
  return [...databaseSettings, ...mode];
}

/** The settings of how a migration reads Cosmos: its shared request-unit budget and its priority. */
export const readSettings: readonly SettingName[] = ['MIGRATION_MAX_RU_PER_SECOND', 'COSMOSDB_PRIORITY_LEVEL'];

/** The 130 line of a command whose runs are checkpointed. */
export const resumableInterruption =
  'interrupted (Ctrl-C): stopped after the batch being written, recorded as interrupted; run again with --resume to continue';

/** The 130 line of a command that only reads. */
export const readOnlyInterruption = 'interrupted (Ctrl-C): stopped at once; it only reads, so nothing is left half-done';
