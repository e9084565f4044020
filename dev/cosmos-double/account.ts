import { type PartitionKeyDefinition, PartitionKeyDefinitionVersion, PartitionKeyKind } from '@azure/cosmos';
import { type ContainerSettings, CosmosContainer, type Failure } from './container.js';
import { newContainerRid, newDatabaseRid, newEtag } from './resource-ids.js';

/**
 * The account's databases and containers, with the resource bodies Cosmos returns for them ("Azure
 * Cosmos DB resource model", learn.microsoft.com/azure/cosmos-db/resource-model): ids, `_rid`s,
 * `_self` links, `_etag`, `_ts`. Creating an existing id answers 409, reading a missing one 404.
 */

interface Database {
  id: string;
  rid: string;
  ts: number;
  etag: string;
  containers: Map<string, CosmosContainer>;
}

export type ResourceOutcome = { status: 200 | 201 | 204; body: Record<string, unknown> | undefined } | Failure;

export class CosmosAccount {
  readonly #databases = new Map<string, Database>();

  constructor(readonly settings: ContainerSettings) {}

  listDatabases(): Record<string, unknown>[] {
    return [...this.#databases.values()].map(databaseBody);
  }

  readDatabase(id: string): ResourceOutcome {
    const database = this.#databases.get(id);
    return database ? { status: 200, body: databaseBody(database) } : notFound('database', id);
  }

  createDatabase(body: unknown): ResourceOutcome {
    const id = idOf(body);
    if (id === undefined) return badRequest('A database needs a string id');
    if (this.#databases.has(id)) return conflict('database', id);
    const database: Database = { id, rid: newDatabaseRid(), ts: this.#seconds(), etag: newEtag(), containers: new Map() };
    this.#databases.set(id, database);
    return { status: 201, body: databaseBody(database) };
  }

  deleteDatabase(id: string): ResourceOutcome {
    return this.#databases.delete(id) ? { status: 204, body: undefined } : notFound('database', id);
  }

  container(databaseId: string, containerId: string): CosmosContainer | undefined {
    return this.#databases.get(databaseId)?.containers.get(containerId);
  }

  listContainers(databaseId: string): Record<string, unknown>[] | undefined {
    const database = this.#databases.get(databaseId);
    return database && [...database.containers.values()].map(containerBody);
  }

  readContainer(databaseId: string, containerId: string): ResourceOutcome {
    const container = this.container(databaseId, containerId);
    return container ? { status: 200, body: containerBody(container) } : notFound('container', containerId);
  }

  /**
   * Creates a container with the configured number of physical partitions. The partition key keeps
   * the version the client asked for: the SDK's `containers.create({ partitionKey: { paths } })`
   * sends none, and both the SDK ("if not specified the default value is 1", PartitionKeyDefinition)
   * and the service then hash with V1, the service omitting `version` when it reads the container
   * back; version 2 ("Create containers with large partition key") is echoed as `version: 2`.
   */
  createContainer(databaseId: string, body: unknown): ResourceOutcome {
    const database = this.#databases.get(databaseId);
    if (!database) return notFound('database', databaseId);
    const id = idOf(body);
    if (id === undefined) return badRequest('A container needs a string id');
    if (database.containers.has(id)) return conflict('container', id);
    // The request body is the client's JSON: nothing in it is typed yet.
    const requested = (body as { partitionKey?: { paths?: unknown; kind?: unknown; version?: unknown } }).partitionKey;
    const paths = requested?.paths;
    if (!Array.isArray(paths) || paths.length !== 1 || typeof paths[0] !== 'string' || !paths[0].startsWith('/')) {
      return badRequest('The Cosmos double supports containers partitioned on one path');
    }
    if (requested?.kind !== undefined && requested.kind !== 'Hash') {
      return badRequest('Only Hash partitioning is supported by the Cosmos double');
    }
    const partitionKey: PartitionKeyDefinition =
      requested?.version === 2
        ? { paths: [paths[0]], kind: PartitionKeyKind.Hash, version: PartitionKeyDefinitionVersion.V2 }
        : { paths: [paths[0]], kind: PartitionKeyKind.Hash };
    const properties = {
      indexingPolicy: {
        indexingMode: 'consistent',
        automatic: true,
        includedPaths: [{ path: '/*' }],
        excludedPaths: [{ path: '/"_etag"/?' }],
      },
      conflictResolutionPolicy: { mode: 'LastWriterWins', conflictResolutionPath: '/_ts', conflictResolutionProcedure: '' },
      geospatialConfig: { type: 'Geography' },
      ...(body as Record<string, unknown>),
      id,
      partitionKey,
    };
    const container = new CosmosContainer(id, newContainerRid(database.rid), database.rid, properties, this.settings);
    database.containers.set(id, container);
    return { status: 201, body: containerBody(container) };
  }

  deleteContainer(databaseId: string, containerId: string): ResourceOutcome {
    return this.#databases.get(databaseId)?.containers.delete(containerId)
      ? { status: 204, body: undefined }
      : notFound('container', containerId);
  }

  #seconds(): number {
    return Math.floor(this.settings.now() / 1000);
  }
}

function databaseBody(database: Database): Record<string, unknown> {
  return {
    id: database.id,
    _rid: database.rid,
    _self: `dbs/${database.rid}/`,
    _etag: database.etag,
    _colls: 'colls/',
    _users: 'users/',
    _ts: database.ts,
  };
}

function containerBody(container: CosmosContainer): Record<string, unknown> {
  return {
    ...container.properties,
    _rid: container.rid,
    _ts: container.createdTs,
    _self: `dbs/${container.databaseRid}/colls/${container.rid}/`,
    _etag: container.etag,
    _docs: 'docs/',
    _sprocs: 'sprocs/',
    _triggers: 'triggers/',
    _udfs: 'udfs/',
    _conflicts: 'conflicts/',
  };
}

function idOf(body: unknown): string | undefined {
  const id = body !== null && typeof body === 'object' ? (body as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length > 0 && !/[/\\?#]/.test(id) ? id : undefined;
}

function badRequest(message: string): Failure {
  return { status: 400, code: 'BadRequest', message };
}

function notFound(kind: string, id: string): Failure {
  return { status: 404, code: 'NotFound', message: `The ${kind} ${id} does not exist` };
}

function conflict(kind: string, id: string): Failure {
  return { status: 409, code: 'Conflict', message: `A ${kind} with id ${id} already exists` };
}
