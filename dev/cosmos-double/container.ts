import type { PartitionKeyDefinition, PrimitivePartitionKeyValue } from '@azure/cosmos';
import { Change, type ChangeFeedLog, type ChangeFeedMode, etagOf } from './change-feed-log.js';
import type { DocumentScan } from './query-engine.js';
import { documentRid, newEtag } from './resource-ids.js';
import { type PartitionKeyRange, RoutingMap } from './routing-map.js';

/**
 * One container: its routing map (several physical partitions) and the semantics of document
 * operations as "Azure Cosmos DB REST API: Documents" describes them (learn.microsoft.com/rest/api/
 * cosmos-db/documents): create answers 409 when the id exists in the logical partition, replace and
 * delete 404 when it does not, and any of them 412 when `If-Match` names another `_etag`.
 */

export interface ContainerSettings {
  /** Physical partitions of a new container. */
  partitions: number;
  /** Milliseconds since the epoch: `_ts`, `crts` and the change feed's start-from-time use it. */
  now: () => number;
  /** Whether all-versions-and-deletes items carry `previous` (see {@link readChangeFeed}). */
  previousImages: boolean;
}

export type Failure = { status: 400 | 404 | 409 | 412; code: string; message: string };

export type WriteOutcome = { status: 200 | 201 | 204; change: Change; range: PartitionKeyRange } | Failure;

export type ReadOutcome = { status: 200 | 304; change: Change; range: PartitionKeyRange } | Failure;

/** What a query or change feed request addresses, resolved from its headers. */
export type Target =
  | { kind: 'range'; range: PartitionKeyRange; partitionKey: string | undefined; epkMin: string | undefined; epkMax: string | undefined }
  | { kind: 'gone' }
  | { kind: 'cross-partition' }
  | Failure;

export interface ChangeFeedRequest {
  mode: ChangeFeedMode;
  /** A continuation (the ETag of a previous page), or `*` for "from now". */
  ifNoneMatch: string | undefined;
  /** Start from a point in time (HTTP date). */
  ifModifiedSince: string | undefined;
  maxItemCount: number;
}

export type ChangeFeedOutcome = { status: 200 | 304; items: string[]; etag: string; examined: number; bytes: number } | Failure;

const systemProperties = ['_rid', '_self', '_etag', '_attachments', '_ts', '_lsn'];

export class CosmosContainer {
  readonly routing: RoutingMap;
  readonly createdTs: number;
  readonly etag = newEtag();
  readonly #settings: ContainerSettings;
  readonly #partitionKeys = new Map<string, { key: string; epk: string }>();
  #lastSeq = 0;
  #writes = 0;

  constructor(
    readonly id: string,
    readonly rid: string,
    readonly databaseRid: string,
    /** The container's properties as created (without system properties). */
    readonly properties: Record<string, unknown> & { partitionKey: PartitionKeyDefinition },
    settings: ContainerSettings,
  ) {
    this.routing = new RoutingMap(properties.partitionKey, settings.partitions);
    this.#settings = settings;
    this.createdTs = this.#seconds();
  }

  /** Canonical partition key (header form) and values, from the header the SDK sends. */
  #parsePartitionKeyHeader(header: string): { key: string; values: PrimitivePartitionKeyValue[] } | Failure {
    let values: unknown;
    try {
      values = JSON.parse(header);
    } catch {
      return badRequest(`The partition key ${header} is not valid JSON`);
    }
    if (!Array.isArray(values) || values.length !== this.properties.partitionKey.paths.length || !values.every(isKeyComponent)) {
      return badRequest(`The partition key ${header} does not match the container's definition`);
    }
    return { key: JSON.stringify(values), values: values as PrimitivePartitionKeyValue[] };
  }

  /** The partition key a document carries at the container's paths; a missing value is "none" (`{}`). */
  #partitionKeyOf(document: Record<string, unknown>): { key: string; values: PrimitivePartitionKeyValue[] } | Failure {
    const values: unknown[] = this.properties.partitionKey.paths.map((path) => {
      let value: unknown = document;
      for (const segment of path.split('/').filter(Boolean)) {
        value =
          value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[segment] : undefined;
      }
      return value === undefined ? {} : value;
    });
    if (!values.every(isKeyComponent)) return badRequest('Partition key values must be strings, numbers, booleans or null');
    return { key: JSON.stringify(values), values: values as PrimitivePartitionKeyValue[] };
  }

  read(id: string, partitionKeyHeader: string | undefined, ifNoneMatch: string | undefined): ReadOutcome {
    const located = this.#locate(partitionKeyHeader);
    if ('status' in located) return located;
    const change = located.range.store.read(located.key, id);
    if (!change) return notFound();
    return { status: ifNoneMatch !== undefined && ifNoneMatch === change.etag ? 304 : 200, change, range: located.range };
  }

  create(body: unknown, partitionKeyHeader: string | undefined): WriteOutcome {
    return this.#write('create', body, partitionKeyHeader, undefined, undefined);
  }

  upsert(body: unknown, partitionKeyHeader: string | undefined, ifMatch: string | undefined): WriteOutcome {
    return this.#write('upsert', body, partitionKeyHeader, undefined, ifMatch);
  }

  replace(id: string, body: unknown, partitionKeyHeader: string | undefined, ifMatch: string | undefined): WriteOutcome {
    return this.#write('replace', body, partitionKeyHeader, id, ifMatch);
  }

  delete(id: string, partitionKeyHeader: string | undefined, ifMatch: string | undefined): WriteOutcome {
    const located = this.#locate(partitionKeyHeader);
    if ('status' in located) return located;
    const { range, key } = located;
    const existing = range.store.read(key, id);
    if (!existing) return notFound();
    if (ifMatch !== undefined && ifMatch !== existing.etag) return preconditionFailed();
    const change = new Change(
      range.store.lsn + 1,
      this.#seconds(),
      'delete',
      id,
      key,
      existing.epk,
      existing.seq,
      existing.text,
      existing.version,
      existing,
    );
    range.store.commit(change);
    return { status: 204, change, range };
  }

  /**
   * The range (and, for a single-partition request, the logical partition and EPK sub-range) that a
   * query or change feed request addresses. A range id that a split retired answers 410 with
   * substatus 1002 (PartitionKeyRangeGone), which makes the SDK re-read the ranges and retry.
   */
  target(headers: { partitionKey?: string; rangeId?: string; startEpk?: string; endEpk?: string }): Target {
    if (headers.partitionKey !== undefined) {
      const located = this.#locate(headers.partitionKey);
      if ('status' in located) return located;
      return { kind: 'range', range: located.range, partitionKey: located.key, epkMin: undefined, epkMax: undefined };
    }
    if (headers.rangeId !== undefined) {
      const range = this.routing.byId(headers.rangeId);
      if (!range) return { kind: 'gone' };
      return { kind: 'range', range, partitionKey: undefined, epkMin: headers.startEpk, epkMax: headers.endEpk };
    }
    return { kind: 'cross-partition' };
  }

  /** The documents a range target holds, in creation order (what a query page scans). */
  scanOf(target: Extract<Target, { kind: 'range' }>): DocumentScan {
    const { range, partitionKey, epkMin, epkMax } = target;
    const inEpkRange = (change: Change) => (epkMin === undefined || change.epk >= epkMin) && (epkMax === undefined || change.epk < epkMax);
    return function* (afterSeq: number) {
      for (const change of range.store.scan(afterSeq, partitionKey)) if (inEpkRange(change)) yield change;
    };
  }

  /**
   * One change feed page ("Change feed pull model", learn.microsoft.com/azure/cosmos-db/nosql/
   * change-feed-pull-model): changes after the continuation's LSN, in LSN order, at most
   * `maxItemCount`; the response ETag is the new continuation; 304 when there is nothing new. With no
   * continuation it starts from the beginning, from now (`If-None-Match: *`), or from a time
   * (`If-Modified-Since`). All versions and deletes mode can only start from now or a continuation
   * ("Change feed modes in Azure Cosmos DB": reading from the beginning or a point in time "isn't
   * currently supported"), so those requests answer 400.
   */
  readChangeFeed(target: Extract<Target, { kind: 'range' }>, request: ChangeFeedRequest): ChangeFeedOutcome {
    const { range, partitionKey, epkMin, epkMax } = target;
    const store = range.store;
    const log: ChangeFeedLog = partitionKey === undefined ? store.log : store.logOf(partitionKey);
    let startIndex: number;
    if (request.ifNoneMatch === '*') startIndex = log.length;
    else if (request.ifNoneMatch !== undefined) {
      const lsn = Number(request.ifNoneMatch.replace(/"/g, ''));
      if (!Number.isSafeInteger(lsn) || lsn < 0) return badRequest(`Invalid change feed continuation ${request.ifNoneMatch}`);
      startIndex = log.indexAfterLsn(lsn);
    } else if (request.mode === 'AllVersionsAndDeletes') {
      return badRequest('All versions and deletes change feed mode can only start from now or from a continuation');
    } else if (request.ifModifiedSince !== undefined) {
      const time = Date.parse(request.ifModifiedSince);
      if (Number.isNaN(time)) return badRequest(`Invalid If-Modified-Since ${request.ifModifiedSince}`);
      startIndex = log.indexAtOrAfterTime(Math.floor(time / 1000));
    } else startIndex = 0;
    const page = log.readPage({
      startIndex,
      maxItems: request.maxItemCount,
      mode: request.mode,
      partitionLsn: store.lsn,
      includes: (change) => (epkMin === undefined || change.epk >= epkMin) && (epkMax === undefined || change.epk < epkMax),
    });
    const items = page.changes.map((change) => (request.mode === 'LatestVersion' ? withLsn(change) : this.#versionItem(change)));
    return {
      status: items.length === 0 ? 304 : 200,
      items,
      etag: `"${page.continuationLsn}"`,
      examined: page.examined,
      bytes: items.reduce((total, item) => total + item.length, 0),
    };
  }

  /**
   * An all-versions-and-deletes item in the documented wire format ("Change feed modes in Azure Cosmos
   * DB", Parse the response object): `current` for creates and replaces, `metadata` with
   * `operationType`, `lsn`, `crts`, `previousImageLSN` (replaces and deletes), and for deletes
   * `timeToLiveExpired`, `id` and `partitionKey`. The document states that the previous version is not
   * returned; `previous` is added only when the double was started with `previousImages`.
   */
  #versionItem(change: Change): string {
    const metadata: Record<string, unknown> = { operationType: change.operation, lsn: change.lsn, crts: change.ts };
    if (change.previous) metadata.previousImageLSN = change.previous.lsn;
    const previous = this.#settings.previousImages && change.previous ? `,"previous":${change.previous.text}` : '';
    if (change.operation !== 'delete') return `{"current":${change.text}${previous},"metadata":${JSON.stringify(metadata)}}`;
    metadata.timeToLiveExpired = false;
    metadata.id = change.id;
    metadata.partitionKey = this.#partitionKeyObject(change.partitionKey);
    return `{"metadata":${JSON.stringify(metadata)}${previous}}`;
  }

  /** `{ "<partition key property>": value }`, as a delete's metadata names its partition. */
  #partitionKeyObject(partitionKey: string): Record<string, unknown> {
    const values = JSON.parse(partitionKey) as unknown[];
    const object: Record<string, unknown> = {};
    this.properties.partitionKey.paths.forEach((path, index) => {
      const value = values[index];
      if (isDefinedKey(value)) object[path.replace(/^\//, '')] = value;
    });
    return object;
  }

  #write(
    kind: 'create' | 'upsert' | 'replace',
    body: unknown,
    partitionKeyHeader: string | undefined,
    urlId: string | undefined,
    ifMatch: string | undefined,
  ): WriteOutcome {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return badRequest('The request body must be a JSON object');
    const document = body as Record<string, unknown>;
    const id = document.id;
    // "Service quotas and default limits", per-item limits: an id holds at most 1,023 bytes.
    if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id, 'utf8') > 1023 || /[/\\?#]/.test(id)) {
      return badRequest('The document id must be a non-empty string of at most 1,023 bytes without /, \\, ? or #');
    }
    if (urlId !== undefined && urlId !== id) return badRequest('The id in the body does not match the id in the URL');
    const fromBody = this.#partitionKeyOf(document);
    if ('status' in fromBody) return fromBody;
    const located = this.#locate(partitionKeyHeader);
    if ('status' in located) return located;
    if (located.key !== fromBody.key) {
      return badRequest("PartitionKey extracted from document doesn't match the one specified in the header");
    }
    const { range, key, epk } = located;
    const existing = range.store.read(key, id);
    if (kind === 'create' && existing)
      return { status: 409, code: 'Conflict', message: 'Entity with the specified id already exists in the system.' };
    if (kind === 'replace' && !existing) return notFound();
    if (ifMatch !== undefined && existing && ifMatch !== existing.etag) return preconditionFailed();
    const ts = this.#seconds();
    const seq = existing?.seq ?? (this.#lastSeq += 1);
    this.#writes += 1;
    const text = this.#documentText(document, seq, ts, etagOf(this.#writes, ts));
    const change = new Change(range.store.lsn + 1, ts, existing ? 'replace' : 'create', id, key, epk, seq, text, this.#writes, existing);
    range.store.commit(change);
    return { status: existing ? 200 : 201, change, range };
  }

  /** The stored form: the body with Cosmos's system properties (`_rid`, `_self`, `_etag`, `_attachments`, `_ts`). */
  #documentText(document: Record<string, unknown>, seq: number, ts: number, etag: string): string {
    // The body was parsed for this request alone, so it is ours to complete in place.
    const stored = document;
    for (const name of systemProperties) Reflect.deleteProperty(stored, name);
    const rid = documentRid(this.rid, seq);
    stored._rid = rid;
    stored._self = `dbs/${this.databaseRid}/colls/${this.rid}/docs/${rid}/`;
    stored._etag = etag;
    stored._attachments = 'attachments/';
    stored._ts = ts;
    return JSON.stringify(stored);
  }

  #locate(partitionKeyHeader: string | undefined): { range: PartitionKeyRange; key: string; epk: string } | Failure {
    if (partitionKeyHeader === undefined) return badRequest('PartitionKey value must be supplied for this operation.');
    const located = this.#keyOf(partitionKeyHeader);
    if ('status' in located) return located;
    return { range: this.routing.rangeForEpk(located.epk), key: located.key, epk: located.epk };
  }

  /**
   * Canonical key and EPK of a partition key header, remembered: a user's documents share one
   * partition key, so this hashes it once and stores one copy of both strings for all of them.
   */
  #keyOf(partitionKeyHeader: string): { key: string; epk: string } | Failure {
    const known = this.#partitionKeys.get(partitionKeyHeader);
    if (known) return known;
    const parsed = this.#parsePartitionKeyHeader(partitionKeyHeader);
    if ('status' in parsed) return parsed;
    if (this.#partitionKeys.size >= 200_000) this.#partitionKeys.clear();
    const entry = { key: parsed.key, epk: this.routing.epkOf(parsed.values) };
    this.#partitionKeys.set(partitionKeyHeader, entry);
    return entry;
  }

  #seconds(): number {
    return Math.floor(this.#settings.now() / 1000);
  }
}

/** A latest-version change feed item: the document plus `_lsn` ("Change feed modes", Parse the response object). */
function withLsn(change: Change): string {
  return `${change.text.slice(0, -1)},"_lsn":${change.lsn}}`;
}

function isKeyComponent(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return true;
  return typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0;
}

function isDefinedKey(value: unknown): boolean {
  return !(typeof value === 'object' && value !== null);
}

function badRequest(message: string): Failure {
  return { status: 400, code: 'BadRequest', message };
}

function notFound(): Failure {
  return { status: 404, code: 'NotFound', message: 'Entity with the specified id does not exist in the system.' };
}

function preconditionFailed(): Failure {
  return {
    status: 412,
    code: 'PreconditionFailed',
    message: 'Operation cannot be performed because one of the specified precondition is not met.',
  };
}
