import { errorAnswers, unexpectedAnswer } from '../../shared/core/errors.js';

/**
 * Exit codes of every command, taken from the one table of answers (`errorAnswers` in
 * shared/core/errors.ts), so a code is defined once for HTTP, the queue and the command line.
 */
export const ExitCode = {
  ok: 0,
  /** The work failed, found differences, or could not run here (settings, an unreachable database). */
  failed: unexpectedAnswer.exit,
  /** Bad arguments: nothing was touched. */
  usage: errorAnswers.INVALID_INPUT.exit,
  /** Ctrl-C (128 + SIGINT, as shells report it): stopped at a point from which the work can be resumed or rerun. */
  interrupted: errorAnswers.INTERRUPTED.exit,
} as const;
