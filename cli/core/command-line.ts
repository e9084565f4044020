import { InvalidInputError } from '../../shared/core/errors.js';
import { type OptionSpec, type OptionSpecs, type OptionValues, quote } from './options.js';

/**
 * The one argument parser. It knows each command's options, so a value that starts with a dash
 * (`--max-ru -5`) is read as that option's value and judged by the option's own parser, and every
 * problem (unknown option, missing value, extra argument) is one plain `InvalidInputError` naming the
 * argument, like any other bad value. `util.parseArgs` is not used: its messages are written for
 * programmers and cannot be told that `-5` is a value.
 */

export interface ParsedCommandLine<O extends OptionSpecs> {
  /** `-h` or `--help` was given: nothing else is checked. */
  help: boolean;
  values: OptionValues<O>;
  positionals: string[];
}

/** Reads `argv` against `options`; at most `maxPositionals` positional arguments (everything after `--` is positional). */
export function parseCommandLine<O extends OptionSpecs>(argv: readonly string[], options: O, maxPositionals: number): ParsedCommandLine<O> {
  if (argv.some((arg) => arg === '--help' || arg === '-h')) return { help: true, values: defaults(options), positionals: [] };
  const values: Record<string, unknown> = defaults(options);
  const positionals: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals > 0 ? arg.slice(0, equals) : arg;
    const key = optionKey(name, options);
    const spec = options[key] as OptionSpec;
    if (spec.kind === 'flag') {
      if (equals > 0) throw new InvalidInputError(name, `takes no value, got ${quote(arg.slice(equals + 1))}`);
      values[key] = true;
      continue;
    }
    let text: string | undefined;
    if (equals > 0) {
      text = arg.slice(equals + 1);
    } else {
      text = argv[index + 1];
      index += 1;
    }
    if (text === undefined) throw new InvalidInputError(name, `missing value; expected ${spec.placeholder}`);
    values[key] = spec.parse(text, name);
  }
  const extra = positionals[maxPositionals];
  if (extra !== undefined) throw new InvalidInputError(quote(extra), 'unexpected argument');
  return { help: false, values: values as OptionValues<O>, positionals };
}

/** `--batch-size` for key `batchSize` or `batch-size`; unknown names are refused with the list of known ones. */
function optionKey(name: string, options: OptionSpecs): string {
  const key = Object.keys(options).find((candidate) => optionName(candidate) === name);
  if (key) return key;
  const known = ['--help', ...Object.keys(options).map(optionName)].join(', ');
  throw new InvalidInputError(name, `unknown option (this command takes ${known})`);
}

/** The command-line name of an option key: `batchSize` is `--batch-size`. */
export function optionName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;
}

function defaults<O extends OptionSpecs>(options: O): OptionValues<O> {
  return Object.fromEntries(
    Object.entries(options).map(([key, spec]) => [key, spec.kind === 'flag' ? false : undefined]),
  ) as OptionValues<O>;
}

/** The help line of an option: `--batch-size <n>` and its text, aligned. */
export function optionHelpLine(key: string, spec: OptionSpec): string {
  const short = spec.kind === 'flag' && spec.short ? `-${spec.short}, ` : '';
  const name = `${short}${optionName(key)}${spec.kind === 'value' ? ` ${spec.placeholder}` : ''}`;
  return `${name.padEnd(19)}${spec.help}`;
}
