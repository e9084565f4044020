import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { CosmosAccount } from './account.js';
import type { ChangeFeedMode } from './change-feed-log.js';
import type { CosmosContainer, Failure, Target } from './container.js';
import { compileQuery, type QueryParameter, runQueryPage } from './query-engine.js';
import { buildQueryPlan } from './query-plan.js';
import {
  changeFeedCharge,
  metadataCharge,
  pointReadCharge,
  queryCharge,
  queryPlanCharge,
  throttledCharge,
  writeCharge,
} from './request-charge.js';
import { QueryError } from './sql-ast.js';
import type { RequestDescription, RequestOperation, Throttler } from './throttling.js';

/**
 * The HTTP front: the REST surface of Azure Cosmos DB for NoSQL that `@azure/cosmos` uses ("Azure
 * Cosmos DB REST API", learn.microsoft.com/rest/api/cosmos-db/), in gateway mode: account,
 * databases, containers, partition key ranges, documents (point operations, queries and query
 * plans, bulk batches, change feed). Every response carries `x-ms-request-charge` and an activity
 * id; responses about one partition carry its LSN in `x-ms-session-token` ("<range id>:<version>#<LSN>").
 */

export interface ResponseRecord extends RequestDescription {
  status: number;
  substatus: number | undefined;
  requestCharge: number;
  /** When the request arrived, `Date.now()`. */
  receivedAt: number;
}

export interface DoubleServerOptions {
  account: CosmosAccount;
  throttler: Throttler;
  /** HTTPS with this certificate; plain HTTP when absent. */
  tls: { cert: string; key: string } | undefined;
  onResponse: ((record: ResponseRecord) => void) | undefined;
  /** The endpoint clients reach the server at (the account's advertised locations). */
  endpoint: () => string;
}

interface Reply {
  status: number;
  substatus?: number;
  charge: number;
  headers?: Record<string, string>;
  /** JSON text. */
  body?: string;
}

/** Cosmos ends a query page at about 4 MB of results. */
const maxPageBytes = 4 * 1024 * 1024;
const defaultPageSize = 100;

export function createDoubleServer(options: DoubleServerOptions): Server {
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    handle(request, response, options).catch((error: unknown) => {
      if (!response.headersSent) {
        response.statusCode = 500;
        response.setHeader('content-type', 'application/json');
      }
      response.end(JSON.stringify({ code: 'InternalServerError', message: String(error) }));
    });
  };
  return options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, listener) : createHttpServer(listener);
}

interface Incoming {
  method: string;
  segments: string[];
  headers: IncomingMessage['headers'];
  body: unknown;
}

async function handle(request: IncomingMessage, response: ServerResponse, options: DoubleServerOptions): Promise<void> {
  const receivedAt = Date.now();
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const path = new URL(request.url ?? '/', 'http://double').pathname;
  const segments = path.split('/').filter(Boolean).map(decodeSegment);
  const method = request.method ?? 'GET';
  const description = describe(method, path, segments, request.headers);
  let reply: Reply;
  let body: unknown;
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    body = invalidJson;
  }
  const throttled = options.throttler.take(description);
  if (throttled) {
    reply = {
      status: 429,
      substatus: throttled.substatus,
      charge: throttledCharge,
      headers: { 'x-ms-retry-after-ms': String(throttled.retryAfterMs) },
      body: JSON.stringify({
        code: 'TooManyRequests',
        message: 'Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later.',
      }),
    };
  } else if (body === invalidJson) {
    reply = failure({ status: 400, code: 'BadRequest', message: 'The request body is not valid JSON' }, metadataCharge);
  } else {
    try {
      reply = dispatch({ method, segments, headers: request.headers, body }, description, options);
    } catch (error) {
      if (!(error instanceof QueryError)) throw error;
      reply = failure({ status: 400, code: 'BadRequest', message: error.message }, metadataCharge);
    }
  }
  response.statusCode = reply.status;
  response.setHeader('content-type', 'application/json');
  response.setHeader('x-ms-activity-id', randomUUID());
  response.setHeader('x-ms-request-charge', String(reply.charge));
  if (reply.substatus !== undefined) response.setHeader('x-ms-substatus', String(reply.substatus));
  for (const [name, value] of Object.entries(reply.headers ?? {})) response.setHeader(name, value);
  response.end(reply.body);
  options.onResponse?.({ ...description, status: reply.status, substatus: reply.substatus, requestCharge: reply.charge, receivedAt });
}

const invalidJson = Symbol('invalid JSON');

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function header(headers: IncomingMessage['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function flag(headers: IncomingMessage['headers'], name: string): boolean {
  return header(headers, name)?.toLowerCase() === 'true';
}

function describe(method: string, path: string, segments: string[], headers: IncomingMessage['headers']): RequestDescription {
  const [, databaseId, , containerId, resource, documentId] = segments;
  let operation: RequestOperation = 'metadata';
  if (resource === 'pkranges') operation = 'partitionKeyRanges';
  else if (resource === 'docs' && documentId !== undefined) {
    operation = ({ GET: 'read', PUT: 'replace', DELETE: 'delete' } as Record<string, RequestOperation>)[method] ?? 'metadata';
  } else if (resource === 'docs' && method === 'GET') operation = 'changeFeed';
  else if (resource === 'docs' && method === 'POST') {
    if (flag(headers, 'x-ms-cosmos-is-batch-request')) operation = 'batch';
    else if (flag(headers, 'x-ms-cosmos-is-query-plan-request')) operation = 'queryPlan';
    else if (isQuery(headers)) operation = 'query';
    else operation = flag(headers, 'x-ms-documentdb-is-upsert') ? 'upsert' : 'create';
  }
  const description: RequestDescription = { method, path, operation };
  if (databaseId !== undefined) description.databaseId = databaseId;
  if (containerId !== undefined) description.containerId = containerId;
  const rangeId = header(headers, 'x-ms-documentdb-partitionkeyrangeid');
  if (rangeId !== undefined) description.rangeId = rangeId;
  const partitionKey = header(headers, 'x-ms-documentdb-partitionkey');
  if (partitionKey !== undefined) description.partitionKey = partitionKey;
  const priorityLevel = header(headers, 'x-ms-cosmos-priority-level');
  if (priorityLevel !== undefined) description.priorityLevel = priorityLevel;
  return description;
}

function isQuery(headers: IncomingMessage['headers']): boolean {
  return flag(headers, 'x-ms-documentdb-isquery') || header(headers, 'content-type')?.startsWith('application/query+json') === true;
}

function dispatch(incoming: Incoming, description: RequestDescription, options: DoubleServerOptions): Reply {
  const { method, segments, body } = incoming;
  const { account } = options;
  if (segments.length === 0 && method === 'GET') return json(200, accountBody(options.endpoint()), metadataCharge);
  if (segments[0] !== 'dbs') return unsupported(incoming);
  const [, databaseId, collsSegment, containerId, child, documentId] = segments;
  if (databaseId === undefined) {
    if (method === 'GET') return feed(200, 'Databases', '', account.listDatabases());
    if (method === 'POST' && isQuery(incoming.headers)) return resourceQuery('Databases', '', account.listDatabases(), body);
    if (method === 'POST') return resource(account.createDatabase(body));
    return unsupported(incoming);
  }
  if (collsSegment === undefined) {
    if (method === 'GET') return resource(account.readDatabase(databaseId));
    if (method === 'DELETE') return resource(account.deleteDatabase(databaseId));
    return unsupported(incoming);
  }
  if (collsSegment !== 'colls') return unsupported(incoming);
  if (containerId === undefined) {
    const containers = account.listContainers(databaseId);
    if (!containers) return resource(account.readDatabase(databaseId));
    if (method === 'GET') return feed(200, 'DocumentCollections', '', containers);
    if (method === 'POST' && isQuery(incoming.headers)) return resourceQuery('DocumentCollections', '', containers, body);
    if (method === 'POST') return resource(account.createContainer(databaseId, body));
    return unsupported(incoming);
  }
  const container = account.container(databaseId, containerId);
  if (child === undefined) {
    if (method === 'GET') return resource(account.readContainer(databaseId, containerId));
    if (method === 'DELETE') return resource(account.deleteContainer(databaseId, containerId));
    return unsupported(incoming);
  }
  if (!container) return failure({ status: 404, code: 'NotFound', message: `The container ${containerId} does not exist` }, metadataCharge);
  const context = { container, link: `dbs/${databaseId}/colls/${containerId}`, headers: incoming.headers };
  if (child === 'pkranges' && method === 'GET') return partitionKeyRanges(context);
  if (child !== 'docs') return unsupported(incoming);
  if (documentId !== undefined) return documentOperation(context, method, documentId, body);
  switch (description.operation) {
    case 'changeFeed':
      return changeFeed(context);
    case 'batch':
      return batch(context, body);
    case 'queryPlan':
      return queryPlan(context, body);
    case 'query':
      return query(context, body);
    case 'create':
    case 'upsert':
      return writeReply(
        context,
        description.operation === 'create'
          ? container.create(body, header(incoming.headers, 'x-ms-documentdb-partitionkey'))
          : container.upsert(body, header(incoming.headers, 'x-ms-documentdb-partitionkey'), header(incoming.headers, 'if-match')),
      );
    default:
      return unsupported(incoming);
  }
}

interface ContainerContext {
  container: CosmosContainer;
  link: string;
  headers: IncomingMessage['headers'];
}

function documentOperation(context: ContainerContext, method: string, id: string, body: unknown): Reply {
  const { container, headers } = context;
  const partitionKey = header(headers, 'x-ms-documentdb-partitionkey');
  const ifMatch = header(headers, 'if-match');
  switch (method) {
    case 'GET': {
      const outcome = container.read(id, partitionKey, header(headers, 'if-none-match'));
      if ('code' in outcome) return failure(outcome, 1);
      const { change, range } = outcome;
      const headersOut = { ...partitionHeaders(context, range.id, range.store.lsn), etag: change.etag };
      if (outcome.status === 304) return { status: 304, charge: 1, headers: headersOut };
      return { status: 200, charge: pointReadCharge(change.text.length), headers: headersOut, body: change.text };
    }
    case 'PUT':
      return writeReply(context, container.replace(id, body, partitionKey, ifMatch));
    case 'DELETE':
      return writeReply(context, container.delete(id, partitionKey, ifMatch));
    default:
      return failure({ status: 400, code: 'BadRequest', message: `${method} on a document is not supported by the Cosmos double` }, 1);
  }
}

function writeReply(context: ContainerContext, outcome: ReturnType<CosmosContainer['create']>): Reply {
  if ('code' in outcome) return failure(outcome, 1);
  const { change, range, status } = outcome;
  const headers = { ...partitionHeaders(context, range.id, range.store.lsn), etag: change.etag };
  const charge = writeCharge(change.text.length);
  return status === 204 ? { status, charge, headers } : { status, charge, headers, body: change.text };
}

function partitionHeaders(context: ContainerContext, rangeId: string, lsn: number): Record<string, string> {
  return {
    'x-ms-session-token': `${rangeId}:0#${lsn}`,
    'x-ms-content-path': context.container.rid,
    'x-ms-alt-content-path': context.link,
    lsn: String(lsn),
  };
}

function rangeTarget(context: ContainerContext): Target {
  const { headers } = context;
  const target: { partitionKey?: string; rangeId?: string; startEpk?: string; endEpk?: string } = {};
  const partitionKey = header(headers, 'x-ms-documentdb-partitionkey');
  const rangeId = header(headers, 'x-ms-documentdb-partitionkeyrangeid');
  if (partitionKey !== undefined) target.partitionKey = partitionKey;
  if (rangeId !== undefined) target.rangeId = rangeId;
  if (header(headers, 'x-ms-read-key-type') === 'EffectivePartitionKeyRange' || header(headers, 'x-ms-start-epk') !== undefined) {
    const start = header(headers, 'x-ms-start-epk');
    const end = header(headers, 'x-ms-end-epk');
    if (start !== undefined) target.startEpk = start;
    if (end !== undefined) target.endEpk = end;
  }
  return context.container.target(target);
}

/** 410 with substatus 1002, PartitionKeyRangeGone: "Diagnose and troubleshoot Azure Cosmos DB gone exceptions". */
const gone: Reply = {
  status: 410,
  substatus: 1002,
  charge: 0,
  body: JSON.stringify({
    code: 'Gone',
    message: 'The requested partition key range is gone (it was split). Refresh the partition key ranges.',
  }),
};

function pageSize(headers: IncomingMessage['headers']): number {
  const requested = Number(header(headers, 'x-ms-max-item-count'));
  return Number.isInteger(requested) && requested > 0 ? requested : defaultPageSize;
}

function querySpec(body: unknown): { query: string; parameters: QueryParameter[] } {
  const spec = body as { query?: unknown; parameters?: unknown } | undefined;
  if (typeof spec?.query !== 'string') throw new QueryError('The request body must be { query, parameters }');
  const parameters = Array.isArray(spec.parameters) ? (spec.parameters as QueryParameter[]) : [];
  return { query: spec.query, parameters };
}

function query(context: ContainerContext, body: unknown): Reply {
  const { query: text, parameters } = querySpec(body);
  const target = rangeTarget(context);
  if ('code' in target) return failure(target, 1);
  if (target.kind === 'gone') return gone;
  if (target.kind === 'cross-partition') {
    // The gateway serves a query only within one partition key range; for anything wider it answers
    // 400 with substatus 1004 and its query plan, and the SDK then runs the query range by range.
    const plan = buildQueryPlan(text, parameters, context.container.properties.partitionKey, (value) =>
      context.container.routing.epkOf(value),
    );
    return {
      status: 400,
      substatus: 1004,
      charge: queryPlanCharge,
      body: JSON.stringify({
        code: 'BadRequest',
        message:
          'The provided cross partition query can not be directly served by the gateway. This is a first chance ' +
          '(internal) exception that all newer clients will know how to handle gracefully.',
        additionalErrorInfo: JSON.stringify(plan),
      }),
    };
  }
  const page = runQueryPage(compileQuery(text, parameters), context.container.scanOf(target), {
    maxItemCount: pageSize(context.headers),
    continuation: header(context.headers, 'x-ms-continuation'),
    maxBytes: maxPageBytes,
  });
  const headers: Record<string, string> = {
    ...partitionHeaders(context, target.range.id, target.range.store.lsn),
    'x-ms-item-count': String(page.rows.length),
  };
  if (page.continuation !== undefined) headers['x-ms-continuation'] = page.continuation;
  return {
    status: 200,
    charge: queryCharge(page.examined, page.bytes),
    headers,
    body: `{"_rid":${JSON.stringify(context.container.rid)},"Documents":[${page.rows.join(',')}],"_count":${page.rows.length}}`,
  };
}

function queryPlan(context: ContainerContext, body: unknown): Reply {
  const { query: text, parameters } = querySpec(body);
  const plan = buildQueryPlan(text, parameters, context.container.properties.partitionKey, (value) =>
    context.container.routing.epkOf(value),
  );
  return json(200, plan, queryPlanCharge);
}

function changeFeed(context: ContainerContext): Reply {
  const { headers } = context;
  const aIm = header(headers, 'a-im')?.toLowerCase();
  let mode: ChangeFeedMode;
  if (aIm === 'incremental feed') mode = 'LatestVersion';
  else if (aIm === 'full-fidelity feed') mode = 'AllVersionsAndDeletes';
  else
    return failure(
      {
        status: 400,
        code: 'BadRequest',
        message: 'Reading documents without A-IM (read feed) is not supported by the Cosmos double; use a query',
      },
      1,
    );
  const target = rangeTarget(context);
  if ('code' in target) return failure(target, 1);
  if (target.kind === 'gone') return gone;
  if (target.kind === 'cross-partition') {
    return failure(
      { status: 400, code: 'BadRequest', message: 'A change feed request must name a partition key range or a partition key' },
      1,
    );
  }
  const outcome = context.container.readChangeFeed(target, {
    mode,
    ifNoneMatch: header(headers, 'if-none-match'),
    ifModifiedSince: header(headers, 'if-modified-since'),
    maxItemCount: pageSize(headers),
  });
  if ('code' in outcome) return failure(outcome, 1);
  const replyHeaders = {
    ...partitionHeaders(context, target.range.id, target.range.store.lsn),
    etag: outcome.etag,
    'x-ms-item-count': String(outcome.items.length),
  };
  const charge = changeFeedCharge(outcome.examined, outcome.bytes);
  if (outcome.status === 304) return { status: 304, charge, headers: replyHeaders };
  return {
    status: 200,
    charge,
    headers: replyHeaders,
    body: `{"_rid":${JSON.stringify(context.container.rid)},"Documents":[${outcome.items.join(',')}],"_count":${outcome.items.length}}`,
  };
}

interface BatchOperation {
  operationType?: string;
  partitionKey?: string;
  id?: string;
  resourceBody?: unknown;
  ifMatch?: string;
}

/**
 * A bulk request: the SDK groups operations by partition key range and sends each group as a
 * non-atomic batch addressed to its range ("Bulk support in the JavaScript SDK", items.bulk). Each
 * operation succeeds or fails on its own; the response is 207 Multi-Status when any failed.
 */
function batch(context: ContainerContext, body: unknown): Reply {
  const { container, headers } = context;
  if (flag(headers, 'x-ms-cosmos-batch-atomic')) {
    return failure({ status: 400, code: 'BadRequest', message: 'Transactional batch is not supported by the Cosmos double' }, 1);
  }
  if (!Array.isArray(body)) return failure({ status: 400, code: 'BadRequest', message: 'A batch body must be an array of operations' }, 1);
  const target = rangeTarget(context);
  if ('code' in target) return failure(target, 1);
  if (target.kind === 'gone') return gone;
  if (target.kind === 'cross-partition') {
    return failure({ status: 400, code: 'BadRequest', message: 'A bulk batch must name its partition key range' }, 1);
  }
  let total = 0;
  let failures = 0;
  const results = (body as BatchOperation[]).map((operation) => {
    const { partitionKey, ifMatch } = operation;
    let outcome: ReturnType<CosmosContainer['create']> | ReturnType<CosmosContainer['read']>;
    let isRead = false;
    switch (operation.operationType) {
      case 'Create':
        outcome = container.create(operation.resourceBody, partitionKey);
        break;
      case 'Upsert':
        outcome = container.upsert(operation.resourceBody, partitionKey, ifMatch);
        break;
      case 'Replace':
        outcome = container.replace(operation.id ?? '', operation.resourceBody, partitionKey, ifMatch);
        break;
      case 'Delete':
        outcome = container.delete(operation.id ?? '', partitionKey, ifMatch);
        break;
      case 'Read':
        isRead = true;
        outcome = container.read(operation.id ?? '', partitionKey, undefined);
        break;
      default:
        outcome = {
          status: 400,
          code: 'BadRequest',
          message: `Operation ${String(operation.operationType)} is not supported by the Cosmos double`,
        };
    }
    if ('code' in outcome) {
      failures += 1;
      total += 1;
      return `{"statusCode":${outcome.status},"requestCharge":1}`;
    }
    const charge = isRead ? pointReadCharge(outcome.change.text.length) : writeCharge(outcome.change.text.length);
    total += charge;
    // Built as text around the stored document, which is already JSON.
    const body = outcome.status === 204 ? '' : `,"resourceBody":${outcome.change.text}`;
    return `{"statusCode":${outcome.status},"requestCharge":${charge},"eTag":${JSON.stringify(outcome.change.etag)}${body}}`;
  });
  return {
    status: failures > 0 ? 207 : 200,
    charge: Math.round(total * 100) / 100,
    headers: partitionHeaders(context, target.range.id, target.range.store.lsn),
    body: `[${results.join(',')}]`,
  };
}

/**
 * `GET …/pkranges`: the live ranges. With `A-IM: Incremental feed` and the `If-None-Match` ETag of an
 * earlier read, only ranges created since (a split's children, which name their parents), or 304.
 */
function partitionKeyRanges(context: ContainerContext): Reply {
  const { container, headers } = context;
  const routing = container.routing;
  const etag = `"${routing.version}"`;
  const ifNoneMatch = header(headers, 'if-none-match');
  const incremental = header(headers, 'a-im')?.toLowerCase() === 'incremental feed' && ifNoneMatch !== undefined;
  if (incremental && ifNoneMatch === etag) return { status: 304, charge: metadataCharge, headers: { etag } };
  const since = incremental ? Number(ifNoneMatch.replace(/"/g, '')) : 0;
  const ranges = incremental ? routing.rangesCreatedAfter(since) : routing.ranges;
  const items = ranges.map((range) => ({
    id: range.id,
    _rid: `${container.rid}${range.id}`,
    _self: `dbs/${container.databaseRid}/colls/${container.rid}/pkranges/${range.id}/`,
    _etag: `"${range.createdAt}"`,
    minInclusive: range.minInclusive,
    maxExclusive: range.maxExclusive,
    ridPrefix: Number(range.id),
    throughputFraction: 1 / routing.ranges.length,
    status: 'online',
    parents: range.parents,
    ownedArchivalPKRangeIds: [],
    lsn: range.store.lsn,
    _ts: container.createdTs,
  }));
  return { ...feed(200, 'PartitionKeyRanges', container.rid, items), headers: { etag } };
}

/** Databases and containers can be queried too (`databases.query`); the lists are small, so one page. */
function resourceQuery(name: string, rid: string, resources: Record<string, unknown>[], body: unknown): Reply {
  const { query: text, parameters } = querySpec(body);
  const compiled = compileQuery(text, parameters);
  const rows = resources
    .filter((resource) => !compiled.filter || compiled.filter(resource) === true)
    .map((resource) => compiled.project(resource));
  return feed(200, name, rid, rows);
}

function feed(status: number, name: string, rid: string, items: unknown[]): Reply {
  return {
    status,
    charge: metadataCharge,
    headers: { 'x-ms-item-count': String(items.length) },
    body: JSON.stringify({ _rid: rid, [name]: items, _count: items.length }),
  };
}

function resource(outcome: ReturnType<CosmosAccount['readDatabase']>): Reply {
  if ('code' in outcome) return failure(outcome, metadataCharge);
  const etag = outcome.body?._etag;
  const reply: Reply = { status: outcome.status, charge: metadataCharge, headers: typeof etag === 'string' ? { etag } : {} };
  if (outcome.body) reply.body = JSON.stringify(outcome.body);
  return reply;
}

function json(status: number, body: unknown, charge: number): Reply {
  return { status, charge, body: JSON.stringify(body) };
}

function failure(outcome: Failure, charge: number): Reply {
  return { status: outcome.status, charge, body: JSON.stringify({ code: outcome.code, message: outcome.message }) };
}

function unsupported(incoming: Incoming): Reply {
  return failure(
    {
      status: 400,
      code: 'BadRequest',
      message: `${incoming.method} /${incoming.segments.join('/')} is not supported by the Cosmos double`,
    },
    metadataCharge,
  );
}

/** The database account (`GET /`): one region, the double's own endpoint, session consistency. */
function accountBody(endpoint: string): Record<string, unknown> {
  const location = { name: 'Local (Cosmos double)', databaseAccountEndpoint: endpoint };
  return {
    id: 'cosmos-double',
    _rid: new URL(endpoint).host,
    _self: '',
    _dbs: '//dbs/',
    media: '//media/',
    addresses: '//addresses/',
    writableLocations: [location],
    readableLocations: [location],
    enableMultipleWriteLocations: false,
    userReplicationPolicy: { asyncReplication: false, minReplicaSetSize: 1, maxReplicasetSize: 4 },
    userConsistencyPolicy: { defaultConsistencyLevel: 'Session' },
    systemReplicationPolicy: { minReplicaSetSize: 1, maxReplicasetSize: 4 },
    readPolicy: { primaryReadCoefficient: 1, secondaryReadCoefficient: 1 },
  };
}
