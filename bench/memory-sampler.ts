/** Peak memory of this process while a variant runs. */
export interface MemoryPeak {
  /** Resident set size, bytes: the OS's own high-water mark (`process.resourceUsage().maxRSS`). */
  maxRss: number;
  /** Largest V8 heap in use seen by sampling, bytes; includes garbage not yet collected. */
  maxHeapUsed: number;
  /** Largest heap still in use right after a full garbage collection, bytes: what the variant holds on to. */
  maxLiveHeap: number;
  /**
   * Live heap right after the input was generated (see {@link MemorySampler.markInput}), bytes: the documents
   * every variant is handed before its clock starts. `maxLiveHeap` minus this is what the variant itself holds.
   */
  inputHeap: number;
  /** Whether the live heap was read during the run (forced collections, see {@link MemorySampler}), or only at its ends. */
  liveHeapSampled: boolean;
}

type Collect = () => void;

/**
 * Samples `heapUsed` every few milliseconds and at the variant's batch boundaries (`sample()`), and, when
 * given `liveEvery`, every `liveEvery` calls of `sample()` forces a full collection (the process runs with
 * --expose-gc) to read the live heap: the figure that shows whether memory grows with the number of
 * documents, since a sampled peak mostly tells how lazily V8 collects. A forced collection walks the whole
 * input held in memory, so a run that samples the live heap is for memory, not for speed. Each variant
 * runs in its own process, so `maxRSS` is that variant's alone.
 */
export class MemorySampler {
  #maxHeapUsed = 0;
  #maxLiveHeap = 0;
  #inputHeap = 0;
  #calls = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #collect: Collect | undefined = (globalThis as { gc?: Collect }).gc;

  constructor(private readonly liveEvery?: number) {
    this.#timer = setInterval(() => this.#sampleHeap(), 20);
    this.#timer.unref();
    this.#sampleHeap();
  }

  /** Call at a batch boundary, where the heap holds the most. */
  sample(): void {
    this.#sampleHeap();
    this.#calls += 1;
    if (this.liveEvery !== undefined && this.#calls % this.liveEvery === 0) this.#sampleLive();
  }

  /** Call once the input is in memory and before the clock starts: records what the input itself holds. */
  markInput(): void {
    if (!this.#collect) return;
    this.#collect();
    this.#inputHeap = process.memoryUsage().heapUsed;
    // From here on, the live heap is the run's: the largest reading may be below the input's own.
    this.#maxLiveHeap = 0;
  }

  stop(): MemoryPeak {
    clearInterval(this.#timer);
    this.#sampleHeap();
    this.#sampleLive();
    return {
      maxRss: process.resourceUsage().maxRSS * 1024,
      maxHeapUsed: this.#maxHeapUsed,
      maxLiveHeap: this.#maxLiveHeap,
      inputHeap: this.#inputHeap,
      liveHeapSampled: this.liveEvery !== undefined,
    };
  }

  #sampleHeap(): void {
    this.#maxHeapUsed = Math.max(this.#maxHeapUsed, process.memoryUsage().heapUsed);
  }

  #sampleLive(): void {
    if (!this.#collect) return;
    this.#collect();
    this.#maxLiveHeap = Math.max(this.#maxLiveHeap, process.memoryUsage().heapUsed);
  }
}
