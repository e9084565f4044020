import cliProgress from 'cli-progress';

/** One step of a long job: what it is working on and how far it got. */
export interface ProgressUpdate {
  /** What is being worked on, e.g. "Accounts"; a new label starts a new bar or line. */
  label: string;
  done: number;
  /** Unknown while the source has not been counted. */
  total?: number;
  /** Short running counters, e.g. "1,200 written, 3 quarantined". */
  detail?: string;
}

export interface ProgressReporter {
  update(progress: ProgressUpdate): void;
  /** A line of its own, printed without tearing a bar. */
  log(line: string): void;
  /** Finishes the current bar or prints the last line. */
  stop(): void;
}

/** Where progress goes: a terminal gets a redrawn bar, anything else plain lines. */
export type OutputStream = NodeJS.WritableStream & { isTTY?: boolean };

export interface ProgressReporterOptions {
  stream?: OutputStream;
  /** A redrawn bar; defaults to whether the stream is a terminal. */
  interactive?: boolean;
  /** Plain mode prints at most one line per label this often (ms), plus the first and the last. */
  intervalMs?: number;
  /**
   * Once aborted (Ctrl-C), the bar is finished and later updates are dropped: the work winding down
   * must not draw over the messages that say it is stopping.
   */
  signal?: AbortSignal;
}

/**
 * Progress on stderr, so stdout carries only the result (`--json` output stays parseable).
 * On a terminal a bar per label; otherwise (CI, pipes, files) a plain line now and then, since a
 * redrawn bar there is a wall of carriage returns.
 */
export function createProgressReporter(options: ProgressReporterOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? stream.isTTY === true;
  const reporter = interactive ? new BarReporter(stream as NodeJS.WriteStream) : new LineReporter(stream, options.intervalMs ?? 2000);
  const signal = options.signal;
  if (!signal) return reporter;
  signal.addEventListener('abort', () => reporter.stop(), { once: true });
  return {
    update: (progress) => {
      if (!signal.aborted) reporter.update(progress);
    },
    log: (line) => reporter.log(line),
    stop: () => reporter.stop(),
  };
}

class BarReporter implements ProgressReporter {
  #bar: cliProgress.SingleBar | undefined;
  #label: string | undefined;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(progress: ProgressUpdate): void {
    const total = Math.max(progress.total ?? progress.done, progress.done, 1);
    const payload = { label: progress.label, detail: progress.detail ?? '' };
    if (this.#label !== progress.label || !this.#bar) {
      this.#bar?.stop();
      this.#bar = new cliProgress.SingleBar(
        {
          stream: this.stream,
          format: '{label} [{bar}] {percentage}% | {value}/{total} | {detail}',
          hideCursor: true,
          formatValue: (value, _options, type) => (type === 'value' || type === 'total' ? value.toLocaleString('en-US') : String(value)),
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(total, progress.done, payload);
      this.#label = progress.label;
      return;
    }
    this.#bar.setTotal(total);
    this.#bar.update(progress.done, payload);
  }

  log(line: string): void {
    if (this.#bar) {
      this.#bar.stop();
      this.#bar = undefined;
      this.#label = undefined;
    }
    this.stream.write(`${line}\n`);
  }

  stop(): void {
    this.#bar?.stop();
    this.#bar = undefined;
    this.#label = undefined;
  }
}

class LineReporter implements ProgressReporter {
  #last: ProgressUpdate | undefined;
  #lastLine: string | undefined;
  #printedAt = 0;

  constructor(
    private readonly stream: OutputStream,
    private readonly intervalMs: number,
  ) {}

  update(progress: ProgressUpdate): void {
    const newLabel = this.#last?.label !== progress.label;
    if (newLabel) this.#flush();
    this.#last = progress;
    const now = Date.now();
    const finished = progress.total !== undefined && progress.done >= progress.total;
    if (newLabel || finished || now - this.#printedAt >= this.intervalMs) this.#print(progress, now);
  }

  log(line: string): void {
    this.stream.write(`${line}\n`);
  }

  stop(): void {
    this.#flush();
    this.#last = undefined;
    this.#lastLine = undefined;
  }

  /** The label's last state, unless that is what was printed last. */
  #flush(): void {
    if (this.#last) this.#print(this.#last, Date.now());
  }

  /** Prints the state, unless the same line was the last one printed. */
  #print(progress: ProgressUpdate, now: number): void {
    const count = progress.done.toLocaleString('en-US');
    const of = progress.total === undefined ? '' : ` of ${progress.total.toLocaleString('en-US')}`;
    const percent = progress.total ? ` (${Math.min(100, (progress.done * 100) / progress.total).toFixed(1)}%)` : '';
    const detail = progress.detail ? `: ${progress.detail}` : '';
    const line = `${progress.label}: ${count}${of}${percent}${detail}`;
    if (line === this.#lastLine) return;
    this.stream.write(`${line}\n`);
    this.#lastLine = line;
    this.#printedAt = now;
  }
}
