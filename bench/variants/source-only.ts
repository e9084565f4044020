import { documentToRow } from '../../shared/domain/mapping.js';
import { benchDocuments } from '../document-stream.js';
import type { VariantRun } from './variant.js';

/**
 * Generating and mapping the documents, writing nothing: the floor under every other variant, which
 * all pay for it too. A write path cannot be faster than this.
 */
export const sourceOnly: VariantRun = ({ documents, sampler }) => {
  const started = performance.now();
  let mapped = 0;
  for (const document of benchDocuments(documents)) {
    if (documentToRow(document).ok) mapped += 1;
    if (mapped % 1000 === 0) sampler.sample();
  }
  return Promise.resolve({ documents, seconds: (performance.now() - started) / 1000, notes: `${mapped} mappable` });
};
