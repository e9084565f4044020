import type { MemoryPeak } from '../memory-sampler.js';
import { endToEnd } from './end-to-end.js';
import { naiveUpsert } from './naive-upsert.js';
import { reconcileBesideLoad, verifyAllBesideLoad } from './pass-beside-load.js';
import { pipeline } from './pipeline.js';
import { rawCopy } from './raw-copy.js';
import { scaleOut } from './scale-out.js';
import { sourceOnly } from './source-only.js';
import { switchUnderTraffic } from './switch.js';
import type { VariantOutput, VariantRun } from './variant.js';

export const variants = {
  'source-only': sourceOnly,
  pipeline,
  'raw-copy': rawCopy,
  'naive-upsert': naiveUpsert,
  'end-to-end': endToEnd,
  'scale-out-1': scaleOut(1),
  'scale-out-2': scaleOut(2),
  'scale-out-4': scaleOut(4),
  'no-switch': switchUnderTraffic(false),
  switch: switchUnderTraffic(true),
  'verify-all': verifyAllBesideLoad,
  reconcile: reconcileBesideLoad,
} satisfies Record<string, VariantRun>;

export type VariantName = keyof typeof variants;

/** What a variant's process reports, one JSON line on stdout: its timed output and its memory. */
export interface VariantMeasurement extends VariantOutput, MemoryPeak {
  variant: VariantName;
}
