import { type DocumentType, documentTypes } from '../domain/document-types.js';
import type { ColumnKind } from '../domain/fields.js';
import type { Row } from '../domain/mapping.js';
import { Prisma } from './generated/prisma/client.js';

/**
 * A mapped row as Prisma's model delegates take it. The one place the two value conversions live:
 * BIGINT columns want `BigInt`, and a nullable JSONB column wants `Prisma.DbNull` for SQL NULL (a
 * plain `null` would be refused). Reading back needs nothing: `rowToDocument` accepts BigInt.
 */
export function toPrismaData(type: DocumentType, row: Row): Record<string, unknown> {
  const descriptor = documentTypes[type];
  const data: Record<string, unknown> = {
    id: row.id,
    pubkey: row.pubkey,
    extra: row.extra,
    cosmosTs: BigInt(row.cosmosTs),
    cosmosEtag: row.cosmosEtag,
    cosmosLsn: row.cosmosLsn === null ? null : BigInt(row.cosmosLsn),
  };
  if (descriptor.storesType) data.type = row.type;
  for (const [column, kind] of Object.entries(descriptor.columns)) {
    data[column] = toColumnValue(kind, row[column]);
  }
  return data;
}

function toColumnValue(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return kind === 'json' ? Prisma.DbNull : null;
  if (kind === 'timestamp' || kind === 'bigint') return BigInt(value as number);
  return value;
}
