import { documentToRow } from '../../shared/domain/mapping.js';
import { generateBenchDocuments } from '../document-stream.js';
import { Stopwatch } from '../stopwatch.js';
import type { VariantRun } from './variant.js';

/**
 * Mapping and validation alone (`documentToRow`: the storability walk, the zod schema, the row), on one
 * core, writing nothing, over documents generated beforehand: what every write path pays per document
 * before PostgreSQL sees anything.
 */
export const sourceOnly: VariantRun = async ({ documents, sampler }) => {
  const input = generateBenchDocuments(documents);
  sampler.markInput();
  // One untimed pass first, so the figure is the warm (JIT-compiled) mapping, as in a long migration.
  for (const document of input) documentToRow(document);
  const stopwatch = await Stopwatch.create();
  await stopwatch.start();
  let mapped = 0;
  for (const document of input) {
    if (documentToRow(document).ok) mapped += 1;
    if (mapped % 1000 === 0) sampler.sample();
  }
  return { documents, ...(await stopwatch.stop()), notes: `${mapped} mappable` };
};
