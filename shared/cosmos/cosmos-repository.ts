import type { Container, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { DocumentConflictError, DocumentNotFoundError } from '../core/errors.js';
import { checkQuery, creationOrder } from '../domain/document-query.js';
import { type DocumentsByType, type DocumentType, documentTypeOf, typeValuesOf } from '../domain/document-types.js';
import { normalizeDocument } from '../domain/mapping.js';
import { withMirrorMark } from '../domain/mirror-copy.js';
import type {
  AccountDocumentRepository,
  DocumentQuery,
  DocumentRepository,
  PerUserRepository,
  QueryCondition,
  Repositories,
} from '../domain/repository-contract.js';
import { validateDocument } from '../domain/validate-document.js';

/**
 * The repositories on the Cosmos `Documents` container (partition key `/pubkey`). One generic
 * implementation serves all seven types; a query that names a user runs in that user's partition
 * (the `partitionKey` option: one physical partition, no fan-out), the others cross-partition. All
 * queries are parameterised; field names come from the type descriptors (see `checkQuery`).
 *
 * Query forms are the ones Cosmos answers from its index ("Troubleshoot query issues",
 * learn.microsoft.com/azure/cosmos-db/nosql/troubleshoot-query-performance): `c.type = @type` or
 * `c.type IN (...)` rather than `ARRAY_CONTAINS(@types, c.type)`, whose first argument is a parameter and
 * so gets no index seek; range comparisons and `IS_DEFINED` on the path itself.
 */
export function createCosmosRepositories(container: Container, options: CosmosRepositoryOptions = {}): Repositories {
  return {
    account: accountRepository(container, options),
    'account-settings': perUserRepository(container, 'account-settings', options),
    'backup-job': documentRepository(container, 'backup-job', options),
    payment: documentRepository(container, 'payment', options),
    'notification-subscription': documentRepository(container, 'notification-subscription', options),
    'notification-settings': perUserRepository(container, 'notification-settings', options),
    'notification-log': documentRepository(container, 'notification-log', options),
  };
}

export interface CosmosRepositoryOptions {
  /**
   * Write each document with the mirror's mark (`domain/mirror-copy.ts`): the mirror's copies of PostgreSQL's
   * writes, which the sync must recognise as echoes when the change feed brings them back. Reads never return it.
   */
  markAsMirrorCopies?: boolean;
}

type Doc<T extends DocumentType> = DocumentsByType[T];

/** A WHERE clause and its parameters. */
interface Filter {
  clauses: string[];
  parameters: SqlParameter[];
}

/** `c.type = @type0` (or `IN` over every value the type has had), so the index answers it. */
function typeFilter(type: DocumentType): Filter {
  const parameters = typeValuesOf(type).map((value, at) => ({ name: `@type${at}`, value }));
  const names = parameters.map(({ name }) => name).join(', ');
  return { clauses: [parameters.length === 1 ? `c.type = ${names}` : `c.type IN (${names})`], parameters };
}

/** The WHERE clause of `query`, after `checkQuery`: field names are the descriptor's own. */
function filterOf<T extends DocumentType>(type: T, query: DocumentQuery<T>): Filter {
  const filter = typeFilter(type);
  const parameter = (value: unknown): string => {
    const name = `@p${filter.parameters.length}`;
    filter.parameters.push({ name, value: value as SqlParameter['value'] });
    return name;
  };
  if (query.pubkey !== undefined) filter.clauses.push(`c.pubkey = ${parameter(query.pubkey)}`);
  if (query.exceptPubkey !== undefined) filter.clauses.push(`c.pubkey != ${parameter(query.exceptPubkey)}`);
  for (const condition of query.where ?? []) filter.clauses.push(conditionClause(condition, parameter));
  return filter;
}

function conditionClause<T extends DocumentType>(condition: QueryCondition<T>, parameter: (value: unknown) => string): string {
  const path = `c.${condition.field}`;
  const absent = `NOT IS_DEFINED(${path}) OR IS_NULL(${path})`;
  if ('equals' in condition) {
    // Case-insensitive: STRINGEQUALS(..., true) is an index seek ("STRINGEQUALS", Cosmos DB query language
    // reference); LOWER(c.username) = @u cannot use the index at all (query advisor QA1006) and scans every
    // account. A computed property holding the lower-cased name, indexed, would be cheaper still (QA1003), but
    // it is a container setting the account owner must add; this form needs nothing from the container.
    const test = condition.ignoreCase
      ? `STRINGEQUALS(${path}, ${parameter(condition.equals)}, true)`
      : `${path} = ${parameter(condition.equals)}`;
    return condition.orAbsent ? `(${test} OR ${absent})` : test;
  }
  if ('atMost' in condition) {
    const test = `${path} <= ${parameter(condition.atMost)}`;
    return condition.orAbsent ? `(${absent} OR ${test})` : test;
  }
  return `${path} >= ${parameter(condition.atLeast)}`;
}

function documentRepository<T extends DocumentType>(
  container: Container,
  type: T,
  options: CosmosRepositoryOptions,
): DocumentRepository<T> {
  // One container holds all seven types, so an id alone could name another type's document.
  const body = (document: Record<string, unknown>) => (options.markAsMirrorCopies ? withMirrorMark(document) : document);
  const ofThisType = (resource: Record<string, unknown> | undefined): Doc<T> | null =>
    resource && documentTypeOf(resource.type) === type ? (normalizeDocument(resource) as Doc<T>) : null;

  const getById = async (id: string, pubkey: string): Promise<Doc<T> | null> => {
    const { resource } = await container.item(id, pubkey).read<Record<string, unknown>>();
    return ofThisType(resource);
  };

  /** Every result of a query, in one partition when `pubkey` is known. */
  const run = async <R>(spec: SqlQuerySpec, pubkey: string | undefined): Promise<R[]> => {
    const { resources } = await container.items.query<R>(spec, pubkey === undefined ? {} : { partitionKey: pubkey }).fetchAll();
    return resources;
  };

  const find = async (query: DocumentQuery<T>): Promise<Doc<T>[]> => {
    checkQuery(type, query);
    const { clauses, parameters } = filterOf(type, query);
    let top = '';
    if (query.limit !== undefined) {
      top = 'TOP @limit ';
      parameters.push({ name: '@limit', value: query.limit });
    }
    const order = query.orderBy ? ` ORDER BY c.${query.orderBy.field} ${query.orderBy.direction === 'desc' ? 'DESC' : 'ASC'}` : '';
    const resources = await run<Record<string, unknown>>(
      { query: `SELECT ${top}* FROM c WHERE ${clauses.join(' AND ')}${order}`, parameters },
      query.pubkey,
    );
    return resources.map((resource) => normalizeDocument(resource) as Doc<T>);
  };

  return {
    type,
    getById,
    find,

    listByPubkey: (pubkey) => find({ pubkey, orderBy: creationOrder(type, 'asc') }),

    async count(query = {}) {
      checkQuery(type, query);
      const { clauses, parameters } = filterOf(type, query);
      // Cross-partition, each partition answers a partial count: the SDK sums them (its aggregate pipeline).
      const partials = await run<number>(
        { query: `SELECT VALUE COUNT(1) FROM c WHERE ${clauses.join(' AND ')}`, parameters },
        query.pubkey,
      );
      return partials.reduce((total, partial) => total + partial, 0);
    },

    async pubkeysOf(query) {
      checkQuery(type, query);
      const { clauses, parameters } = filterOf(type, query);
      // Not SELECT DISTINCT: a user's documents all live in the user's partition, so the duplicates DISTINCT
      // would drop are only a user's several documents (a few devices each); the set below removes them, and
      // the query stays one that every Cosmos endpoint and the project's double answer alike.
      const pubkeys = await run<string>({ query: `SELECT VALUE c.pubkey FROM c WHERE ${clauses.join(' AND ')}`, parameters }, query.pubkey);
      return [...new Set(pubkeys)].sort();
    },

    async create(input) {
      const { document } = validateDocument(type, input);
      try {
        const { resource } = await container.items.create(body(document));
        return normalizeDocument(resource ?? document) as Doc<T>;
      } catch (error) {
        if (hasStatus(error, 409)) throw new DocumentConflictError(type, document.id);
        throw error;
      }
    },

    async update(input) {
      const { document } = validateDocument(type, input);
      if (!(await getById(document.id, document.pubkey))) throw new DocumentNotFoundError(type, document.id);
      try {
        const { resource } = await container.item(document.id, document.pubkey).replace(body(document));
        return normalizeDocument(resource ?? document) as Doc<T>;
      } catch (error) {
        if (hasStatus(error, 404)) throw new DocumentNotFoundError(type, document.id);
        throw error;
      }
    },

    async upsert(input) {
      const { document } = validateDocument(type, input);
      const { resource } = await container.items.upsert(body(document));
      return normalizeDocument(resource ?? document) as Doc<T>;
    },

    async delete(id, pubkey) {
      if (!(await getById(id, pubkey))) return false;
      return deleteItem(container, id, pubkey);
    },
  };
}

async function deleteItem(container: Container, id: string, pubkey: string): Promise<boolean> {
  try {
    await container.item(id, pubkey).delete();
    return true;
  } catch (error) {
    if (hasStatus(error, 404)) return false;
    throw error;
  }
}

function perUserRepository<T extends DocumentType>(container: Container, type: T, options: CosmosRepositoryOptions): PerUserRepository<T> {
  const base = documentRepository(container, type, options);

  /** The ids of the user's documents of this type: one partition, ids only. */
  const idsOf = async (pubkey: string): Promise<string[]> => {
    const { clauses, parameters } = filterOf(type, { pubkey });
    const { resources } = await container.items
      .query<string>({ query: `SELECT VALUE c.id FROM c WHERE ${clauses.join(' AND ')}`, parameters }, { partitionKey: pubkey })
      .fetchAll();
    return resources;
  };

  return {
    ...base,
    async getByPubkey(pubkey) {
      // The service names these documents `{type}-{pubkey}`: a point read finds them for 1 RU.
      const canonical = await base.getById(`${type}-${pubkey}`, pubkey);
      if (canonical) return canonical;
      // Older documents carry other ids (and settings the `user-settings` type); the oldest wins.
      const [oldest] = await base.listByPubkey(pubkey);
      return oldest ?? null;
    },

    async upsert(input) {
      const written = await base.upsert(input);
      // Written first, so the user is never without the document; then the older copies under other ids
      // go, as PostgreSQL's one row per user replaces them (the contract's "one document per user").
      for (const id of await idsOf(written.pubkey)) {
        if (id !== written.id) await deleteItem(container, id, written.pubkey);
      }
      return written;
    },

    async deleteByPubkey(pubkey) {
      const deleted: string[] = [];
      for (const id of await idsOf(pubkey)) {
        if (await deleteItem(container, id, pubkey)) deleted.push(id);
      }
      return deleted;
    },
  };
}

function accountRepository(container: Container, options: CosmosRepositoryOptions): AccountDocumentRepository {
  const base = perUserRepository(container, 'account', options);
  return {
    ...base,
    async getByUsername(username) {
      // Cross-partition: usernames are unique ignoring case only by the service's rule, so the oldest wins.
      const [oldest] = await base.find({
        where: [{ field: 'username', equals: username, ignoreCase: true }],
        orderBy: { field: 'created', direction: 'asc' },
        limit: 1,
      });
      return oldest ?? null;
    },
  };
}

function hasStatus(error: unknown, status: number): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === status;
}
