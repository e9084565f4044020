import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { forgetSeenKeys, type RangeCursor } from '../postgres/range-rows.js';
import type { SqlClient } from '../postgres/sql-client.js';

/**
 * Where each feed range of a pass stands (`pass_ranges`): a verification of everything or a reconcile pass reads
 * every range on its own, as the full load does, in two phases: its change feed from the beginning (`reading`,
 * `continuation` after the last committed page; each page's documents remembered as seen keys in the same
 * transaction), then its PostgreSQL rows (`matching`, `cursor` after the last committed page), then `done`.
 * Every page commits compare-and-set on the range's position and `step` (the queue chain's step in progress), so
 * a page done twice (two deliveries at once, two processes resuming one pass) commits once and the second finds
 * the range moved; a range resumes exactly after its last committed page.
 */

export type PassKind = 'reconcile' | 'verification';
export type RangePhase = 'reading' | 'matching' | 'done';

/** A range's position: what a page starts from and a commit compares. */
export interface RangePosition {
  phase: RangePhase;
  /** Reading: the change feed's continuation after the last committed page (null: from the beginning). */
  continuation: string | null;
  /** Matching: the row walk's position after the last committed page (null: the start). */
  cursor: RangeCursor | null;
}

export interface PassRange extends RangePosition {
  /** The range's own id: what its seen keys are recorded under. */
  id: string;
  passId: string;
  kind: PassKind;
  /** The feed range, as listed when the pass started (`"<min>-<max>"`). */
  rangeKey: string;
  /** The queue chain's step in progress. */
  step: number;
  /** Cosmos documents read, and PostgreSQL rows matched, so far. */
  documents: number;
  scanned: number;
}

/**
 * A range that is not where a step says it starts (nothing was committed): `stale`, another delivery or process
 * committed the page first; `behind`, the step before this one has not recorded its end yet.
 */
export class RangeMovedError extends Error {
  override readonly name = 'RangeMovedError';
  constructor(
    readonly passId: string,
    readonly rangeKey: string,
    readonly position: 'stale' | 'behind' = 'stale',
  ) {
    super(
      position === 'stale'
        ? `feed range ${rangeKey} of pass ${passId} has moved past this page (another delivery or process committed it first)`
        : `feed range ${rangeKey} of pass ${passId} has not recorded the end of the step before this one yet`,
    );
  }
}

const cursorSchema = z.tuple([z.string(), z.string(), z.string().nullable(), z.string().nullable()]);

/** The `cursor` column's text: JSON `[epk, pubkey, id, table]` (id and table null past the whole pubkey), compared as text. */
function cursorText(cursor: RangeCursor | null): string | null {
  if (cursor === null) return null;
  return JSON.stringify([cursor.epk, cursor.pubkey, cursor.after?.id ?? null, cursor.after?.table ?? null]);
}

function cursorOf(text: string | null): RangeCursor | null {
  if (text === null) return null;
  const [epk, pubkey, id, table] = cursorSchema.parse(JSON.parse(text));
  return id === null || table === null ? { epk, pubkey } : { epk, pubkey, after: { id, table } };
}

interface RangeRow {
  id: string;
  passId: string;
  kind: string;
  rangeKey: string;
  phase: string;
  continuation: string | null;
  cursor: string | null;
  step: number;
  documents: bigint;
  scanned: bigint;
}

function toRange(row: RangeRow): PassRange {
  return {
    id: row.id,
    passId: row.passId,
    kind: row.kind as PassKind,
    rangeKey: row.rangeKey,
    phase: row.phase as RangePhase,
    continuation: row.continuation,
    cursor: cursorOf(row.cursor),
    step: row.step,
    documents: Number(row.documents),
    scanned: Number(row.scanned),
  };
}

/** The ranges of a pass, in the order they were listed (by key). */
export async function loadPassRanges(prisma: PrismaClient, passId: string): Promise<PassRange[]> {
  const rows = await prisma.passRange.findMany({ where: { passId }, orderBy: { rangeKey: 'asc' } });
  return rows.map(toRange);
}

/** One range of a pass, or null. */
export async function findPassRange(prisma: PrismaClient, passId: string, rangeKey: string): Promise<PassRange | null> {
  const row = await prisma.passRange.findUnique({ where: { passId_rangeKey: { passId, rangeKey } } });
  return row ? toRange(row) : null;
}

/**
 * Records the pass's ranges (each reading from the beginning of its change feed), keeping any recorded already
 * (a redelivered fan-out, a resumed pass); returns them all.
 */
export async function recordPassRanges(
  prisma: PrismaClient,
  passId: string,
  kind: PassKind,
  rangeKeys: readonly string[],
): Promise<PassRange[]> {
  await prisma.passRange.createMany({
    data: rangeKeys.map((rangeKey) => ({ id: randomUUID(), passId, kind, rangeKey })),
    skipDuplicates: true,
  });
  return loadPassRanges(prisma, passId);
}

/** What a page moves a range to, and what it counted. */
export interface RangeAdvance extends RangePosition {
  documents?: number;
  scanned?: number;
}

/**
 * Commits a page of `range` in `tx` (the transaction that did the page's work): the range moves from where
 * `range` says it stands to `to`, and its counts take in the page's, only if it still stands there at the same
 * step; otherwise `RangeMovedError` (the caller's transaction rolls back, the page's work with it). The row lock
 * of the update makes a concurrent commit of the same page wait, then find the range moved.
 */
export async function commitRangePage(tx: SqlClient, range: PassRange, to: RangeAdvance): Promise<PassRange> {
  const rows = await tx.$queryRawUnsafe<RangeRow[]>(
    `UPDATE "pass_ranges" SET "phase" = $6, "continuation" = $7, "cursor" = $8,
       "documents" = "documents" + $9::bigint, "scanned" = "scanned" + $10::bigint, "updatedAt" = now()
     WHERE "id" = $1::uuid AND "step" = $2 AND "phase" = $3
       AND "continuation" IS NOT DISTINCT FROM $4 AND "cursor" IS NOT DISTINCT FROM $5
     RETURNING "id", "passId", "kind", "rangeKey", "phase", "continuation", "cursor", "step", "documents", "scanned"`,
    range.id,
    range.step,
    range.phase,
    range.continuation,
    cursorText(range.cursor),
    to.phase,
    to.continuation,
    cursorText(to.cursor),
    String(to.documents ?? 0),
    String(to.scanned ?? 0),
  );
  const [row] = rows;
  if (!row) throw new RangeMovedError(range.passId, range.rangeKey);
  return toRange(row);
}

/**
 * A queue chain's step of `range` is over where `range` stands: it moves to the next step, compare-and-set.
 * False when another delivery moved it first (its successor is then the one that counts).
 */
export async function advanceRangeStep(prisma: PrismaClient, range: PassRange): Promise<boolean> {
  const { count } = await prisma.passRange.updateMany({
    where: { id: range.id, step: range.step, phase: range.phase, continuation: range.continuation, cursor: cursorText(range.cursor) },
    data: { step: range.step + 1, updatedAt: new Date() },
  });
  return count === 1;
}

/** Forgets what the pass's ranges read (their seen keys): the pass is over. Its range records stay, for the record. */
export async function forgetPassReads(prisma: PrismaClient, passId: string): Promise<void> {
  const ranges = await prisma.passRange.findMany({ where: { passId }, select: { id: true } });
  await forgetSeenKeys(
    prisma,
    ranges.map((range) => range.id),
  );
}

/** How long a range may make no progress before what it read is thrown away (and it reads again if it is resumed). */
export const staleRangeAfterMs = 24 * 60 * 60 * 1000;

/**
 * Seen keys are scratch: those of ranges that made no progress for `staleRangeAfterMs` are deleted. A
 * verification's (its process was killed: it is never resumed) go with their range records; a reconcile pass's
 * ranges (a pass nobody resumed) are set back to read their feed from the beginning, so a pass resumed later
 * matches against a complete read, never a forgotten one (its counts then include both reads: they count the work
 * done). Returns how many ranges it purged.
 */
export async function purgeStaleRanges(prisma: PrismaClient, now: Date = new Date()): Promise<number> {
  const stale = await prisma.passRange.findMany({
    where: { phase: { not: 'done' }, updatedAt: { lt: new Date(now.getTime() - staleRangeAfterMs) } },
    select: { id: true, kind: true },
  });
  if (stale.length === 0) return 0;
  const ids = stale.map((range) => range.id);
  await forgetSeenKeys(prisma, ids);
  const verifications = stale.filter((range) => range.kind === 'verification').map((range) => range.id);
  await prisma.passRange.deleteMany({ where: { id: { in: verifications } } });
  await prisma.passRange.updateMany({
    where: { id: { in: ids }, kind: { not: 'verification' } },
    data: { phase: 'reading', continuation: null, cursor: null, updatedAt: now },
  });
  return ids.length;
}

/** Deletes a pass's ranges and what they read (a verification's, which is not resumed: it only reads, and runs again). */
export async function dropPassRanges(prisma: PrismaClient, passId: string): Promise<void> {
  await forgetPassReads(prisma, passId);
  await prisma.passRange.deleteMany({ where: { passId } });
}
