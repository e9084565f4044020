import type { AppContext } from '../context/app-context.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../domain/document-types.js';
import { normalizeDocument } from '../domain/mapping.js';
import { quarantineKey } from '../write-path/quarantine.js';
import { readUserDocuments, readUserOtherDocuments } from './cosmos-documents.js';
import { diffDocuments } from './document-diff.js';
import { readUserRows } from './postgres-documents.js';
import {
  explainsVersion,
  type QuarantineEntry,
  quarantineOfDocuments,
  quarantineOfUser,
  quarantineVerdict,
  reportedReason,
} from './quarantine-entries.js';

export type DifferenceKind = 'missing-in-postgres' | 'missing-in-cosmos' | 'different' | 'quarantined' | 'quarantined-newer' | 'competing';

/**
 * One finding. `different` names one field (`path`) with both values (secret ones redacted);
 * `quarantined` (listed, not a difference) carries the reason a document no table can hold is in the
 * quarantine (or why an operator accepted it); `quarantined-newer` the reason Cosmos's version is in the
 * quarantine while PostgreSQL serves an older one; `competing` the reason a document waits in the quarantine
 * for a row (`reasonCode` says which kind of wait).
 */
export interface DocumentDifference {
  type: DocumentType;
  id: string;
  kind: DifferenceKind;
  path?: string;
  cosmos?: unknown;
  postgres?: unknown;
  reason?: string;
  /** For the quarantine's kinds: its reason code (`unmappable`, `conflict`...) and the entry's key (`migrate:quarantine show <key>`). */
  reasonCode?: string;
  key?: string;
}

export interface UserVerificationReport {
  pubkey: string;
  /**
   * True when PostgreSQL serves exactly what Cosmos holds: each of the user's documents is in PostgreSQL with
   * the same content, and PostgreSQL holds nothing Cosmos does not, apart from documents no table can hold,
   * which are listed (kind `quarantined`, with the reason): quarantined (that very version) with no row, or
   * with a row not older than it, or accepted by an operator (`migrate:quarantine resolve`). An OPEN
   * quarantined version newer than the row PostgreSQL serves (kind `quarantined-newer`: PostgreSQL would serve
   * a version that no longer exists) and an open quarantined document waiting for a row (kind `competing`)
   * are differences.
   */
  consistent: boolean;
  checked: Record<DocumentType, { cosmos: number; postgres: number }>;
  quarantined: number;
  /** The user's documents of no known type: each should be in the quarantine; `missing` names those that are not. */
  otherTypes: { cosmos: number; quarantined: number; missing: string[] };
  differences: DocumentDifference[];
}

/**
 * Compares all seven types of one user's documents, field by field. Both sides are normalised the way
 * the mapping stores them (a modeled field that is `null` equals one that is absent; system properties
 * are ignored), matched by id, and every disagreement is reported with its path. A document that is not
 * in its table, or differs from it, is reported by its quarantine entry instead when the quarantine holds
 * that version of it (`quarantineVerdict`). The user's documents of no known type are looked up in the
 * quarantine too.
 */
export async function verifyUser(ctx: Pick<AppContext, 'prisma' | 'cosmos'>, pubkey: string): Promise<UserVerificationReport> {
  const [cosmosDocuments, otherDocuments, postgresByType, quarantine] = await Promise.all([
    readUserDocuments(ctx.cosmos, pubkey),
    readUserOtherDocuments(ctx.cosmos, pubkey),
    Promise.all(documentTypeNames.map((type) => readUserRows(ctx.prisma, type, pubkey))),
    quarantineOfUser(ctx.prisma, pubkey),
  ]);
  const otherQuarantined = await quarantineOfDocuments(ctx.prisma, otherDocuments);
  const missingOthers = otherDocuments
    .filter((document) => !explainsVersion(otherQuarantined.get(quarantineKey(document)), document))
    .map((document) => String(document.id));

  const checked = {} as UserVerificationReport['checked'];
  const differences: DocumentDifference[] = [];
  documentTypeNames.forEach((type, index) => {
    const cosmos = cosmosDocuments.filter((document) => documentTypeOf(document.type) === type);
    const postgres = postgresByType[index] ?? [];
    checked[type] = { cosmos: cosmos.length, postgres: postgres.length };
    differences.push(...compareType(type, cosmos, postgres, quarantine));
  });

  return {
    pubkey,
    consistent: differences.every((difference) => difference.kind === 'quarantined') && missingOthers.length === 0,
    checked,
    quarantined: differences.filter((difference) => difference.kind === 'quarantined').length,
    otherTypes: {
      cosmos: otherDocuments.length,
      quarantined: otherDocuments.length - missingOthers.length,
      missing: missingOthers.sort(),
    },
    differences,
  };
}

/** The guide's `verifyAccountMigration(pubkey)`: whether the user's data agrees on both sides. */
export async function verifyAccountMigration(ctx: Pick<AppContext, 'prisma' | 'cosmos'>, pubkey: string): Promise<boolean> {
  return (await verifyUser(ctx, pubkey)).consistent;
}

function compareType(
  type: DocumentType,
  cosmosDocuments: ReadonlyArray<Record<string, unknown>>,
  postgresDocuments: ReadonlyArray<Record<string, unknown>>,
  quarantine: ReadonlyMap<string, QuarantineEntry>,
): DocumentDifference[] {
  const postgresById = new Map(postgresDocuments.map((document) => [String(document.id), normalizeDocument(document)]));
  const cosmosIds = new Set<string>();
  const differences: DocumentDifference[] = [];

  for (const source of [...cosmosDocuments].sort(byId)) {
    const id = String(source.id);
    cosmosIds.add(id);
    const target = postgresById.get(id);
    const differing = target ? diffDocuments(normalizeDocument(source), target, documentTypes[type].secretFields) : [];
    if (target && differing.length === 0) continue;
    const verdict = quarantineVerdict(quarantine.get(id), source);
    if (verdict.kind !== 'none') {
      const kind = verdict.kind === 'listed' ? 'quarantined' : verdict.standing === 'newer-than-row' ? 'quarantined-newer' : 'competing';
      differences.push({
        type,
        id,
        kind,
        reason: reportedReason(verdict.entry),
        reasonCode: verdict.entry.reasonCode,
        key: verdict.entry.key,
      });
    } else if (!target) {
      differences.push({ type, id, kind: 'missing-in-postgres' });
    } else {
      for (const field of differing) differences.push({ type, id, kind: 'different', ...field });
    }
  }

  for (const id of [...postgresById.keys()].sort()) {
    if (!cosmosIds.has(id)) differences.push({ type, id, kind: 'missing-in-cosmos' });
  }
  return differences;
}

function byId(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0;
}
