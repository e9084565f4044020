import { endToEnd } from './end-to-end.js';
import { naiveUpsert } from './naive-upsert.js';
import { pipeline } from './pipeline.js';
import { rawCopy } from './raw-copy.js';
import { sourceOnly } from './source-only.js';
import type { VariantRun } from './variant.js';

export const variants = {
  'source-only': sourceOnly,
  pipeline,
  'raw-copy': rawCopy,
  'naive-upsert': naiveUpsert,
  'end-to-end': endToEnd,
} satisfies Record<string, VariantRun>;

export type VariantName = keyof typeof variants;

/** What a variant's process reports, one JSON line on stdout. */
export interface VariantMeasurement {
  variant: VariantName;
  documents: number;
  seconds: number;
  /** Bytes. */
  maxRss: number;
  /** Bytes. */
  maxHeapUsed: number;
  /** Bytes; 0 when the process could not force a collection. */
  maxLiveHeap: number;
  notes: string;
}
