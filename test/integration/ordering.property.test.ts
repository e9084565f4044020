import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChangeFeedMode } from '../../shared/config/change-feed-mode.js';
import type { PointReader } from '../../shared/cosmos/point-reads.js';
import { type DocumentType, documentTypeNames, documentTypes } from '../../shared/domain/document-types.js';
import { normalizeDocument, rowToDocument } from '../../shared/domain/mapping.js';
import { changeSetOf, readItem } from '../../shared/sync/change-feed-items.js';
import { resyncEntries } from '../../shared/sync/resync-documents.js';
import { applyChangeSet, resyncEntryOf } from '../../shared/sync/sync-change-batch.js';
import { applyDocuments } from '../../shared/write-path/apply-documents.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/**
 * Issue 9, "Done means" 2: whatever the interleaving of migration pages, sync batches and deletes, PostgreSQL ends
 * equal to Cosmos's final state, with no zombie and no stale row.
 *
 * Each generated history is a short life of one document of EVERY type in Cosmos: versions (often several in one
 * second, often without `modified`, so only their change-feed positions order them), deletes and re-creates. The
 * Cosmos side is a model (the log of changes, with `_ts`, `_etag`, `_lsn` and `crts` as Cosmos gives them); the
 * PostgreSQL side is the real database, written by the real write path. Against it run, in a generated order:
 * - migration pages: snapshots of some documents at some moment, with positions (read from the change feed) or
 *   without (read by a query), applied at that moment or any time later;
 * - sync batches: consecutive segments of the change feed in the history's mode (LatestVersion: the latest version
 *   of each document changed in the segment; AllVersionsAndDeletes: every change, deletes included), each delivered
 *   once or twice, on time or late (so out of order), directly or deferred (the resync's point read of the current
 *   state at delivery time, as the queue does). Every segment is delivered at least once: the change feed's tail
 *   always reaches a running sync.
 * Sync deliveries go through the sync's own code (`changeSetOf` and `applyChangeSet`, as `syncChangeBatch` runs
 * them; `resyncEntryOf` and `resyncEntries`, as the sync's deferral and the queue run them), with the model
 * answering the point reads Cosmos would (the current state at the moment of delivery).
 * LatestVersion mode carries no deletes, so its histories have none (a deleted document stays until verification
 * reports it: docs/deploy.md, change-feed modes).
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db?.drop());

type Doc = Record<string, unknown>;

/** A valid document of each type, around the fields that change from version to version. */
const bodies: Record<DocumentType, Doc> = {
  account: { type: 'account', tier: 'premium', subscription: { tier: 'premium' }, created: 1 },
  'account-settings': { type: 'account-settings', releaseChannel: 'stable', created: 1 },
  'backup-job': { type: 'backup-job', status: 'pending', backupType: 'full', requested: 1 },
  payment: {
    type: 'payment',
    paymentType: 'ln',
    lnHash: 'hash',
    lnInvoice: 'lnbc1',
    lnAmountSat: 1,
    tier: 'basic',
    billingCycle: 'monthly',
    priceCents: 1,
    isPaid: false,
    expires: 2,
    created: 1,
  },
  'notification-subscription': { type: 'notification-subscription', subscription: { endpoint: 'e' }, deviceKey: 'd', created: 1 },
  'notification-settings': { type: 'notification-settings', enabled: true, created: 1 },
  'notification-log': { type: 'notification-log', title: 't', created: 1 },
};

/** One change in Cosmos's history, as generated. */
interface Step {
  document: number;
  kind: 'write' | 'delete';
  /** Seconds the clock moves before this change: mostly 0, so versions share a second. */
  tick: 0 | 1;
  /** Whether this version says `modified` (where the type has it, it orders versions of one second). */
  withModified: boolean;
}

interface PageSpec {
  readAt: number;
  documents: boolean[];
  withPositions: boolean;
  delay: number;
  order: number;
}

interface DeliverySpec {
  delay: number;
  deferred: boolean;
  order: number;
}

interface History {
  mode: ChangeFeedMode;
  steps: Step[];
  pages: PageSpec[];
  /** Where the sync's segments end (positions in the log), besides the end of the log. */
  cuts: number[];
  deliveries: DeliverySpec[][];
}

const documentCount = documentTypeNames.length;

const historyArbitrary: fc.Arbitrary<History> = fc
  .record({
    mode: fc.constantFrom<ChangeFeedMode>('LatestVersion', 'AllVersionsAndDeletes'),
    steps: fc.array(
      fc.record({
        document: fc.nat({ max: documentCount - 1 }),
        kind: fc.constantFrom<Step['kind']>('write', 'write', 'delete'),
        tick: fc.constantFrom<Step['tick']>(0, 0, 1),
        withModified: fc.boolean(),
      }),
      { minLength: 2, maxLength: 14 },
    ),
  })
  .chain(({ mode, steps }) => {
    const log = mode === 'LatestVersion' ? steps.map((step) => ({ ...step, kind: 'write' as const })) : steps;
    const n = log.length;
    const position = fc.nat({ max: n });
    return fc.record({
      mode: fc.constant(mode),
      steps: fc.constant(log),
      pages: fc.array(
        fc.record({
          readAt: position,
          documents: fc.array(fc.boolean(), { minLength: documentCount, maxLength: documentCount }),
          withPositions: fc.boolean(),
          delay: position,
          order: fc.nat(),
        }),
        { maxLength: 4 },
      ),
      cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, n - 1) }), { maxLength: 4 }).map((cuts) => cuts.filter((cut) => cut < n)),
      deliveries: fc.array(
        fc.array(fc.record({ delay: position, deferred: fc.boolean(), order: fc.nat() }), { minLength: 1, maxLength: 2 }),
        { minLength: 5, maxLength: 5 },
      ),
    });
  });

/** A change in the model's log, as Cosmos records it. */
type Change =
  | { kind: 'write'; document: number; version: Doc }
  | { kind: 'delete'; document: number; previous: Doc; crts: number; lsn: number };

interface Model {
  changes: Change[];
  /** The documents' states after each change: `states[p]` is after the first p changes. */
  states: Array<Array<Doc | undefined>>;
  types: DocumentType[];
  ids: string[];
  pubkeys: string[];
}

/** Plays the history in the model: every change gets the next position and the clock's second. */
function playHistory(steps: readonly Step[]): Model {
  const run = randomBytes(6).toString('hex');
  const types = [...documentTypeNames];
  const pubkeys = types.map((_, index) => `${run}${index.toString(16).padStart(2, '0')}`.padEnd(64, '0'));
  const ids = types.map((type, index) => (documentTypes[type].key === 'pubkey' ? `${type}-${pubkeys[index]}` : `${type}-${run}`));
  const states: Array<Array<Doc | undefined>> = [types.map(() => undefined)];
  const changes: Change[] = [];
  let clock = 1_750_000_000;
  steps.forEach((step, index) => {
    clock += step.tick;
    const lsn = index + 1;
    const current = [...(states[index] as Array<Doc | undefined>)];
    const previous = current[step.document];
    if (step.kind === 'delete' && previous) {
      current[step.document] = undefined;
      changes.push({ kind: 'delete', document: step.document, previous, crts: clock, lsn });
    } else {
      const type = types[step.document] as DocumentType;
      const version: Doc = {
        id: ids[step.document],
        pubkey: pubkeys[step.document],
        ...bodies[type],
        version: lsn,
        _rid: `rid-${step.document}`,
        _etag: `"etag-${lsn}"`,
        _ts: clock,
        _lsn: lsn,
      };
      if (step.withModified) version.modified = clock * 1000 + lsn;
      current[step.document] = version;
      changes.push({ kind: 'write', document: step.document, version });
    }
    states.push(current);
  });
  return { changes, states, types, ids, pubkeys };
}

/** A version as a query or a point read returns it: no change-feed position. */
function withoutPosition(document: Doc): Doc {
  const { _lsn: _position, ...rest } = document;
  return rest;
}

/** The change feed's items for changes (from, to] as the trigger delivers them in `mode`. */
function feedItems(model: Model, mode: ChangeFeedMode, from: number, to: number): unknown[] {
  const segment = model.changes.slice(from, to);
  if (mode === 'AllVersionsAndDeletes') {
    return segment.map((change) =>
      change.kind === 'write'
        ? { current: change.version, metadata: { operationType: 'replace', crts: change.version._ts, lsn: change.version._lsn } }
        : {
            current: {},
            previous: change.previous,
            metadata: {
              operationType: 'delete',
              crts: change.crts,
              lsn: change.lsn,
              id: change.previous.id,
              partitionKey: { pubkey: change.previous.pubkey },
            },
          },
    );
  }
  // LatestVersion: each document changed in the segment once, at its latest version as of the segment's end.
  const state = model.states[to] as Array<Doc | undefined>;
  const changed = new Set(segment.map((change) => change.document));
  return [...changed].flatMap((document) => {
    const version = state[document];
    return version && (version._lsn as number) > from ? [version] : [];
  });
}

/** Cosmos's current state of a document at log position `at`, as a point read gives it. */
function pointRead(model: Model, at: number, id: string, pubkey: unknown): Doc | undefined {
  const state = model.states[at] as Array<Doc | undefined>;
  const found = state.find((document) => document?.id === id && document.pubkey === pubkey);
  return found ? withoutPosition(found) : undefined;
}

/** Point reads answered by the model as it stands at log position `at`. */
function readerAt(model: Model, at: number): PointReader {
  return (entries) => Promise.resolve(entries.map((entry) => ({ entry, document: pointRead(model, at, entry.id, entry.partitionKey) })));
}

/** The sync handler delivering a batch directly (`syncChangeBatch`'s steps). */
async function syncBatch(model: Model, at: number, items: unknown[], mode: ChangeFeedMode): Promise<void> {
  const changes = changeSetOf(items, mode);
  expect(changes.mismatched + changes.unreadable).toBe(0);
  await applyChangeSet(db.prisma, readerAt(model, at), changes);
}

/** A batch the sync deferred, as the queue applies it: each change's current state read at delivery. */
async function resyncBatch(model: Model, at: number, items: unknown[]): Promise<void> {
  await resyncEntries(db.prisma, readerAt(model, at), items.map(readItem).map(resyncEntryOf));
}

interface Action {
  at: number;
  order: number;
  run: () => Promise<void>;
}

function actionsOf(history: History, model: Model): Action[] {
  const n = model.changes.length;
  const actions: Action[] = history.pages.map((page) => {
    const readAt = Math.min(page.readAt, n);
    const snapshot = (model.states[readAt] as Array<Doc | undefined>).flatMap((document, index) =>
      document && page.documents[index] ? [page.withPositions ? document : withoutPosition(document)] : [],
    );
    return {
      at: Math.max(readAt, Math.min(page.delay, n)),
      order: page.order,
      run: async () => {
        await applyDocuments(db.prisma, snapshot, { source: 'migration' });
      },
    };
  });
  const ends = [...history.cuts.filter((cut) => cut < n).sort((a, b) => a - b), n];
  ends.forEach((end, index) => {
    const start = index === 0 ? 0 : (ends[index - 1] as number);
    const items = feedItems(model, history.mode, start, end);
    const deliveries = history.deliveries[index] ?? [{ delay: end, deferred: false, order: 0 }];
    for (const delivery of deliveries) {
      const at = Math.max(end, Math.min(delivery.delay, n));
      actions.push({
        at,
        order: delivery.order,
        run: () => (delivery.deferred ? resyncBatch(model, at, items) : syncBatch(model, at, items, history.mode)),
      });
    }
  });
  return actions.sort((a, b) => a.at - b.at || a.order - b.order);
}

async function expectCosmosFinalState(model: Model): Promise<void> {
  const final = model.states[model.changes.length] as Array<Doc | undefined>;
  for (const [index, type] of model.types.entries()) {
    const { rows } = await db.pool.query<Doc>(`SELECT * FROM "${documentTypes[type].table}" WHERE "id" = $1`, [model.ids[index]]);
    const expected = final[index];
    if (!expected) {
      expect(rows, `${type}: deleted in Cosmos, so no row (a zombie otherwise)`).toEqual([]);
      continue;
    }
    expect(rows, `${type}: in Cosmos, so one row`).toHaveLength(1);
    expect(normalizeDocument(rowToDocument(type, rows[0] as Doc)), `${type}: the row holds Cosmos's final version`).toEqual(
      normalizeDocument(expected),
    );
  }
  const { rows } = await db.pool.query('SELECT "key", "reason" FROM "quarantine" WHERE "pubkey" = ANY($1::text[])', [model.pubkeys]);
  expect(rows, 'valid documents are never quarantined').toEqual([]);
}

it('ends with PostgreSQL equal to Cosmos for any interleaving of pages, batches and deletes (500 histories)', async () => {
  await fc.assert(
    fc.asyncProperty(historyArbitrary, async (history) => {
      const model = playHistory(history.steps);
      for (const action of actionsOf(history, model)) await action.run();
      await expectCosmosFinalState(model);
    }),
    { numRuns: 500 },
  );
}, 600_000);
