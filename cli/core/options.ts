import { InvalidInputError } from '../../shared/core/errors.js';

/**
 * Options as commands declare them: once, with their help text and the parser of their value, so the
 * parser, the help and the values a command receives cannot disagree. Values are checked before the
 * command touches anything; a bad one is an `InvalidInputError` naming the option (exit code 2).
 */

/** `--name`, on or off. */
export interface FlagOption {
  kind: 'flag';
  help: string;
  /** One letter for `-x` (only `-h` uses one). */
  short?: string;
}

/** `--name <value>` or `--name=<value>`; the value is parsed as the option is read. */
export interface ValueOption<T> {
  kind: 'value';
  /** How the value is written in help, e.g. `<n>`. */
  placeholder: string;
  help: string;
  parse(text: string, name: string): T;
}

export type OptionSpec = FlagOption | ValueOption<unknown>;
export type OptionSpecs = Record<string, OptionSpec>;

/** What a command receives for its options: a flag is a boolean, a valued option its parsed value (undefined if absent). */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends ValueOption<infer T> ? T | undefined : boolean;
};

export function flag(help: string): FlagOption {
  return { kind: 'flag', help };
}

export function valued<T>(placeholder: string, help: string, parse: (text: string, name: string) => T): ValueOption<T> {
  return { kind: 'value', placeholder, help, parse };
}

/** Every command's `-h, --help`. */
export const helpOption: FlagOption = { kind: 'flag', short: 'h', help: 'Show this help and exit.' };

/** The one whole-number parser: digits only (no sign, no fraction), from `min` to `max`. */
export function wholeNumber(min: number, max: number): (text: string, name: string) => number {
  return (text, name) => {
    const parsed = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidInputError(name, `expected a whole number from ${format(min)} to ${format(max)}, got ${quote(text)}`);
    }
    return parsed;
  };
}

/** The one positive-number parser: digits with an optional fraction, above zero; `what` says what it counts. */
export function positiveNumber(what: string): (text: string, name: string) => number {
  return (text, name) => {
    const parsed = /^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isFinite(parsed) || parsed <= 0)
      throw new InvalidInputError(name, `expected a positive number of ${what}, got ${quote(text)}`);
    return parsed;
  };
}

/** A Nostr public key: 64 hex characters, kept as given (Cosmos partition keys are case-sensitive). */
export function parsePubkey(text: string | undefined, name = '<pubkey>'): string {
  if (text === undefined) throw new InvalidInputError(name, 'missing; expected a 64-character hex public key');
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    const hint = text.startsWith('npub1') ? ' (an npub is bech32; give the hex form)' : '';
    throw new InvalidInputError(name, `expected a 64-character hex public key, got ${quote(text)}${hint}`);
  }
  return text;
}

/** Arguments are echoed shortened: a pasted secret should not fill the terminal or a CI log. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

function format(value: number): string {
  return value >= 10_000 ? value.toLocaleString('en-US') : String(value);
}

/** The largest `--batch-size`: Cosmos pages and PostgreSQL statements stay well inside their limits. */
export const maxBatchSize = 5000;

/** The options several commands share, each declared here once. */
export const sharedOptions = {
  json: flag('Print one JSON object with the result on stdout (progress and messages go to stderr).'),
  batchSize: (help: string) => valued('<n>', help, wholeNumber(1, maxBatchSize)),
  dryRun: flag('Read and map everything, write nothing; report what would be written.'),
  skipExisting: flag('Leave documents that already have a row alone (faster re-runs; a changed document is not updated).'),
  resume: flag('Continue the most recent interrupted or failed run of this command from its checkpoint (exit 1 if there is none).'),
  maxRu: valued(
    '<n>',
    'Request units per second for reading Cosmos, one budget shared through PostgreSQL with every process reading ' +
      'under it; a run ends once the budget has covered what its reads were charged (default: ' +
      'MIGRATION_MAX_RU_PER_SECOND; unset, no limit).',
    positiveNumber('request units per second'),
  ),
  concurrency: valued('<n>', 'Feed ranges (physical partitions) read at the same time (1-64; default 4).', wholeNumber(1, 64)),
} as const;
