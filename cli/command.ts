import type { AppContext } from '../shared/context/app-context.js';
import type { OptionName } from './cli-options.js';
import type { ProgressReporter } from './progress-reporter.js';

/** Exit codes of every migrate:* command (and the demo). */
export const ExitCode = {
  ok: 0,
  /** The run failed, verification found differences, or the command could not run here (settings). */
  failed: 1,
  /** Bad arguments: nothing was touched. */
  usage: 2,
  /** Ctrl-C: stopped after the batch being written; `--resume` continues. */
  interrupted: 130,
} as const;

/** Option values after `util.parseArgs`, by long name. */
export type OptionValues = Partial<Record<OptionName, string | boolean>>;

/** What a command gets to talk to the world with. */
export interface CommandIO {
  /** `--json`: the result is one JSON object on stdout; everything else goes to stderr. */
  json: boolean;
  /** The result, for people or (with `--json`) machines. */
  result(text: string): void;
  /** Messages for people: always stderr, so stdout stays parseable. */
  log(line: string): void;
  progress: ProgressReporter;
  /** This process's configured services; fails naming the missing settings. */
  services(): AppContext;
}

/** One migrate:* command: its help, its options and what it does. */
export interface CliCommand {
  /** The word after `migrate.ts`, and `migrate:<name>` in package.json. */
  name: string;
  /** Options it accepts besides `--help` (which every command has). */
  options: readonly OptionName[];
  /** Positional arguments it may take. */
  maxPositionals: number;
  help: string;
  /** Validates the arguments (throwing `UsageError`) and returns the work to do; nothing is touched yet. */
  prepare(values: OptionValues, positionals: readonly string[]): (io: CommandIO) => Promise<number>;
}
