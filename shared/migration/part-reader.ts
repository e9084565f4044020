import type { Container } from '@azure/cosmos';
import { ChangeFeedReader, type ChangeFeedStart } from '../cosmos/change-feed-reader.js';
import { readDocumentPage } from '../cosmos/document-source.js';
import { parseRangeKey } from '../cosmos/feed-ranges.js';
import { documentTypeOf } from '../domain/document-types.js';
import type { PageProgress, ReadCost } from './checkpoints.js';
import type { ReadSettings } from './read-budget.js';
import { type RunPart, type RunScope, readerOf } from './runs.js';

/**
 * Reading one part of a run, page after page, whatever the part is. The engine's loop and the queue's
 * page step both read through this, so both read a part the same way:
 * - a feed range, through the change feed in LatestVersion mode from the beginning (or from the position
 *   an incremental run starts at): each document once, at its latest version, with its `_lsn`; the part is
 *   done at its first 304. A run by type keeps only its types' documents (aliases included) and leaves the
 *   others alone, uncounted: whole types are read this way rather than with a cross-partition query,
 *   because @azure/cosmos 4.9.3 cannot reliably resume one of those in a new iterator (see
 *   cosmos/document-source.ts), and a run must resume after any page, in any process;
 * - one user's partition (`all`, or a type of theirs), with a single-partition query whose continuation
 *   token resumes in a new iterator as documented.
 */

export interface PartPage extends PageProgress, ReadCost {}

export interface PartReader {
  /** The next page and where the part stands after it. */
  read(): Promise<PartPage>;
}

export interface PartReadOptions extends ReadSettings {
  /** Documents per page at most. */
  batchSize: number;
  onThrottle?: (event: { attempt: number; waitMs: number }) => void;
}

/**
 * A reader of `part` starting at `continuation` (null: the part's start, which for a change-feed part is
 * the continuation its run's scope names, else the beginning of the change feed).
 */
export function partReader(
  container: Container,
  scope: RunScope,
  part: RunPart,
  continuation: string | null,
  options: PartReadOptions,
): PartReader {
  if (readerOf(scope) === 'change-feed') return changeFeedPart(container, scope, part, continuation, options);
  return userPart(container, scope, part, continuation, options);
}

function changeFeedPart(
  container: Container,
  scope: RunScope,
  part: RunPart,
  continuation: string | null,
  options: PartReadOptions,
): PartReader {
  const range = parseRangeKey(part);
  if (!range) throw new Error(`part ${part} of a change-feed run is not a feed range`);
  const from = continuation ?? scope.start?.[part];
  const start: ChangeFeedStart = from ? { from: 'continuation', continuation: from } : { from: 'beginning' };
  const reader = new ChangeFeedReader(container, range, start, {
    maxItemCount: options.batchSize,
    mode: 'LatestVersion',
    budget: options.budget,
    priorityLevel: options.priorityLevel,
    onThrottle: options.onThrottle,
  });
  const types = scope.types ? new Set<string>(scope.types) : undefined;
  return {
    read: async () => {
      const page = await reader.read();
      // Latest-version items are the documents as stored, `_lsn` included; anything else is quarantined by the write path.
      const documents = page.items as Record<string, unknown>[];
      return {
        documents: types ? documents.filter((document) => types.has(documentTypeOf(document.type) ?? '')) : documents,
        next: { continuation: page.continuation, done: page.caughtUp },
        requestCharge: page.requestCharge,
        throttled: page.throttled,
      };
    },
  };
}

function userPart(container: Container, scope: RunScope, part: RunPart, continuation: string | null, options: PartReadOptions): PartReader {
  const { pubkey } = scope;
  if (pubkey === undefined) {
    throw new Error(
      `run part ${part} reads a whole type with a query, as runs recorded before the change feed was read did: start a new run`,
    );
  }
  const type = part === 'all' ? undefined : documentTypeOf(part);
  if (part !== 'all' && !type) throw new Error(`part ${part} of a user's run is not a document type`);
  let at = continuation ?? undefined;
  return {
    read: async () => {
      const page = await readDocumentPage(container, { type, pubkey }, { ...options, continuation: at });
      at = page.continuation;
      return {
        documents: page.documents,
        next: { continuation: page.done ? null : (page.continuation ?? null), done: page.done },
        requestCharge: page.requestCharge,
        throttled: page.throttled,
      };
    },
  };
}
