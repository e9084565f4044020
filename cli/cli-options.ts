/**
 * Options the migrate:* commands share, their parsing and their help lines. Values are checked
 * here, so a bad one stops the command before it connects to anything (exit code 2).
 */

/** A problem with the command line: reported with the argument's name, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const maxBatchSize = 5000;

/** `util.parseArgs` option definitions, by the option's long name. */
export const optionDefinitions = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  'batch-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'skip-existing': { type: 'boolean' },
  resume: { type: 'boolean' },
  'max-ru': { type: 'string' },
  all: { type: 'boolean' },
  repair: { type: 'boolean' },
} as const;

export type OptionName = keyof typeof optionDefinitions;

/** One help line per option, for the commands' `--help`. */
export const optionHelp: Record<OptionName, string> = {
  help: '-h, --help         Show this help and exit.',
  json: '--json             Print one JSON object with the result on stdout (progress and messages go to stderr).',
  'batch-size': `--batch-size <n>   Documents per Cosmos page and per PostgreSQL write (1-${maxBatchSize}; default 100).`,
  'dry-run': '--dry-run          Read and map everything, write nothing; report what would be written.',
  'skip-existing': '--skip-existing    Leave documents that already have a row alone (faster re-runs; a changed document is not updated).',
  resume: '--resume           Continue the most recent interrupted or failed run of this command from its checkpoint.',
  'max-ru': '--max-ru <n>       Cosmos request-unit budget per second for reading (default: no limit beyond Cosmos throttling).',
  all: '--all              Verify every document of every user instead of one user.',
  repair: '--repair           Migrate again every document found missing or different (needs MIGRATION_MODE=true).',
};

/** `--batch-size`: a whole number from 1 to 5000. */
export function parseBatchSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return parseWholeNumber('--batch-size', value, 1, maxBatchSize);
}

/** `--max-ru`: a positive number of request units per second. */
export function parseMaxRu(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new UsageError(`--max-ru: expected a positive number of request units per second, got ${quote(value)}`);
  }
  return parsed;
}

/** A Nostr public key: 64 hex characters, kept as given (Cosmos partition keys are case-sensitive). */
export function parsePubkey(value: string | undefined, argumentName = '<pubkey>'): string {
  if (value === undefined) throw new UsageError(`${argumentName}: missing; expected a 64-character hex public key`);
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    const hint = value.startsWith('npub1') ? ' (an npub is bech32; give the hex form)' : '';
    throw new UsageError(`${argumentName}: expected a 64-character hex public key, got ${quote(value)}${hint}`);
  }
  return value;
}

/** Rejects positionals a command does not take, naming the first. */
export function expectPositionals(positionals: readonly string[], max: number): void {
  const extra = positionals[max];
  if (extra !== undefined) throw new UsageError(`unexpected argument ${quote(extra)}`);
}

function parseWholeNumber(name: string, value: string, min: number, max: number): number {
  const parsed = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`${name}: expected a whole number from ${min} to ${max}, got ${quote(value)}`);
  }
  return parsed;
}

/** Arguments are echoed shortened: a pasted secret should not fill the terminal or a CI log. */
function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
