import type { AppConfig, Requirement } from '../../shared/config/env.js';
import type { AppContext } from '../../shared/context/app-context.js';
import type { OptionSpecs, OptionValues } from './options.js';
import type { ProgressReporter } from './progress-reporter.js';
import type { Environment, SettingName } from './settings.js';

/** What a command gets to talk to the world with. */
export interface CommandIO {
  /** `--json`: the result is one JSON object on stdout; everything else goes to stderr. */
  json: boolean;
  /** The result, for people or (with `--json`) machines: stdout. */
  result(text: string): void;
  /** Messages for people: stderr, so stdout stays parseable. */
  log(line: string): void;
  /** Progress on stderr; it stops drawing once the command is interrupted. */
  progress: ProgressReporter;
  /** Aborted at the first Ctrl-C (or SIGTERM): stop at the next safe point and throw `InterruptedError`. */
  signal: AbortSignal;
  /** The settings the command reads (the process's environment, or a test's). */
  env: Environment;
  /** The settings `needs` requires, every problem reported at once (exit 1, pointing at the demo). */
  config(needs: readonly Requirement[]): AppConfig;
  /** This process's services on both configured databases, opened on first call and closed when the command ends. */
  services(): AppContext;
  /**
   * Registers work to run when the command ends, however it ends, last registered first, and also on a
   * forced stop (a second Ctrl-C): local servers to stop, data to delete.
   */
  defer(release: () => Promise<void>): void;
}

/** The text of each exit code a command can end with (2, bad arguments, is the same for all). */
export interface ExitCodeHelp {
  ok: string;
  failed: string;
  /** Every command can be stopped with Ctrl-C; this says what is left behind and what to do next. */
  interrupted: string;
}

/** The arguments a command receives once they are parsed and checked. */
export interface CommandArguments<O extends OptionSpecs> {
  values: OptionValues<O>;
  positionals: readonly string[];
}

/**
 * One command of the command line, declared once: help, options, settings and exit codes are all
 * printed from this, and the options are parsed from it.
 */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  /** As people run it through npm: `migrate:user`, `db:migrate`, `demo`, `local`. */
  script: string;
  /** The same without npm: `cli/migrate.ts user`. */
  entry: string;
  /** Positional arguments as usage writes them, e.g. `<pubkey>`. */
  args?: string;
  /** How many positional arguments it takes (default none). */
  maxPositionals?: number;
  /** One line, for the list of commands. */
  summary: string;
  /** What it does, in a few lines. */
  description: string;
  /** Its options besides `--help`, by key (`batchSize` is `--batch-size`). */
  options: O;
  /** The settings it reads, with this command's own line where the shared one does not fit. */
  settings: ReadonlyArray<SettingName | readonly [SettingName, string]>;
  /** A line under the settings, when there is more to say (e.g. where the demo's settings come from). */
  settingsNote?: string;
  exitCodes: ExitCodeHelp;
  /** Checks the arguments (throwing `InvalidInputError`) and returns the work; nothing is touched until it runs. */
  prepare(args: CommandArguments<O>): (io: CommandIO) => Promise<number>;
}

/** Declares a command, keeping its option types for `prepare`. */
export function defineCommand<O extends OptionSpecs>(command: Command<O>): Command<O> {
  return command;
}
