import { withRetries } from '../core/retry.js';
import { type DocumentType, documentTypeNames, documentTypes } from '../domain/document-types.js';
import { documentToRow, type Row, rowToDocument } from '../domain/mapping.js';
import {
  compareVersions,
  findNewerRows,
  type RowHolder,
  type RowOutcome,
  rowKey,
  type SqlClient,
  upsertRows,
} from '../postgres/bulk-upsert.js';
import type { Prisma } from '../postgres/generated/prisma/client.js';
import {
  describePostgresError,
  isRowDataError,
  isTransientPostgresError,
  sqlStateOf,
  UNIQUE_VIOLATION,
} from '../postgres/postgres-errors.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { type QuarantineEntry, type QuarantineSource, quarantineEntry, saveQuarantine } from './quarantine.js';

/**
 * THE write path from Cosmos documents to PostgreSQL, shared by the migration, the change-feed sync and
 * verification's repair, so all three obey the same rules and can run at the same time in any order:
 * - each document is mapped (`documentToRow`); one that cannot be is quarantined with the reason;
 * - rows are written per type with one set-based statement per chunk (`upsertRows`), version-guarded:
 *   an older version never replaces a newer row, and re-applying a version changes nothing;
 * - identity guard: in a pubkey-keyed table (accounts, user_settings, notification_settings) a second
 *   document of the same pubkey with another id does not silently overwrite: the older of the two is
 *   quarantined with a reason naming the other (the newer one, arriving second, moves the older row
 *   there). An id already held by another pubkey's row is quarantined, never overwritten;
 * - a successful write clears the document's quarantine entry (unless that entry is a newer version);
 * - everything for one call (rows, quarantine, the caller's `beforeCommit`) commits in ONE transaction,
 *   retried whole on transient PostgreSQL errors only. Pass pages, not containers.
 */

export interface ApplyOptions {
  /** Recorded on quarantine entries. */
  source: QuarantineSource;
  /** Classify every document as a write would, without writing anything (the quarantine included). */
  dryRun?: boolean;
  /** Insert new rows only; documents whose row exists are counted as `skipped`. */
  skipExisting?: boolean;
  /** Rows per statement. Default 2000: big enough to amortise a round trip, small enough to keep lock times short. */
  chunkSize?: number;
  /**
   * Runs inside the transaction, after the writes and before the commit (not in a dry run): a migration
   * saves its checkpoint here, so a page's rows and its checkpoint commit together or not at all.
   */
  beforeCommit?: (tx: Prisma.TransactionClient, result: ApplyResult) => Promise<void>;
}

/**
 * Per-document outcome counts; they add up to the number of documents given.
 * - `written`: inserted or updated;
 * - `unchanged`: the table already holds this version or a newer one (or a newer copy came later in
 *   the same call), and an unmappable version older than the stored row;
 * - `skipped`: `skipExisting` and the row exists;
 * - `quarantined`: unmappable, or stopped by the identity guard;
 * - `failed`: refused by PostgreSQL for a reason in the row itself (a value out of range, a constraint);
 *   such a document is still saved in the quarantine with the database's reason, so it is accounted for.
 * `displaced` counts rows of *other* documents moved from a pubkey-keyed table to the quarantine because
 * a newer document of the same pubkey took their place (they are not among the documents given).
 */
export interface ApplyResult {
  written: number;
  unchanged: number;
  skipped: number;
  quarantined: number;
  failed: number;
  displaced: number;
  /** Quarantine keys (`quarantineKey`) of the documents given that were quarantined, and of those that failed. */
  quarantinedKeys: string[];
  failedKeys: string[];
  /** Quarantine keys of the displaced rows' documents. */
  displacedKeys: string[];
}

const defaultChunkSize = 2000;
/** Re-applications of rows a concurrent writer inserted under us, before giving the whole call another try. */
const raceRounds = 3;

/** Rows that kept losing races with concurrent writers: the whole call is retried. */
class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

interface Candidate {
  index: number;
  document: unknown;
  row: Row;
}

interface Unmappable {
  index: number;
  document: unknown;
  reason: string;
  type?: DocumentType;
}

/** What the documents become before any I/O: rows to write per type, in rounds, and the unmappable. */
interface Plan {
  roundsByType: Map<DocumentType, Candidate[][]>;
  unmappable: Unmappable[];
  /** Older copies of a document that a newer copy in the same call supersedes. */
  superseded: number;
}

function plan(documents: readonly unknown[]): Plan {
  const candidates = new Map<DocumentType, Candidate[]>();
  const unmappable: Unmappable[] = [];
  documents.forEach((document, index) => {
    const mapped = documentToRow(document);
    if (!mapped.ok) {
      unmappable.push({ index, document, reason: mapped.reason, type: mapped.type });
      return;
    }
    const list = candidates.get(mapped.type) ?? [];
    list.push({ index, document, row: mapped.row });
    candidates.set(mapped.type, list);
  });
  const result: Plan = { roundsByType: new Map(), unmappable, superseded: 0 };
  // Tables in one fixed order, so concurrent calls lock rows in the same order (no deadlocks between them).
  for (const type of documentTypeNames) {
    const list = candidates.get(type);
    if (list) result.roundsByType.set(type, schedule(type, list, result));
  }
  return result;
}

/**
 * Orders one type's rows into rounds that, written one after another, have the effect of applying the
 * documents one by one: only the newest copy of each document is kept; then documents competing for
 * one row (two documents of a pubkey in a pubkey-keyed table, or one id claimed by two pubkeys) go to
 * successive rounds, newest first (first claimant first, for an id), and the database's guard decides
 * each later one exactly as it would have one by one. Within a round no two rows share a key (nor, in
 * a pubkey-keyed table, an id), which one statement requires; each round is sorted by key, so that
 * concurrent writers lock rows in the same order. Almost always there is a single round.
 */
function schedule(type: DocumentType, list: Candidate[], result: Plan): Candidate[][] {
  const byPubkey = documentTypes[type].key === 'pubkey';
  const newest = new Map<string, Candidate>();
  for (const candidate of list) {
    const identity = `${candidate.row.pubkey}/${candidate.row.id}`;
    const current = newest.get(identity);
    if (current) result.superseded += 1;
    // Ties go to the later one: equal versions applied one after another leave the last.
    if (!current || compareVersions(type, candidate.row, current.row) >= 0) newest.set(identity, candidate);
  }

  const byKey = new Map<string, Candidate[]>();
  for (const candidate of [...newest.values()].sort((a, b) => a.index - b.index)) {
    const key = rowKey(type, candidate.row);
    byKey.set(key, [...(byKey.get(key) ?? []), candidate]);
  }
  const rounds: Candidate[][] = [];
  const idsInRound: Array<Set<string>> = [];
  for (const competitors of byKey.values()) {
    if (byPubkey) competitors.sort((a, b) => compareVersions(type, b.row, a.row));
    let round = 0;
    for (const candidate of competitors) {
      while (byPubkey && idsInRound[round]?.has(candidate.row.id)) round += 1;
      (rounds[round] ??= []).push(candidate);
      if (byPubkey) (idsInRound[round] ??= new Set()).add(candidate.row.id);
      round += 1;
    }
  }
  return rounds.map((round) => round.sort((a, b) => compareText(rowKey(type, a.row), rowKey(type, b.row))));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function idOwnedReason(type: DocumentType, id: string, ownerPubkey: string): string {
  return `${type} id "${id}" already belongs to pubkey ${ownerPubkey}; not overwritten`;
}

function newerHolderReason(type: DocumentType, holder: Pick<RowHolder, 'id' | 'cosmosTs'>): string {
  return `a newer ${type} document of the same pubkey holds its row: id "${holder.id}" (_ts ${holder.cosmosTs})`;
}

function displacedReason(type: DocumentType, by: Row): string {
  return `replaced in ${documentTypes[type].table} by a newer ${type} document of the same pubkey: id "${by.id}" (_ts ${by.cosmosTs})`;
}

/** A displaced row back as the document it was copied from, with the version it had. */
function displacedDocument(type: DocumentType, row: Record<string, unknown>): Record<string, unknown> {
  const document: Record<string, unknown> = { ...rowToDocument(type, row), _ts: Number(row.cosmosTs) };
  if (typeof row.cosmosEtag === 'string') document._etag = row.cosmosEtag;
  return document;
}

function emptyResult(): ApplyResult {
  return {
    written: 0,
    unchanged: 0,
    skipped: 0,
    quarantined: 0,
    failed: 0,
    displaced: 0,
    quarantinedKeys: [],
    failedKeys: [],
    displacedKeys: [],
  };
}

/** Writes a chunk, re-applying rows a concurrent insert beat us to; in `isolate` mode a bad row is cut out. */
async function writeChunk(
  db: Prisma.TransactionClient | SqlClient,
  type: DocumentType,
  chunk: Candidate[],
  options: ApplyOptions,
  isolate: boolean,
  refused: Array<{ candidate: Candidate; error: unknown }>,
): Promise<Array<{ candidate: Candidate; outcome: RowOutcome }>> {
  const settled: Array<{ candidate: Candidate; outcome: RowOutcome }> = [];
  let pending = chunk;
  for (let round = 0; pending.length > 0; round += 1) {
    if (round === raceRounds) throw new ConcurrentWriteError(`${type}: rows kept changing under concurrent writers`);
    const outcomes = isolate
      ? await upsertIsolated(db as Prisma.TransactionClient, type, pending, options, refused)
      : (
          await upsertRows(
            db,
            type,
            pending.map((candidate) => candidate.row),
            options,
          )
        ).map((outcome, i) => ({
          candidate: pending[i] as Candidate,
          outcome,
        }));
    pending = [];
    for (const item of outcomes) {
      if (item.outcome.outcome === 'retry') pending.push(item.candidate);
      else settled.push(item);
    }
  }
  return settled;
}

/**
 * The slow path, taken only after a chunk failed on a row's data: each statement runs under a savepoint,
 * and a failing chunk is halved until the rows PostgreSQL refuses are found; the rest is written.
 */
async function upsertIsolated(
  tx: Prisma.TransactionClient,
  type: DocumentType,
  rows: Candidate[],
  options: ApplyOptions,
  refused: Array<{ candidate: Candidate; error: unknown }>,
): Promise<Array<{ candidate: Candidate; outcome: RowOutcome }>> {
  await tx.$executeRawUnsafe('SAVEPOINT apply_chunk');
  try {
    const outcomes = await upsertRows(
      tx,
      type,
      rows.map((candidate) => candidate.row),
      options,
    );
    await tx.$executeRawUnsafe('RELEASE SAVEPOINT apply_chunk');
    return outcomes.map((outcome, i) => ({ candidate: rows[i] as Candidate, outcome }));
  } catch (error) {
    if (!isRowDataError(error)) throw error;
    await tx.$executeRawUnsafe('ROLLBACK TO SAVEPOINT apply_chunk');
    if (rows.length === 1) {
      refused.push({ candidate: rows[0] as Candidate, error });
      return [];
    }
    const half = Math.ceil(rows.length / 2);
    return [
      ...(await upsertIsolated(tx, type, rows.slice(0, half), options, refused)),
      ...(await upsertIsolated(tx, type, rows.slice(half), options, refused)),
    ];
  }
}

/** Unmappable documents older than the row of the same document already stored are stale, not broken. */
async function staleUnmappable(db: SqlClient, unmappable: readonly Unmappable[]): Promise<Set<number>> {
  const stale = new Set<number>();
  const byType = new Map<DocumentType, Unmappable[]>();
  for (const item of unmappable) {
    const fields = item.document as Record<string, unknown>;
    if (item.type && typeof fields.id === 'string' && typeof fields.pubkey === 'string' && typeof fields._ts === 'number') {
      byType.set(item.type, [...(byType.get(item.type) ?? []), item]);
    }
  }
  for (const [type, items] of byType) {
    const refs = items.map((item) => {
      const fields = item.document as Record<string, unknown>;
      return { id: fields.id as string, pubkey: fields.pubkey as string, cosmosTs: fields._ts as number };
    });
    for (const position of await findNewerRows(db, type, refs)) stale.add((items[position] as Unmappable).index);
  }
  return stale;
}

/** A dry run writes nothing, so later rounds must be told what earlier rounds would have written. */
class DryRunRows {
  readonly #byKey = new Map<string, Row>();
  readonly #ownerOfId = new Map<string, string>();

  constructor(private readonly type: DocumentType) {}

  /** The outcome once rows "written" by earlier rounds are taken into account. */
  adjust(row: Row, outcome: RowOutcome): RowOutcome {
    const byPubkey = documentTypes[this.type].key === 'pubkey';
    const held = this.#byKey.get(rowKey(this.type, row));
    const owner = byPubkey ? this.#ownerOfId.get(row.id) : undefined;
    let adjusted = outcome;
    if (owner !== undefined && owner !== row.pubkey) {
      adjusted = { outcome: 'conflict', reason: 'id-owned-by-other-pubkey', holder: { id: row.id, pubkey: owner, cosmosTs: 0 } };
    } else if (held && held.pubkey !== row.pubkey) {
      adjusted = { outcome: 'conflict', reason: 'id-owned-by-other-pubkey', holder: held };
    } else if (held) {
      // Rounds go newest first, so whatever an earlier round wrote for this key is newer.
      adjusted = { outcome: 'conflict', reason: 'newer-document-holds-pubkey', holder: held };
    }
    if (adjusted.outcome === 'written') {
      this.#byKey.set(rowKey(this.type, row), row);
      if (byPubkey) this.#ownerOfId.set(row.id, row.pubkey);
    }
    return adjusted;
  }
}

/** Everything one call does, inside its transaction (or, for a dry run, outside any). */
class Execution {
  readonly result = emptyResult();
  readonly quarantine: QuarantineEntry[] = [];
  readonly refused: Array<{ candidate: Candidate; error: unknown }> = [];
  /** `_ts` of each document written by this call, by `pubkey/id` (a dry run's included). */
  readonly writtenTs = new Map<string, number>();

  constructor(
    private readonly db: Prisma.TransactionClient | SqlClient,
    private readonly options: ApplyOptions,
    private readonly isolate: boolean,
  ) {}

  async writeType(type: DocumentType, rounds: Candidate[][]): Promise<void> {
    const chunkSize = this.options.chunkSize ?? defaultChunkSize;
    const dryRunRows = this.options.dryRun ? new DryRunRows(type) : undefined;
    for (const rows of rounds) {
      for (let start = 0; start < rows.length; start += chunkSize) {
        const settled = await writeChunk(this.db, type, rows.slice(start, start + chunkSize), this.options, this.isolate, this.refused);
        for (const { candidate, outcome } of settled) {
          this.record(type, candidate, dryRunRows ? dryRunRows.adjust(candidate.row, outcome) : outcome);
        }
      }
    }
  }

  record(type: DocumentType, candidate: Candidate, outcome: RowOutcome): void {
    switch (outcome.outcome) {
      case 'written':
        this.result.written += 1;
        this.writtenTs.set(`${candidate.row.pubkey}/${candidate.row.id}`, candidate.row.cosmosTs);
        if (outcome.displaced) {
          this.result.displaced += 1;
          const entry = quarantineEntry(displacedDocument(type, outcome.displaced), displacedReason(type, candidate.row));
          this.result.displacedKeys.push(entry.key);
          this.quarantine.push(entry);
        }
        return;
      case 'unchanged':
        this.result.unchanged += 1;
        return;
      case 'skipped':
        this.result.skipped += 1;
        return;
      case 'conflict':
        this.quarantined(
          quarantineEntry(
            candidate.document,
            outcome.reason === 'id-owned-by-other-pubkey'
              ? idOwnedReason(type, candidate.row.id, outcome.holder.pubkey)
              : newerHolderReason(type, outcome.holder),
          ),
        );
        return;
      case 'retry':
        throw new Error('unreachable: writeChunk settles every row');
    }
  }

  quarantined(entry: QuarantineEntry): void {
    this.result.quarantined += 1;
    this.result.quarantinedKeys.push(entry.key);
    this.quarantine.push(entry);
  }
}

async function execute(
  db: Prisma.TransactionClient | SqlClient,
  work: Plan,
  options: ApplyOptions,
  isolate: boolean,
): Promise<ApplyResult> {
  const execution = new Execution(db, options, isolate);
  const { result, quarantine, refused } = execution;
  result.unchanged += work.superseded;
  for (const [type, rounds] of work.roundsByType) await execution.writeType(type, rounds);

  for (const { candidate, error } of refused) {
    const entry = quarantineEntry(candidate.document, `PostgreSQL refused the row: ${describePostgresError(error)}`);
    result.failed += 1;
    result.failedKeys.push(entry.key);
    quarantine.push(entry);
  }
  // After the writes, so a version written in this same call makes an older unmappable copy stale.
  const stale = await staleUnmappable(db, work.unmappable);
  for (const item of work.unmappable) {
    const fields = item.document as Record<string, unknown>;
    const writtenHere = execution.writtenTs.get(`${String(fields.pubkey)}/${String(fields.id)}`);
    if (stale.has(item.index) || (writtenHere !== undefined && typeof fields._ts === 'number' && writtenHere > fields._ts)) {
      result.unchanged += 1;
    } else {
      execution.quarantined(quarantineEntry(item.document, item.reason));
    }
  }

  if (!options.dryRun) await saveQuarantine(db, quarantine, options.source);
  return result;
}

/** Classified transient errors, lost races with concurrent writers, and a unique-id race on a pubkey-keyed table. */
function isRetryable(error: unknown): boolean {
  return error instanceof ConcurrentWriteError || isTransientPostgresError(error) || sqlStateOf(error) === UNIQUE_VIOLATION;
}

/**
 * Maps, writes and quarantines `documents` (see the module comment for the rules) and returns what
 * happened to each. Throws only for infrastructure failures and bugs: a transient PostgreSQL error
 * (serialization failure, deadlock, too many connections, admin shutdown, connection exception) is
 * retried with jittered backoff, anything else is thrown and nothing of the call is kept.
 *
 * @example
 * const result = await applyDocuments(prisma, page, { source: 'sync' });
 * // result.written + result.unchanged + result.skipped + result.quarantined + result.failed === page.length
 */
export async function applyDocuments(prisma: PrismaClient, documents: readonly unknown[], options: ApplyOptions): Promise<ApplyResult> {
  const work = plan(documents);
  if (options.dryRun) return execute(prisma, work, options, false);
  const run = (isolate: boolean) =>
    withRetries(
      () =>
        prisma.$transaction(
          async (tx) => {
            const result = await execute(tx, work, options, isolate);
            await options.beforeCommit?.(tx, result);
            return result;
          },
          // Prisma's 5 s default is too short for a large page on a busy server.
          { maxWait: 30_000, timeout: 300_000 },
        ),
      { isRetryable },
    );
  try {
    return await run(false);
  } catch (error) {
    if (!isRowDataError(error)) throw error;
    return run(true);
  }
}
