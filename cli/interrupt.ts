/** Exit code of a process stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const interruptedExitCode = 130;

export interface InterruptWatch {
  /** Aborted at the first Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
  /** Stops listening; call when the work is over. */
  dispose(): void;
}

/**
 * First Ctrl-C: ask the work to stop at its next safe point (after the batch being written, so the
 * checkpoint is consistent) and tell the user so. Second Ctrl-C: leave at once; the checkpoint still
 * holds, since each batch commits with it.
 */
export function watchInterrupt(announce: (line: string) => void): InterruptWatch {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      announce('Stopping now.');
      process.exit(interruptedExitCode);
    }
    announce(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping after the current batch (press Ctrl-C again to stop at once).`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
