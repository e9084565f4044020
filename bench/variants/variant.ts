import type { MemorySampler } from '../memory-sampler.js';

export interface VariantInput {
  /** Documents to push through. */
  documents: number;
  /** A fresh, migrated database of the variant's own (unused by `source-only`). */
  databaseUrl: string;
  /** Documents per write (pipeline) or per Cosmos page (end-to-end). */
  batchSize: number;
  sampler: MemorySampler;
  /** PostgreSQL connections the variant writes through at once (the pipeline's lanes; raw-copy uses as many). */
  connections: number;
}

export interface VariantOutput {
  documents: number;
  /** Seconds of the measured part only (setup such as loading Cosmos is left out). */
  seconds: number;
  notes: string;
  /** User + system CPU of the variant's process during the measured part, seconds. */
  clientCpuSeconds?: number;
  /** CPU of the PostgreSQL backends serving the variant during the measured part, seconds; null where unreadable. */
  serverCpuSeconds?: number | null;
  /** Figures of its own that the report compares (the switch's pauses, say). */
  figures?: Record<string, number>;
  /** Request units its Cosmos reads were charged (variants that read the Cosmos double). */
  requestUnits?: number;
  /** What the variant ran first, on the same documents, to be printed beside it (a pass beside the full load). */
  baseline?: { label: string; documents: number; seconds: number; requestUnits: number };
}

/** One way of getting the documents into PostgreSQL. Runs in a process of its own and times itself. */
export type VariantRun = (input: VariantInput) => Promise<VariantOutput>;
