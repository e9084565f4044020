import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context/app-context.js';
import { throwIfInterrupted } from '../core/errors.js';
import { listFeedRanges, rangeKey } from '../cosmos/feed-ranges.js';
import { partitionKeySchemeOf } from '../cosmos/partition-key-hash.js';
import { cosmosPointReader, positionedAfter } from '../cosmos/point-reads.js';
import { documentHash } from '../domain/document-hash.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../domain/document-types.js';
import { normalizeDocument } from '../domain/mapping.js';
import { fillPartitionKeyHashes } from '../migration/partition-key-hashes.js';
import { dropPassRanges, type PassRange, purgeStaleRanges, recordPassRanges } from '../migration/pass-ranges.js';
import { inLanes, type RangeHandlers, stepRange } from '../migration/range-pass.js';
import { readSettingsOf } from '../migration/read-budget.js';
import { inPgTransaction } from '../postgres/pg-transaction.js';
import { poolOf, timeoutsOf } from '../postgres/prisma-client.js';
import { countReconcileRows } from '../postgres/reconcile-rows.js';
import { applyDocuments } from '../write-path/apply-documents.js';
import { diffDocuments } from './document-diff.js';
import { readRowsByIds } from './postgres-documents.js';
import { explainByQuarantine, type UnmatchedDocument } from './quarantine-explanations.js';

/** Where a verification stands, after every committed page of any range. */
export interface VerifyAllProgress {
  /** Cosmos documents read, and PostgreSQL rows matched, so far (all ranges together). */
  documents: number;
  rows: number;
  /** PostgreSQL rows when the pass started: about as many documents, and exactly as many rows, are to come. */
  total: number;
  /** Feed ranges done, of how many. */
  rangesDone: number;
  ranges: number;
}

/** What a verification did in one feed range (its telemetry line). */
export interface VerificationRangeDone {
  passId: string;
  rangeKey: string;
  documents: number;
  rows: number;
  /** Documents missing on either side, different, or competing for another's row, in this range. */
  differences: number;
  requestUnits: number;
  throttled: number;
  /** With repair: what the write path did with the range's documents handed to it again. */
  repair: RepairSummary | null;
}

export interface VerifyAllOptions {
  /**
   * Migrate again, through the migration's write path (source `repair`), every document found missing
   * in PostgreSQL or different. Whether writing is allowed (MIGRATION_MODE) is the caller's decision.
   */
  repair?: boolean;
  /** Documents per change-feed page and PostgreSQL rows per page (default 500). */
  pageSize?: number;
  /** How many ids each finding lists (default 100); the counts are always complete. */
  maxListed?: number;
  /** Feed ranges verified at once (default 4). */
  concurrency?: number;
  /** This verification's share of reads; default MIGRATION_MAX_RU_PER_SECOND. */
  maxRequestUnitsPerSecond?: number;
  /** Stops every range after the page in hand; the verification then throws `InterruptedError` (it only reads: run it again). */
  signal?: AbortSignal;
  onProgress?: (progress: VerifyAllProgress) => void;
  /** As each feed range is done (the telemetry lines of the command line). */
  onRangeDone?: (event: VerificationRangeDone) => void;
}

/** A document named in a finding. `paths` (for `different`) names the fields that disagree, never their values. */
export interface ListedDocument {
  type: DocumentType;
  id: string;
  pubkey: string;
  paths?: string[];
  reason?: string;
}

export interface Finding {
  count: number;
  /** The first `maxListed` documents found. */
  listed: ListedDocument[];
}

export interface TypeVerification {
  /** Documents read from Cosmos, and rows walked in PostgreSQL, feed range by feed range. */
  cosmos: number;
  postgres: number;
  /** Cosmos documents hashed and looked up in PostgreSQL. */
  compared: number;
  matching: number;
  missingInPostgres: number;
  missingInCosmos: number;
  different: number;
  /**
   * In the quarantine (that version), for whatever reason; `competing` of them (open) wait for a row, and
   * `newerThanRow` of them (open) are newer than the row PostgreSQL serves.
   */
  quarantined: number;
  competing: number;
  newerThanRow: number;
}

/** A document of no known type, named in a finding. */
export interface ListedOtherDocument {
  id: string;
  pubkey: string;
}

/** Documents of no known type: no table holds them, so each should be in the quarantine. */
export interface OtherTypesVerification {
  cosmos: number;
  quarantined: number;
  /** Those in Cosmos that the quarantine does not hold (that version of). */
  missing: { count: number; listed: ListedOtherDocument[] };
}

export interface RepairSummary {
  /** Documents handed to the write path again. */
  attempted: number;
  written: number;
  unchanged: number;
  quarantined: number;
  failed: number;
}

export interface FullVerificationReport {
  /** This verification's id, as its telemetry lines carry it. */
  passId: string;
  /**
   * No document missing on either side, none different, none waiting in the quarantine as a competitor for
   * another's row, and every document of no known type in the quarantine. Documents quarantined because no
   * table can hold them are counted apart and do not count against it (see `UserVerificationReport.consistent`).
   * It describes what was found before any repair: verify again to confirm a repair.
   */
  consistent: boolean;
  types: Record<DocumentType, TypeVerification>;
  missingInPostgres: Finding;
  missingInCosmos: Finding;
  different: Finding;
  /** Every document of the seven types found in the quarantine (that version), competitors included. */
  quarantined: Finding;
  /** Of those, open ones waiting for a row (`conflict`, `displaced`, `diverged`, ...): Cosmos has them, PostgreSQL does not. */
  competing: Finding;
  /** Of those, open ones newer than the row PostgreSQL serves for the document: it serves a version Cosmos no longer has. */
  newerThanRow: Finding;
  otherTypes: OtherTypesVerification;
  /** Null unless `repair` was asked for. */
  repair: RepairSummary | null;
  /** What reading Cosmos took: every feed range's change feed, from the beginning. */
  reads: VerificationReads;
  notes: string[];
}

export interface VerificationReads {
  /** Feed ranges read (the container's, when the pass started). */
  ranges: number;
  documents: number;
  requestUnits: number;
  throttled: number;
}

/**
 * Rows missing in Cosmos are candidates for reconcile: in LatestVersion mode the change feed never shows a delete,
 * so they are usually documents deleted in Cosmos after they were migrated. Verification and its repair never
 * delete; reconcile confirms each one with a point read and removes it with an audit copy.
 */
const missingInCosmosNote = (repaired: boolean) =>
  'Rows missing in Cosmos are candidates for reconcile: the change feed (LatestVersion mode) does not carry deletes, so ' +
  'they are usually documents deleted in Cosmos after they were migrated. ' +
  (repaired ? '--repair did not delete them (it never deletes). ' : 'Verification never deletes them. ') +
  '`npm run migrate:reconcile` confirms each one gone with a point read and lists them; ' +
  '`npm run migrate:reconcile -- --apply` removes them, each copied to reconciled_deletes first.';

const competingNote =
  'Documents listed as waiting for a row are in the quarantine and in no table: most are valid documents competing ' +
  'for a row another document holds (two accounts of one pubkey, one payment id under two pubkeys), or versions ' +
  'written in Cosmos apart from PostgreSQL (diverged). Resolve the pair at the source; when the holder is deleted, ' +
  'the sync reads the waiting document again and writes it. `npm run migrate:quarantine -- list` lists them with their reasons.';

const newerThanRowNote =
  'Documents listed as newer than their row were replaced in Cosmos by a version no table can hold (or written there ' +
  'apart from PostgreSQL): PostgreSQL still serves another version. Fix each at the source and run ' +
  '`npm run migrate:quarantine -- retry <key>`, or accept it with `npm run migrate:quarantine -- resolve <key> --note "..."`.';

const notRewrittenNote = (count: number) =>
  `${count} document(s) were not rewritten by the repair: their PostgreSQL row carries a newer version ` +
  '(cosmosTs, then modified) than the document in Cosmos, and the write path never replaces a newer version ' +
  'with an older one. Such rows were changed in PostgreSQL directly; inspect them with migrate:verify <pubkey>.';

/** Counts and capped lists of what the pass finds, shared by its ranges. */
class Findings {
  readonly missingInPostgres = emptyFinding();
  readonly missingInCosmos = emptyFinding();
  readonly different = emptyFinding();
  readonly quarantined = emptyFinding();
  readonly competing = emptyFinding();
  readonly newerThanRow = emptyFinding();
  readonly otherTypes: OtherTypesVerification = { cosmos: 0, quarantined: 0, missing: { count: 0, listed: [] } };
  readonly #maxListed: number;

  constructor(maxListed: number) {
    this.#maxListed = maxListed;
  }

  record<T>(finding: { count: number; listed: T[] }, document: () => T): void {
    finding.count += 1;
    if (finding.listed.length < this.#maxListed) finding.listed.push(document());
  }
}

/** What one range found and cost, for its telemetry line. */
interface RangeTally {
  documents: number;
  rows: number;
  differences: number;
  requestUnits: number;
  throttled: number;
  repair: RepairSummary | null;
}

interface Pass {
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>;
  findings: Findings;
  types: Record<DocumentType, TypeVerification>;
  repair: RepairSummary | null;
}

const defaultConcurrency = 4;

const typeOfTable = new Map(documentTypeNames.map((type) => [documentTypes[type].table, type]));

/**
 * Compares every document, feed range by feed range, up to `concurrency` ranges at once, as the full load reads
 * them (`migration/range-pass.ts`): each range's change feed is read from the beginning, and each page of its
 * documents is looked up in PostgreSQL by id (one query per type) and each document's content hash
 * (`documentHash`) compared with its row's; documents of no known type are looked for in the quarantine. Then the
 * range's PostgreSQL rows are walked, and every row whose document the range's feed did not hold is missing in
 * Cosmos. Memory holds a page or two per range and the capped lists, however large the container; the reads run
 * under the shared request-unit budget and cost about what the full load's read costs.
 *
 * On a live system a document changed between its Cosmos read and its row lookup can show up as
 * different; repair is safe for those (the write path keeps the newest version), and a second pass
 * will not report them again. A pubkey whose first row arrives during the pass is not walked this time.
 */
export async function verifyAll(
  ctx: Pick<AppContext, 'prisma' | 'cosmos' | 'config'>,
  options: VerifyAllOptions = {},
): Promise<FullVerificationReport> {
  const { prisma } = ctx;
  const findings = new Findings(options.maxListed ?? 100);
  const pass: Pass = {
    ctx,
    findings,
    types: Object.fromEntries(documentTypeNames.map((type) => [type, emptyTally()])) as Record<DocumentType, TypeVerification>,
    repair: options.repair ? emptyRepair() : null,
  };
  const passId = randomUUID();
  await purgeStaleRanges(prisma);
  const scheme = await partitionKeySchemeOf(ctx.cosmos);
  const ranges = await recordPassRanges(prisma, passId, 'verification', (await listFeedRanges(ctx.cosmos)).map(rangeKey));
  const reads: VerificationReads = { ranges: ranges.length, documents: 0, requestUnits: 0, throttled: 0 };
  try {
    await fillPartitionKeyHashes(prisma, scheme);
    const total = options.onProgress ? await countReconcileRows(prisma) : 0;
    const progress = { documents: 0, rows: 0, total, rangesDone: 0, ranges: ranges.length };
    const work = {
      ctx,
      scheme,
      reads: readSettingsOf(ctx, options.maxRequestUnitsPerSecond),
      batchSize: options.pageSize ?? 500,
    };
    await inLanes(
      ranges,
      options.concurrency ?? defaultConcurrency,
      async (range, stop) => {
        const tally: RangeTally = {
          documents: 0,
          rows: 0,
          differences: 0,
          requestUnits: 0,
          throttled: 0,
          repair: pass.repair && emptyRepair(),
        };
        const handlers = rangeHandlers(pass, tally, () => options.onProgress?.({ ...progress }), progress);
        const step = await stepRange(work, range, handlers, { signal: stop });
        reads.documents += tally.documents;
        reads.requestUnits += tally.requestUnits;
        reads.throttled += tally.throttled;
        if (step.range.phase !== 'done') return;
        progress.rangesDone += 1;
        options.onProgress?.({ ...progress });
        options.onRangeDone?.({ passId, rangeKey: range.rangeKey, ...tally });
      },
      options.signal,
    );
    throwIfInterrupted(options.signal);
  } finally {
    // What the ranges read was only for this pass.
    await dropPassRanges(prisma, passId).catch(() => undefined);
  }
  return reportOf(passId, pass, reads);
}

function reportOf(passId: string, pass: Pass, reads: VerificationReads): FullVerificationReport {
  const { missingInPostgres, missingInCosmos, different, quarantined, competing, newerThanRow, otherTypes } = pass.findings;
  const notes: string[] = [];
  if (missingInCosmos.count > 0) notes.push(missingInCosmosNote(pass.repair !== null));
  if (competing.count > 0) notes.push(competingNote);
  if (newerThanRow.count > 0) notes.push(newerThanRowNote);
  if (pass.repair && pass.repair.unchanged > 0) notes.push(notRewrittenNote(pass.repair.unchanged));
  const differences = missingInPostgres.count + missingInCosmos.count + different.count + competing.count + newerThanRow.count;
  return {
    passId,
    consistent: differences + otherTypes.missing.count === 0,
    types: pass.types,
    missingInPostgres,
    missingInCosmos,
    different,
    quarantined,
    competing,
    newerThanRow,
    otherTypes,
    repair: pass.repair,
    reads: { ...reads, requestUnits: Math.round(reads.requestUnits * 100) / 100 },
    notes,
  };
}

/** What verification does with a range's pages: compares its documents as they are read, then looks for rows Cosmos lacks. */
function rangeHandlers(pass: Pass, tally: RangeTally, report: () => void, progress: { documents: number; rows: number }): RangeHandlers {
  const { prisma } = pass.ctx;
  return {
    documents: async (documents) => {
      await comparePage(pass, tally, documents);
    },
    readCommitted: (page) => {
      tally.documents += page.documents;
      tally.requestUnits += page.requestCharge;
      tally.throttled += page.throttled;
      progress.documents += page.documents;
      report();
    },
    rows: async (rows, commit) => {
      for (const row of rows) {
        const type = typeOfTable.get(row.table);
        if (!type) throw new Error(`not a document table: ${row.table}`);
        const types = pass.types[type];
        types.postgres += 1;
        if (row.seen) continue;
        types.missingInCosmos += 1;
        tally.differences += 1;
        pass.findings.record(pass.findings.missingInCosmos, () => ({ type, id: row.id, pubkey: row.pubkey }));
      }
      const range: PassRange = await inPgTransaction(poolOf(prisma), timeoutsOf(prisma).queryTimeoutMs, commit);
      tally.rows += rows.length;
      progress.rows += rows.length;
      report();
      return range;
    },
  };
}

/** A page of a range's documents: each of the seven types against its rows, the others against the quarantine. */
async function comparePage(pass: Pass, tally: RangeTally, documents: readonly Record<string, unknown>[]): Promise<void> {
  const byType = new Map<DocumentType, Record<string, unknown>[]>();
  const others: Record<string, unknown>[] = [];
  for (const document of documents) {
    const type = documentTypeOf(document.type);
    if (!type) others.push(document);
    else byType.set(type, [...(byType.get(type) ?? []), document]);
  }
  await Promise.all([...byType].map(([type, page]) => compareTypePage(pass, tally, type, page)));
  if (others.length > 0) await checkOtherTypes(pass, tally, others);
}

/** Documents of one type: looked up by id in one query, hashes compared; those that differ explained by the quarantine, or reported. */
async function compareTypePage(pass: Pass, tally: RangeTally, type: DocumentType, page: Record<string, unknown>[]): Promise<void> {
  const { ctx, findings } = pass;
  const types = pass.types[type];
  const rows = await readRowsByIds(
    ctx.prisma,
    type,
    page.map((document) => String(document.id)),
  );
  const unmatched: UnmatchedDocument[] = [];
  for (const document of page) {
    types.cosmos += 1;
    types.compared += 1;
    const row = rows.get(String(document.id));
    if (row && documentHash(document) === documentHash(row.document)) types.matching += 1;
    else unmatched.push(row ? { document, row } : { document });
  }
  if (unmatched.length === 0) return;

  const explanations = await explainByQuarantine(ctx.prisma, unmatched);
  const toRepair: Record<string, unknown>[] = [];
  const toRepairAtPosition: Array<{ id: string; partitionKey: string; after: number }> = [];
  for (const [index, { document, row }] of unmatched.entries()) {
    const id = String(document.id);
    const pubkey = String(document.pubkey);
    const explained = explanations[index];
    if (explained) {
      types.quarantined += 1;
      findings.record(findings.quarantined, () => ({ type, id, pubkey, reason: explained.reason }));
      if (explained.difference) {
        const waiting = explained.difference === 'waiting-for-row';
        types[waiting ? 'competing' : 'newerThanRow'] += 1;
        tally.differences += 1;
        findings.record(waiting ? findings.competing : findings.newerThanRow, () => ({ type, id, pubkey, reason: explained.reason }));
      }
    } else if (!row) {
      types.missingInPostgres += 1;
      tally.differences += 1;
      findings.record(findings.missingInPostgres, () => ({ type, id, pubkey }));
      toRepair.push(document);
    } else {
      types.different += 1;
      tally.differences += 1;
      findings.record(findings.different, () => ({ type, id, pubkey, paths: differingPaths(type, document, row.document) }));
      if (row.lsn === null) toRepair.push(withoutPosition(document));
      else toRepairAtPosition.push({ id, partitionKey: pubkey, after: row.lsn });
    }
  }
  if (pass.repair) {
    toRepair.push(...(await currentAtPosition(ctx.cosmos, toRepairAtPosition)));
    if (toRepair.length > 0) await repairDocuments(pass, tally, toRepair);
  }
}

/**
 * The documents to repair whose row holds a version the change feed delivered (it has a position): a copy read
 * by a query has none, and the write path never lets a version without a position replace a same-second one
 * with a position (a stale page must not undo the feed), so the repair of a row changed in PostgreSQL directly
 * would change nothing. Read now, after the row was, each document is that version or a later one, so it is
 * placed at the row's position at least (`positionedAfter`, as the sync does for deferred changes); a newer
 * change still replaces it when the feed delivers it. A document gone meanwhile is left to the feed's delete.
 */
async function currentAtPosition(
  cosmos: AppContext['cosmos'],
  entries: ReadonlyArray<{ id: string; partitionKey: string; after: number }>,
): Promise<Record<string, unknown>[]> {
  if (entries.length === 0) return [];
  const read = await cosmosPointReader(cosmos)(entries);
  return read.flatMap(({ entry, document }) => (document ? [positionedAfter(document, entry.after)] : []));
}

/**
 * A document read from the change feed, without its position (`_lsn`), for the repair of a row that has none: as
 * a query's copy, its time decides against the row's (version-order.ts, rule 2), so a row changed in PostgreSQL
 * directly with a later `modified` is reported, and left alone, rather than overwritten by the feed's position.
 */
function withoutPosition(document: Record<string, unknown>): Record<string, unknown> {
  const { _lsn: _position, ...copy } = document;
  return copy;
}

async function repairDocuments(pass: Pass, tally: RangeTally, documents: Record<string, unknown>[]): Promise<void> {
  const result = await applyDocuments(pass.ctx.prisma, documents, { source: 'repair' });
  for (const summary of [pass.repair, tally.repair]) {
    if (!summary) continue;
    summary.attempted += documents.length;
    summary.written += result.written;
    summary.unchanged += result.unchanged;
    summary.quarantined += result.quarantined;
    summary.failed += result.failed;
  }
}

/**
 * Documents of no known type (their `type` missing or none of the seven's), looked up in the quarantine, where
 * the write path keeps every one of them: one it does not hold was never migrated, and a repair hands it to the
 * write path, which quarantines it with its reason (where a document of no known type belongs).
 */
async function checkOtherTypes(pass: Pass, tally: RangeTally, page: Record<string, unknown>[]): Promise<void> {
  const { findings } = pass;
  const { otherTypes } = findings;
  const explanations = await explainByQuarantine(
    pass.ctx.prisma,
    page.map((document) => ({ document })),
  );
  const toRepair: Record<string, unknown>[] = [];
  for (const [index, document] of page.entries()) {
    otherTypes.cosmos += 1;
    if (explanations[index]) {
      otherTypes.quarantined += 1;
    } else {
      tally.differences += 1;
      findings.record(otherTypes.missing, () => ({ id: String(document.id), pubkey: String(document.pubkey) }));
      toRepair.push(document);
    }
  }
  if (pass.repair && toRepair.length > 0) await repairDocuments(pass, tally, toRepair);
}

function emptyTally(): TypeVerification {
  return {
    cosmos: 0,
    postgres: 0,
    compared: 0,
    matching: 0,
    missingInPostgres: 0,
    missingInCosmos: 0,
    different: 0,
    quarantined: 0,
    competing: 0,
    newerThanRow: 0,
  };
}

function emptyRepair(): RepairSummary {
  return { attempted: 0, written: 0, unchanged: 0, quarantined: 0, failed: 0 };
}

function differingPaths(type: DocumentType, cosmos: Record<string, unknown>, postgres: Record<string, unknown>): string[] {
  return diffDocuments(normalizeDocument(cosmos), normalizeDocument(postgres), documentTypes[type].secretFields).map(
    (difference) => difference.path,
  );
}

function emptyFinding(): Finding {
  return { count: 0, listed: [] };
}
