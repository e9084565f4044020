import { generateDataset } from './generate-documents.js';
import { generateInvalidDocuments } from './generate-invalid-documents.js';

/**
 * The demo's Cosmos contents: a generated Nostria dataset with its messy cases (null and absent
 * optionals, unmodeled fields, legacy `user-settings`, payments without an account...), followed by
 * one deliberately broken document per way real data goes wrong, which the migration must quarantine.
 *
 * The broken ones are built from another seed's first user and get an id suffix of their own, so they
 * neither overwrite the dataset's documents nor each other. Those whose id itself is what is broken keep it.
 */
export function* demoDocuments(users: number, seed: number): Generator<Record<string, unknown>> {
  yield* generateDataset({ users, seed });
  let index = 0;
  for (const broken of generateInvalidDocuments(seed + 1)) {
    index += 1;
    const document = broken.document;
    if (broken.field !== 'id' && typeof document.id === 'string') document.id = `${document.id}-broken-${index}`;
    yield document;
  }
}
