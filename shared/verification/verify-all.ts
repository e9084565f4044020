import type { AppContext } from '../context/app-context.js';
import { readDocumentPages } from '../cosmos/document-source.js';
import { cosmosPointReader, positionedAfter } from '../cosmos/point-reads.js';
import { documentHash } from '../domain/document-hash.js';
import { type DocumentType, documentTypeNames, documentTypes } from '../domain/document-types.js';
import { normalizeDocument } from '../domain/mapping.js';
import { countCosmosDocuments, countPostgresRows } from '../stats/document-counts.js';
import { applyDocuments } from '../write-path/apply-documents.js';
import { quarantineKey } from '../write-path/quarantine.js';
import { existingIds } from './cosmos-documents.js';
import { diffDocuments } from './document-diff.js';
import { readIdPage, readRowsByIds, type StoredDocument } from './postgres-documents.js';
import { explainsVersion, quarantineOfDocuments, quarantineVerdict, reportedReason } from './quarantine-entries.js';

export interface VerifyAllProgress {
  phase: 'counting' | 'comparing' | 'checking-postgres';
  type?: DocumentType;
  /** Documents (or rows) done so far in this phase and type. */
  processed: number;
  /** What the counts said at the start; a live container can end a little above or below it. */
  total: number;
}

export interface VerifyAllOptions {
  /**
   * Migrate again, through the migration's write path (source `repair`), every document found missing
   * in PostgreSQL or different. Whether writing is allowed (MIGRATION_MODE) is the caller's decision.
   */
  repair?: boolean;
  /** Documents per Cosmos page and per PostgreSQL lookup (default 500). */
  pageSize?: number;
  /** How many ids each finding lists (default 100); the counts are always complete. */
  maxListed?: number;
  onProgress?: (progress: VerifyAllProgress) => void;
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
  /** Counts taken before comparing. */
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
  /**
   * No document missing on either side, none different, none waiting in the quarantine for a row, no open
   * quarantined version newer than the row PostgreSQL serves, and every document of no known type in the
   * quarantine. Documents quarantined because no table can hold them are counted apart and do not count
   * against it (see `UserVerificationReport.consistent`). It describes what was found before any repair:
   * verify again to confirm a repair.
   */
  consistent: boolean;
  types: Record<DocumentType, TypeVerification>;
  missingInPostgres: Finding;
  missingInCosmos: Finding;
  different: Finding;
  /** Every document of the seven types found in the quarantine (that version), competitors included. */
  quarantined: Finding;
  /** Of those, open ones waiting for a row (`conflict`, `displaced`, ...): Cosmos has them, PostgreSQL does not. */
  competing: Finding;
  /** Of those, open ones newer than the row PostgreSQL serves for the document: it serves a version Cosmos no longer has. */
  newerThanRow: Finding;
  otherTypes: OtherTypesVerification;
  /** Null unless `repair` was asked for. */
  repair: RepairSummary | null;
  notes: string[];
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
  'for a row another document holds (two accounts of one pubkey, one payment id under two pubkeys). Resolve the pair ' +
  'at the source; when the holder is deleted, the sync reads the waiting document again and writes it. ' +
  '`npm run migrate:quarantine -- list` lists them with their reasons.';

const newerThanRowNote =
  'Documents listed as newer than their row were replaced in Cosmos by a version no table can hold: PostgreSQL still ' +
  'serves the version before. Fix each at the source and run `npm run migrate:quarantine -- retry <key>`, or accept ' +
  'it with `npm run migrate:quarantine -- resolve <key> --note "..."`.';

const notRewrittenNote = (count: number) =>
  `${count} document(s) were not rewritten by the repair: their PostgreSQL row carries a newer version ` +
  '(cosmosTs, then modified) than the document in Cosmos, and the write path never replaces a newer version ' +
  'with an older one. Such rows were changed in PostgreSQL directly; inspect them with migrate:verify <pubkey>.';

/** Counts and capped lists of what the pass finds, shared by the per-type steps. */
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

interface Pass {
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>;
  pageSize: number;
  findings: Findings;
  repair: RepairSummary | null;
  progress: (progress: VerifyAllProgress) => void;
}

/**
 * Compares every document of the seven types, streaming: counts per type on both sides first, then
 * each Cosmos page (read while the previous one is checked) is looked up in PostgreSQL by id in one
 * query and each document's content hash (`documentHash`) compared with its row's. Rows that Cosmos
 * does not have are looked for only when a table holds more rows than the pass matched, by walking
 * the table's ids in keyset pages and asking Cosmos for each page. Memory holds a page or two and
 * the capped lists, however large the container.
 *
 * On a live system a document changed between its Cosmos read and its row lookup can show up as
 * different; repair is safe for those (the write path keeps the newest version), and a second pass
 * will not report them again.
 */
export async function verifyAll(
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>,
  options: VerifyAllOptions = {},
): Promise<FullVerificationReport> {
  const pass: Pass = {
    ctx,
    pageSize: options.pageSize ?? 500,
    findings: new Findings(options.maxListed ?? 100),
    repair: options.repair ? { attempted: 0, written: 0, unchanged: 0, quarantined: 0, failed: 0 } : null,
    progress: options.onProgress ?? (() => undefined),
  };

  pass.progress({ phase: 'counting', processed: 0, total: documentTypeNames.length });
  const counts = await Promise.all(
    documentTypeNames.map(async (type) => {
      const [cosmos, postgres] = await Promise.all([countCosmosDocuments(ctx.cosmos, type), countPostgresRows(ctx.prisma, type)]);
      return { cosmos, postgres };
    }),
  );
  pass.progress({ phase: 'counting', processed: documentTypeNames.length, total: documentTypeNames.length });

  const types = {} as Record<DocumentType, TypeVerification>;
  for (const [index, type] of documentTypeNames.entries()) {
    const tally: TypeVerification = {
      ...(counts[index] ?? { cosmos: 0, postgres: 0 }),
      compared: 0,
      matching: 0,
      missingInPostgres: 0,
      missingInCosmos: 0,
      different: 0,
      quarantined: 0,
      competing: 0,
      newerThanRow: 0,
    };
    types[type] = tally;
    const rowsSeen = await compareType(pass, type, tally);
    // Every row the pass did not find under its own id and pubkey may be one Cosmos does not have.
    if ((await countPostgresRows(ctx.prisma, type)) > rowsSeen) await findRowsMissingInCosmos(pass, type, tally);
  }

  await checkOtherTypes(pass);

  const { missingInPostgres, missingInCosmos, different, quarantined, competing, newerThanRow, otherTypes } = pass.findings;
  const notes: string[] = [];
  if (missingInCosmos.count > 0) notes.push(missingInCosmosNote(pass.repair !== null));
  if (competing.count > 0) notes.push(competingNote);
  if (newerThanRow.count > 0) notes.push(newerThanRowNote);
  if (pass.repair && pass.repair.unchanged > 0) notes.push(notRewrittenNote(pass.repair.unchanged));
  const differences = missingInPostgres.count + missingInCosmos.count + different.count + competing.count + newerThanRow.count;
  return {
    consistent: differences + otherTypes.missing.count === 0,
    types,
    missingInPostgres,
    missingInCosmos,
    different,
    quarantined,
    competing,
    newerThanRow,
    otherTypes,
    repair: pass.repair,
    notes,
  };
}

/** Streams one type from Cosmos and checks each page against PostgreSQL; returns how many rows it found. */
async function compareType(pass: Pass, type: DocumentType, tally: TypeVerification): Promise<number> {
  const { ctx, findings } = pass;
  let rowsSeen = 0;
  pass.progress({ phase: 'comparing', type, processed: 0, total: tally.cosmos });
  for await (const { documents: page } of readDocumentPages(ctx.cosmos, { type }, { batchSize: pass.pageSize })) {
    const rows = await readRowsByIds(
      ctx.prisma,
      type,
      page.map((document) => String(document.id)),
    );
    const unmatched: Array<{ document: Record<string, unknown>; id: string; pubkey: string; row?: StoredDocument }> = [];
    for (const document of page) {
      tally.compared += 1;
      const id = String(document.id);
      const pubkey = String(document.pubkey);
      const row = rows.get(id);
      if (row?.document.pubkey === pubkey) rowsSeen += 1;
      if (row && documentHash(document) === documentHash(row.document)) tally.matching += 1;
      else unmatched.push({ document, id, pubkey, row });
    }

    // Only documents that do not match are looked up in the quarantine: usually none, so usually no query.
    const quarantine = await quarantineOfDocuments(
      ctx.prisma,
      unmatched.map(({ document }) => document),
    );
    const toRepair: Record<string, unknown>[] = [];
    const toRepairAtPosition: Array<{ id: string; partitionKey: string; after: number }> = [];
    for (const { document, id, pubkey, row } of unmatched) {
      const verdict = quarantineVerdict(quarantine.get(quarantineKey(document)), document);
      if (verdict.kind !== 'none') {
        const reason = reportedReason(verdict.entry);
        tally.quarantined += 1;
        findings.record(findings.quarantined, () => ({ type, id, pubkey, reason }));
        if (verdict.kind === 'difference') {
          const waiting = verdict.standing === 'waiting-for-row';
          tally[waiting ? 'competing' : 'newerThanRow'] += 1;
          findings.record(waiting ? findings.competing : findings.newerThanRow, () => ({ type, id, pubkey, reason }));
        }
      } else if (!row) {
        tally.missingInPostgres += 1;
        findings.record(findings.missingInPostgres, () => ({ type, id, pubkey }));
        toRepair.push(document);
      } else {
        tally.different += 1;
        findings.record(findings.different, () => ({ type, id, pubkey, paths: differingPaths(type, document, row.document) }));
        if (row.lsn === null) toRepair.push(document);
        else toRepairAtPosition.push({ id, partitionKey: pubkey, after: row.lsn });
      }
    }

    if (pass.repair) {
      toRepair.push(...(await currentAtPosition(ctx.cosmos, toRepairAtPosition)));
      if (toRepair.length > 0) await repairDocuments(pass.ctx, pass.repair, toRepair);
    }
    pass.progress({ phase: 'comparing', type, processed: tally.compared, total: tally.cosmos });
  }
  return rowsSeen;
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

async function repairDocuments(
  ctx: Pick<AppContext, 'prisma' | 'cosmos'>,
  summary: RepairSummary,
  documents: Record<string, unknown>[],
): Promise<void> {
  const result = await applyDocuments(ctx.prisma, documents, { source: 'repair' });
  summary.attempted += documents.length;
  summary.written += result.written;
  summary.unchanged += result.unchanged;
  summary.quarantined += result.quarantined;
  summary.failed += result.failed;
}

/**
 * Streams the documents of no known type (their `type` missing or none of the seven's) and looks each up in
 * the quarantine, where the write path keeps every one of them: one it does not hold was never migrated, and
 * a repair hands it to the write path.
 */
async function checkOtherTypes(pass: Pass): Promise<void> {
  const { ctx, findings } = pass;
  const { otherTypes } = findings;
  for await (const { documents: page } of readDocumentPages(ctx.cosmos, { type: 'other' }, { batchSize: pass.pageSize })) {
    const quarantine = await quarantineOfDocuments(ctx.prisma, page);
    const toRepair: Record<string, unknown>[] = [];
    for (const document of page) {
      otherTypes.cosmos += 1;
      if (explainsVersion(quarantine.get(quarantineKey(document)), document)) {
        otherTypes.quarantined += 1;
      } else {
        findings.record(otherTypes.missing, () => ({ id: String(document.id), pubkey: String(document.pubkey) }));
        toRepair.push(document);
      }
    }
    // The write path quarantines each with its reason: that is where a document of no known type belongs.
    if (pass.repair && toRepair.length > 0) await repairDocuments(pass.ctx, pass.repair, toRepair);
  }
}

/** Walks the table's ids in keyset pages and asks Cosmos which of each page it has. */
async function findRowsMissingInCosmos(pass: Pass, type: DocumentType, tally: TypeVerification): Promise<void> {
  const { ctx, findings } = pass;
  let afterId: string | null = null;
  let checked = 0;
  for (;;) {
    const keys = await readIdPage(ctx.prisma, type, afterId, pass.pageSize);
    const last = keys[keys.length - 1];
    if (!last) return;
    const present = await existingIds(
      ctx.cosmos,
      type,
      keys.map((key) => key.id),
    );
    for (const key of keys) {
      if (present.has(key.id)) continue;
      tally.missingInCosmos += 1;
      findings.record(findings.missingInCosmos, () => ({ type, id: key.id, pubkey: key.pubkey }));
    }
    checked += keys.length;
    pass.progress({ phase: 'checking-postgres', type, processed: checked, total: tally.postgres });
    afterId = last.id;
  }
}

function differingPaths(type: DocumentType, cosmos: Record<string, unknown>, postgres: Record<string, unknown>): string[] {
  return diffDocuments(normalizeDocument(cosmos), normalizeDocument(postgres), documentTypes[type].secretFields).map(
    (difference) => difference.path,
  );
}

function emptyFinding(): Finding {
  return { count: 0, listed: [] };
}
