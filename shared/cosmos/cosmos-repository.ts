import type { Container, SqlParameter, SqlQuerySpec } from '@azure/cosmos';
import { DocumentConflictError, DocumentNotFoundError } from '../core/errors.js';
import { creationField } from '../domain/creation-field.js';
import { type DocumentsByType, type DocumentType, documentTypeOf, typeValuesOf } from '../domain/document-types.js';
import { normalizeDocument } from '../domain/mapping.js';
import {
  type AccountRepository,
  type DocumentRepository,
  type PerUserRepository,
  type Repositories,
} from '../domain/repository-contract.js';
import { validateDocument } from '../domain/validate-document.js';

/**
 * The repositories on the Cosmos `Documents` container (partition key `/pubkey`). One generic
 * implementation serves all seven types; reads scoped to a user name the partition, username
 * lookups and counts are cross-partition. All queries are parameterised.
 */
export function createCosmosRepositories(container: Container): Repositories {
  return {
    account: accountRepository(container),
    'account-settings': perUserRepository(container, 'account-settings'),
    'backup-job': documentRepository(container, 'backup-job'),
    payment: documentRepository(container, 'payment'),
    'notification-subscription': documentRepository(container, 'notification-subscription'),
    'notification-settings': perUserRepository(container, 'notification-settings'),
    'notification-log': documentRepository(container, 'notification-log'),
  };
}

type Doc<T extends DocumentType> = DocumentsByType[T];

function documentRepository<T extends DocumentType>(container: Container, type: T): DocumentRepository<T> {
  const typeValues: SqlParameter = { name: '@types', value: [...typeValuesOf(type)] };

  // One container holds all seven types, so an id alone could name another type's document.
  const ofThisType = (resource: Record<string, unknown> | undefined): Doc<T> | null =>
    resource && documentTypeOf(resource.type) === type ? (normalizeDocument(resource) as Doc<T>) : null;

  const getById = async (id: string, pubkey: string): Promise<Doc<T> | null> => {
    const { resource } = await container.item(id, pubkey).read<Record<string, unknown>>();
    return ofThisType(resource);
  };

  const query = async (spec: SqlQuerySpec, pubkey?: string): Promise<Doc<T>[]> => {
    const { resources } = await container.items
      .query<Record<string, unknown>>(spec, pubkey === undefined ? {} : { partitionKey: pubkey })
      .fetchAll();
    return resources.map((resource) => normalizeDocument(resource) as Doc<T>);
  };

  return {
    type,
    getById,

    listByPubkey: (pubkey) =>
      query(
        {
          // The field name comes from a fixed table, never from input.
          query: `SELECT * FROM c WHERE c.pubkey = @pubkey AND ARRAY_CONTAINS(@types, c.type) ORDER BY c.${creationField[type]}`,
          parameters: [{ name: '@pubkey', value: pubkey }, typeValues],
        },
        pubkey,
      ),

    async create(input) {
      const { document } = validateDocument(type, input);
      try {
        const { resource } = await container.items.create(document);
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
        const { resource } = await container.item(document.id, document.pubkey).replace(document);
        return normalizeDocument(resource ?? document) as Doc<T>;
      } catch (error) {
        if (hasStatus(error, 404)) throw new DocumentNotFoundError(type, document.id);
        throw error;
      }
    },

    async upsert(input) {
      const { document } = validateDocument(type, input);
      const { resource } = await container.items.upsert(document);
      return normalizeDocument(resource ?? document) as Doc<T>;
    },

    async delete(id, pubkey) {
      if (!(await getById(id, pubkey))) return false;
      try {
        await container.item(id, pubkey).delete();
        return true;
      } catch (error) {
        if (hasStatus(error, 404)) return false;
        throw error;
      }
    },

    async count() {
      const { resources } = await container.items
        .query<number>({ query: 'SELECT VALUE COUNT(1) FROM c WHERE ARRAY_CONTAINS(@types, c.type)', parameters: [typeValues] })
        .fetchAll();
      return resources.reduce((total, partial) => total + partial, 0);
    },
  };
}

function perUserRepository<T extends DocumentType>(container: Container, type: T): PerUserRepository<T> {
  const base = documentRepository(container, type);
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
  };
}

function accountRepository(container: Container): AccountRepository {
  const base = perUserRepository(container, 'account');
  return {
    ...base,
    async getByUsername(username) {
      // Cross-partition: usernames are unique ignoring case only by the service's rule, so the oldest wins.
      const { resources } = await container.items
        .query<Record<string, unknown>>({
          query: 'SELECT TOP 1 * FROM c WHERE ARRAY_CONTAINS(@types, c.type) AND LOWER(c.username) = @username ORDER BY c.created',
          parameters: [
            { name: '@types', value: [...typeValuesOf('account')] },
            { name: '@username', value: username.toLowerCase() },
          ],
        })
        .fetchAll();
      const [first] = resources;
      return first ? (normalizeDocument(first) as Doc<'account'>) : null;
    },
  };
}

function hasStatus(error: unknown, status: number): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === status;
}
