import type { Container } from '@azure/cosmos';
import { countDocuments } from '../cosmos/document-source.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../domain/document-types.js';
import type { PrismaClient } from '../postgres/prisma-client.js';

/**
 * Documents of one type in Cosmos, aliases included (`user-settings` counts as `account-settings`): the set a migration
 * of the type reads.
 */
export function countCosmosDocuments(container: Container, type: DocumentType): Promise<number> {
  return countDocuments(container, { type });
}

/** Rows in a type's table. */
export async function countPostgresRows(prisma: PrismaClient, type: DocumentType): Promise<number> {
  const [row] = await prisma.$queryRawUnsafe<Array<{ count: bigint }>>(
    `SELECT count(*)::bigint AS count FROM "${documentTypes[type].table}"`,
  );
  return Number(row?.count ?? 0);
}

/** Where quarantined documents whose `type` names none of the seven are counted. */
export const otherType = 'other';

export type QuarantineCounts = Record<DocumentType | typeof otherType, number>;

/** Quarantined documents per type; aliases count under their type, unknown or missing types under `other`. */
export async function countQuarantinedByType(prisma: PrismaClient): Promise<QuarantineCounts> {
  const groups = await prisma.quarantinedDocument.groupBy({ by: ['type'], _count: { _all: true } });
  const counts = Object.fromEntries([...documentTypeNames, otherType].map((type) => [type, 0])) as QuarantineCounts;
  for (const group of groups) {
    counts[documentTypeOf(group.type) ?? otherType] += group._count._all;
  }
  return counts;
}
