import { generateDataset } from '../dev/sample-data/generate-documents.js';
import type { CosmosDocument } from '../shared/domain/mapping.js';

/** One second in the benchmark's fixed "now": the `_ts` every generated document gets. */
const benchTs = Date.UTC(2026, 5, 30) / 1000;

/**
 * The benchmark's data: the first `count` documents of the seeded, messy dataset, with the system
 * properties Cosmos adds (`_ts`, `_etag`), so every variant writes exactly the same rows. Generated
 * as it is consumed; nothing holds the whole set.
 */
export function* benchDocuments(count: number, seed = 1): Generator<CosmosDocument> {
  let produced = 0;
  for (const document of generateDataset({ users: Number.MAX_SAFE_INTEGER, seed })) {
    if (produced === count) return;
    yield { ...document, _ts: benchTs, _etag: `"bench-${seed}-${produced}"` };
    produced += 1;
  }
}

/**
 * The same documents as {@link benchDocuments}, all generated before a variant's clock starts, so that no
 * variant pays for (or is limited by) the generator: every variant of a run gets this very input. Each is
 * parsed from its JSON text, as the Cosmos SDK hands documents over: the generator builds strings by
 * concatenation, which V8 keeps as rope strings until first read in full, and the variant that read them
 * first would pay for flattening them (~25% of the mapping's time).
 */
export function generateBenchDocuments(count: number, seed = 1): CosmosDocument[] {
  return Array.from(benchDocuments(count, seed), (document) => JSON.parse(JSON.stringify(document)) as CosmosDocument);
}
