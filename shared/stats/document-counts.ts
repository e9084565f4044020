import type { Container } from '@azure/cosmos';
import { countDocuments } from '../cosmos/document-source.js';
import { type DocumentType, documentTypeNames, documentTypeOf, documentTypes } from '../domain/document-types.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { countQuarantine } from '../postgres/quarantine-store.js';

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

/** The quarantine as stats show it. */
export interface QuarantineTally {
  /** Open entries per type. */
  openByType: QuarantineCounts;
  /** Open entries per reason code (`unmappable`, `refused`, `conflict`, `displaced`, or another writer's code). */
  openByReason: Record<string, number>;
  /** Open and resolved entries per type: documents Cosmos holds that the migration has dealt with. */
  accountedByType: QuarantineCounts;
  /** Entries an operator accepted, and entries whose documents were deleted in Cosmos: kept, no longer counted as open. */
  resolved: number;
  closed: number;
}

function noQuarantineCounts(): QuarantineCounts {
  return Object.fromEntries([...documentTypeNames, otherType].map((type) => [type, 0])) as QuarantineCounts;
}

/** The quarantine per status, type and reason; aliases count under their type, unknown or missing types under `other`. */
export async function countQuarantinedDocuments(prisma: PrismaClient): Promise<QuarantineTally> {
  const tally: QuarantineTally = {
    openByType: noQuarantineCounts(),
    openByReason: {},
    accountedByType: noQuarantineCounts(),
    resolved: 0,
    closed: 0,
  };
  for (const group of await countQuarantine(prisma)) {
    const type = documentTypeOf(group.type) ?? otherType;
    if (group.status === 'closed') tally.closed += group.count;
    else tally.accountedByType[type] += group.count;
    if (group.status === 'resolved') tally.resolved += group.count;
    if (group.status !== 'open') continue;
    tally.openByType[type] += group.count;
    tally.openByReason[group.reasonCode] = (tally.openByReason[group.reasonCode] ?? 0) + group.count;
  }
  return tally;
}
