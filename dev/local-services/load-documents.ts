import { BulkOperationType, type Container, type JSONObject, type UpsertOperationInput } from '@azure/cosmos';
import { throwIfInterrupted } from '../../shared/core/errors.js';

export interface LoadResult {
  /** Documents the container accepted. */
  loaded: number;
  /** Documents Cosmos refused (e.g. no id), with the status it answered. */
  refused: Array<{ id: unknown; statusCode: number }>;
}

export interface LoadOptions {
  /** Operations per bulk request (Cosmos allows at most 100). */
  chunkSize?: number;
  /** Called after each chunk with the running count of loaded documents. */
  onProgress?: (loaded: number) => void;
  /** Checked before each chunk: once aborted, loading stops with `InterruptedError`. */
  signal?: AbortSignal;
}

/**
 * Upserts documents into a container with `items.bulk`, a chunk at a time, so a generated stream is
 * never held in memory whole. Documents Cosmos refuses are reported, not thrown: the demo loads
 * deliberately broken documents, and some of those the source itself would never have accepted.
 */
export async function loadDocuments(
  container: Container,
  documents: Iterable<Record<string, unknown>>,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const chunkSize = Math.min(options.chunkSize ?? 100, 100);
  const result: LoadResult = { loaded: 0, refused: [] };
  let chunk: UpsertOperationInput[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    throwIfInterrupted(options.signal);
    const operations = chunk;
    chunk = [];
    // The older `bulk` on purpose: it takes each operation's partition key from the document, as Cosmos does,
    // while `executeBulkOperations` demands one up front, and the sample data deliberately holds documents
    // whose pubkey is missing or not a string.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    const responses = await container.items.bulk(operations, { continueOnError: true });
    responses.forEach((response, index) => {
      if (response.statusCode >= 200 && response.statusCode < 300) result.loaded += 1;
      else result.refused.push({ id: operations[index]?.resourceBody.id, statusCode: response.statusCode });
    });
    options.onProgress?.(result.loaded);
  };
  for (const document of documents) {
    if (typeof document.id !== 'string' || document.id.length === 0) {
      // Not sent: the SDK would invent an id, making a broken document a valid one. Cosmos answers 400 to
      // an id that is missing, empty or not a string, so that is what is recorded.
      result.refused.push({ id: document.id, statusCode: 400 });
      continue;
    }
    chunk.push({ operationType: BulkOperationType.Upsert, resourceBody: document as JSONObject });
    if (chunk.length >= chunkSize) await flush();
  }
  await flush();
  return result;
}
