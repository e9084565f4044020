import { DocumentConflictError, DocumentNotFoundError } from '../core/errors.js';
import { creationField } from '../domain/creation-field.js';
import { documentHash } from '../domain/document-hash.js';
import { checkQuery, kindOf } from '../domain/document-query.js';
import { type DocumentsByType, type DocumentType, documentTypes } from '../domain/document-types.js';
import { rowToDocument } from '../domain/mapping.js';
import type {
  AccountDocumentRepository,
  DocumentQuery,
  DocumentRepository,
  PerUserRepository,
  QueryCondition,
  Repositories,
} from '../domain/repository-contract.js';
import { validateDocument } from '../domain/validate-document.js';
import { Prisma } from './generated/prisma/client.js';
import type { PrismaClient } from './prisma-client.js';
import { toPrismaData } from './row-values.js';
import { quoteIdentifier } from './sql-identifier.js';

/**
 * The repositories on PostgreSQL: writes and point reads through the Prisma model delegates, queries
 * (`find`, `count`, `pubkeysOf`) as one parameterised SELECT each, compiled from the query with identifiers
 * from the type descriptors only. Raw SQL there because Prisma cannot say `lower("username") = lower($1)`,
 * the form the expression index `accounts_username_lower_idx` answers (its `mode: 'insensitive'` becomes
 * ILIKE, which no B-tree index serves). Results are rebuilt with `rowToDocument`, so they have exactly the
 * shape the Cosmos repositories return.
 */
export function createPrismaRepositories(prisma: PrismaClient): Repositories {
  return {
    account: accountRepository(prisma),
    'account-settings': perUserRepository(prisma, 'account-settings'),
    'backup-job': documentRepository(prisma, 'backup-job'),
    payment: documentRepository(prisma, 'payment'),
    'notification-subscription': documentRepository(prisma, 'notification-subscription'),
    'notification-settings': perUserRepository(prisma, 'notification-settings'),
    'notification-log': documentRepository(prisma, 'notification-log'),
  };
}

type Doc<T extends DocumentType> = DocumentsByType[T];
type Where = Record<string, unknown>;
type Data = Record<string, unknown>;
type OrderBy = Array<Record<string, 'asc' | 'desc'>>;

/** The part of a Prisma model delegate the repositories use; the seven delegates all have it. */
interface ModelDelegate {
  findFirst(args: { where: Where; orderBy?: OrderBy }): Promise<Record<string, unknown> | null>;
  findMany(args: { where: Where; orderBy?: OrderBy }): Promise<Record<string, unknown>[]>;
  create(args: { data: Data }): Promise<unknown>;
  updateMany(args: { where: Where; data: Data }): Promise<{ count: number }>;
  upsert(args: { where: Where; create: Data; update: Data }): Promise<unknown>;
  deleteMany(args: { where: Where }): Promise<{ count: number }>;
}

function delegateFor(prisma: PrismaClient, type: DocumentType): ModelDelegate {
  const { model } = documentTypes[type];
  // Prisma types each delegate separately, so they cannot be indexed by a model name without a cast.
  const delegate = (prisma as unknown as Record<string, ModelDelegate | undefined>)[model];
  if (!delegate) throw new Error(`the Prisma client has no model "${model}"; regenerate it (npm run prisma:generate)`);
  return delegate;
}

/** One document's row as stored, version columns (`cosmosTs`, `cosmosEtag`) included; null if there is none. */
export function readRow(prisma: PrismaClient, type: DocumentType, id: string, pubkey: string): Promise<Record<string, unknown> | null> {
  return delegateFor(prisma, type).findFirst({ where: { id, pubkey } });
}

function documentRepository<T extends DocumentType>(prisma: PrismaClient, type: T): DocumentRepository<T> {
  const delegate = delegateFor(prisma, type);
  const { key } = documentTypes[type];
  const toDocument = (row: Record<string, unknown>) => rowToDocument(type, row) as Doc<T>;
  const oldestFirst: OrderBy = [{ [creationField[type]]: 'asc' }, { id: 'asc' }];

  /**
   * Validates the input and stamps the row as written here, now, and awaiting Cosmos: until the change feed
   * shows Cosmos holding this very version (the mirror's copy, marked with the same hash), no version from
   * Cosmos replaces or deletes the row (docs/architecture.md, "awaiting Cosmos").
   */
  const prepare = (input: unknown) => {
    const { row, document } = validateDocument(type, input);
    const data = toPrismaData(type, { ...row, cosmosTs: Math.floor(Date.now() / 1000), cosmosEtag: null, cosmosLsn: null });
    data.awaitingCosmos = documentHash(document);
    return { data, document: document as Doc<T> };
  };

  const table = Prisma.raw(quoteIdentifier(documentTypes[type].table));

  const find = async (query: DocumentQuery<T>): Promise<Doc<T>[]> => {
    checkQuery(type, query);
    const direction = query.orderBy?.direction === 'desc' ? 'DESC' : 'ASC';
    const order = query.orderBy
      ? Prisma.sql`ORDER BY ${Prisma.raw(quoteIdentifier(query.orderBy.field))} ${Prisma.raw(direction)}`
      : Prisma.empty;
    const limit = query.limit === undefined ? Prisma.empty : Prisma.sql`LIMIT ${query.limit}`;
    const rows = await prisma.$queryRaw<Record<string, unknown>[]>`SELECT * FROM ${table} ${whereOf(type, query)} ${order} ${limit}`;
    return rows.map(toDocument);
  };

  return {
    type,
    find,

    async getById(id, pubkey) {
      const row = await readRow(prisma, type, id, pubkey);
      return row ? toDocument(row) : null;
    },

    async listByPubkey(pubkey) {
      const rows = await delegate.findMany({ where: { pubkey }, orderBy: oldestFirst });
      return rows.map(toDocument);
    },

    async count(query = {}) {
      checkQuery(type, query);
      const [row] = await prisma.$queryRaw<{ count: bigint }[]>`SELECT count(*) AS "count" FROM ${table} ${whereOf(type, query)}`;
      return Number(row?.count ?? 0);
    },

    async pubkeysOf(query) {
      checkQuery(type, query);
      const rows = await prisma.$queryRaw<{ pubkey: string }[]>`SELECT DISTINCT "pubkey" FROM ${table} ${whereOf(type, query)}`;
      return rows.map((row) => row.pubkey).sort();
    },

    async create(input) {
      const { data, document } = prepare(input);
      try {
        await delegate.create({ data });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DocumentConflictError(type, document.id);
        throw error;
      }
      return document;
    },

    async update(input) {
      const { data, document } = prepare(input);
      const { count } = await delegate.updateMany({ where: { id: document.id, pubkey: document.pubkey }, data });
      if (count === 0) throw new DocumentNotFoundError(type, document.id);
      return document;
    },

    async upsert(input) {
      const { data, document } = prepare(input);
      // Per-user tables hold one row per pubkey, whatever its id; elsewhere the id must stay with its
      // owner, so an id another user holds is a conflict rather than a takeover.
      const where = key === 'pubkey' ? { pubkey: document.pubkey } : { id: document.id, pubkey: document.pubkey };
      try {
        await delegate.upsert({ where, create: data, update: data });
      } catch (error) {
        if (isUniqueViolation(error)) throw new DocumentConflictError(type, document.id);
        throw error;
      }
      return document;
    },

    async delete(id, pubkey) {
      const { count } = await delegate.deleteMany({ where: { id, pubkey } });
      if (count > 0) await rememberDeletes(prisma, pubkey, [id]);
      return count > 0;
    },
  };
}

function perUserRepository<T extends DocumentType>(prisma: PrismaClient, type: T): PerUserRepository<T> {
  const base = documentRepository(prisma, type);
  const delegate = delegateFor(prisma, type);
  const table = Prisma.raw(quoteIdentifier(documentTypes[type].table));
  return {
    ...base,
    async getByPubkey(pubkey) {
      // Keyed by pubkey: legacy ids and `user-settings` rows are found the same way.
      const row = await delegate.findFirst({ where: { pubkey } });
      return row ? (rowToDocument(type, row) as Doc<T>) : null;
    },

    async deleteByPubkey(pubkey) {
      const rows = await prisma.$queryRaw<{ id: string }[]>`DELETE FROM ${table} WHERE "pubkey" = ${pubkey} RETURNING "id"`;
      const ids = rows.map((row) => row.id);
      if (ids.length > 0) await rememberDeletes(prisma, pubkey, ids);
      return ids;
    },
  };
}

function accountRepository(prisma: PrismaClient): AccountDocumentRepository {
  const base = perUserRepository(prisma, 'account');
  return {
    ...base,
    async getByUsername(username) {
      const [oldest] = await base.find({
        where: [{ field: 'username', equals: username, ignoreCase: true }],
        orderBy: { field: 'created', direction: 'asc' },
        limit: 1,
      });
      return oldest ?? null;
    },
  };
}

/**
 * Records the service's deletes as tombstones (now, by this process's clock, with no change-feed position), as
 * the sync records Cosmos's: a copy of the document that Cosmos still holds, or that reaches the change feed
 * late, is then never written back (rule 6 of `version-order.ts`; a genuine later write there is kept as
 * diverged instead, see `sync/diverged-changes.ts`).
 */
async function rememberDeletes(prisma: PrismaClient, pubkey: string, ids: readonly string[]): Promise<void> {
  const deletedAt = Math.floor(Date.now() / 1000);
  await prisma.$executeRaw`
    INSERT INTO "tombstones" AS t ("pubkey", "id", "cosmosTs", "cosmosLsn")
    SELECT ${pubkey}, d."id", ${deletedAt}, NULL FROM unnest(${ids}::text[]) AS d("id")
    ON CONFLICT ("pubkey", "id") DO UPDATE SET "cosmosTs" = EXCLUDED."cosmosTs", "cosmosLsn" = NULL, "deletedAt" = now()
    WHERE EXCLUDED."cosmosTs" > t."cosmosTs"`;
}

/** The WHERE clause of `query` on `type`'s table, after `checkQuery`; every value a parameter. */
function whereOf<T extends DocumentType>(type: T, query: DocumentQuery<T>): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (query.pubkey !== undefined) parts.push(Prisma.sql`"pubkey" = ${query.pubkey}`);
  if (query.exceptPubkey !== undefined) parts.push(Prisma.sql`"pubkey" <> ${query.exceptPubkey}`);
  for (const condition of query.where ?? []) parts.push(conditionSql(type, condition));
  return parts.length === 0 ? Prisma.empty : Prisma.sql`WHERE ${Prisma.join(parts, ' AND ')}`;
}

function conditionSql<T extends DocumentType>(type: T, condition: QueryCondition<T>): Prisma.Sql {
  const column = Prisma.raw(quoteIdentifier(condition.field));
  const absent = Prisma.sql`${column} IS NULL`;
  // BIGINT columns get BigInt parameters, so the comparison stays on the column's type (and its index).
  const value = (bound: string | number | boolean) =>
    ['timestamp', 'bigint'].includes(kindOf(type, condition.field)) ? BigInt(bound) : bound;
  let test: Prisma.Sql;
  if ('equals' in condition) {
    test = condition.ignoreCase
      ? Prisma.sql`lower(${column}) = lower(${condition.equals})`
      : Prisma.sql`${column} = ${value(condition.equals)}`;
  } else if ('atMost' in condition) {
    test = Prisma.sql`${column} <= ${value(condition.atMost)}`;
  } else {
    test = Prisma.sql`${column} >= ${value(condition.atLeast)}`;
  }
  return 'orAbsent' in condition && condition.orAbsent ? Prisma.sql`(${test} OR ${absent})` : test;
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}
