import type { AppContext } from '../context/app-context.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../domain/document-types.js';
import { normalizeDocument } from '../domain/mapping.js';
import { readUserDocuments } from './cosmos-documents.js';
import { diffDocuments } from './document-diff.js';
import { readUserRows } from './postgres-documents.js';
import { explainsVersion, type QuarantineEntry, quarantineOfUser } from './quarantine-entries.js';

export type DifferenceKind = 'missing-in-postgres' | 'missing-in-cosmos' | 'different' | 'quarantined';

/**
 * One finding. `different` names one field (`path`) with both values (secret ones redacted);
 * `quarantined` carries the reason the document could not be mapped.
 */
export interface DocumentDifference {
  type: DocumentType;
  id: string;
  kind: DifferenceKind;
  path?: string;
  cosmos?: unknown;
  postgres?: unknown;
  reason?: string;
}

export interface UserVerificationReport {
  pubkey: string;
  /**
   * True when each of the user's documents is in PostgreSQL with the same content or is quarantined
   * (that very version), and PostgreSQL holds nothing Cosmos does not. Quarantined documents are listed
   * (kind `quarantined`, with the reason) but do not count against it: the write path has dealt with
   * them and recorded why no table can hold them, and stats counts them for someone to fix at the source.
   */
  consistent: boolean;
  checked: Record<DocumentType, { cosmos: number; postgres: number }>;
  quarantined: number;
  differences: DocumentDifference[];
}

/**
 * Compares all seven types of one user's documents, field by field. Both sides are normalised the way
 * the mapping stores them (a modeled field that is `null` equals one that is absent; system properties
 * are ignored), matched by id, and every disagreement is reported with its path. A document that is not
 * in its table, or differs from it, is reported as `quarantined` instead when the quarantine holds that
 * version of it (`explainsVersion`).
 */
export async function verifyUser(ctx: Pick<AppContext, 'prisma' | 'cosmos'>, pubkey: string): Promise<UserVerificationReport> {
  const [cosmosDocuments, postgresByType, quarantine] = await Promise.all([
    readUserDocuments(ctx.cosmos, pubkey),
    Promise.all(documentTypeNames.map((type) => readUserRows(ctx.prisma, type, pubkey))),
    quarantineOfUser(ctx.prisma, pubkey),
  ]);

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
    consistent: differences.every((difference) => difference.kind === 'quarantined'),
    checked,
    quarantined: differences.filter((difference) => difference.kind === 'quarantined').length,
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
    const quarantined = quarantine.get(id);
    if (explainsVersion(quarantined, source)) {
      differences.push({ type, id, kind: 'quarantined', reason: quarantined.reason });
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
