import { InterruptedError, throwIfInterrupted } from '../../shared/core/errors.js';

/** Where Ctrl-C comes from: the process, or an emitter a test drives. */
export interface SignalSource {
  on(event: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface InterruptWatch {
  /** Aborted at the first Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
  /** Stops listening; call when the command is over. */
  dispose(): void;
}

/**
 * One Ctrl-C can arrive more than once: a terminal signals the whole process group, and `npm run` and
 * tsx's launcher each pass it on to their child as well. Repeats this soon after the first are the same key press.
 */
const sameKeyPressMs = 1000;

/**
 * First Ctrl-C: abort the signal, so the work stops at its next safe point (a migration after the
 * page being written, whose checkpoint commits with it), and say so. Second Ctrl-C: `force`, which
 * cleans up what must not be left behind and leaves at once.
 */
export function watchInterrupts(source: SignalSource, announce: (line: string) => void, force: () => void): InterruptWatch {
  const controller = new AbortController();
  let firstAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (Date.now() - firstAt < sameKeyPressMs) return;
      announce('Stopping now.');
      force();
      return;
    }
    firstAt = Date.now();
    const name = signal === 'SIGINT' ? 'Ctrl-C' : signal;
    // Aborting first lets progress bars finish before the announcement is written under them.
    controller.abort(new Error(`stopped by ${name}`));
    announce(`${name}: stopping at the next safe point (press Ctrl-C again to stop at once).`);
  };
  source.on('SIGINT', onSignal);
  source.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      source.off('SIGINT', onSignal);
      source.off('SIGTERM', onSignal);
    },
  };
}

/**
 * `work`, or `InterruptedError` as soon as `signal` aborts, for work that may simply be dropped (reads,
 * and verification, whose repair writes are idempotent): what it was doing is abandoned, and fails
 * quietly once the command closes its clients.
 */
export async function untilInterrupted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  // The abandoned work's own failure, later, is expected and not worth an unhandled rejection.
  work.catch(() => undefined);
  throwIfInterrupted(signal);
  let onAbort: (() => void) | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    onAbort = () => reject(interruptionOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, interrupted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** The `InterruptedError` an aborted signal stands for. */
export function interruptionOf(signal: AbortSignal): InterruptedError {
  try {
    throwIfInterrupted(signal);
  } catch (error) {
    if (error instanceof InterruptedError) return error;
  }
  return new InterruptedError('stopped');
}

/** Resolves once `signal` aborts; at once if it already has, since the abort event fires only for listeners already there. */
export function whenAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** Whether `signal` is aborted now or within `ms`: a signal that is already on its way is waited for. */
export async function abortedWithin(signal: AbortSignal, ms: number): Promise<boolean> {
  if (signal.aborted) return true;
  let onAbort: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    onAbort = resolve;
    timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  clearTimeout(timer);
  if (onAbort) signal.removeEventListener('abort', onAbort);
  return signal.aborted;
}
