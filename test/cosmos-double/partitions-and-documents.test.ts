/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- ChangeFeedStartFrom.Beginning/Now/Time/Continuation
   return classes that do not extend ChangeFeedStartFrom, the type the iterator options declare: the SDK's documented usage. */
import { randomBytes } from 'node:crypto';
import { ChangeFeedStartFrom, type Container, type FeedRange, PartitionKeyDefinitionVersion, StatusCodes } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CosmosDouble, type ResponseRecord, startCosmosDouble } from '../../dev/cosmos-double/index.js';
// The SDK's own hash, by path (it is not exported): the double must place documents where it says.
import { hashPartitionKey } from '../../node_modules/@azure/cosmos/dist/esm/utils/hashing/hash.js';

/**
 * Physical partitions and document operations, through the real @azure/cosmos SDK.
 * Cited: "Partitioning and horizontal scaling in Azure Cosmos DB" (learn.microsoft.com/azure/cosmos-db/
 * partitioning-overview), "Create containers with large partition key" (…/large-partition-keys), and
 * the REST reference for documents and status codes (learn.microsoft.com/rest/api/cosmos-db/documents,
 * …/http-status-codes-for-cosmosdb).
 */

let double: CosmosDouble;
const responses: ResponseRecord[] = [];

beforeAll(async () => {
  double = await startCosmosDouble({ onResponse: (record) => responses.push(record) });
});

afterAll(async () => {
  await double.stop();
});

async function newContainer(
  version?: PartitionKeyDefinitionVersion,
): Promise<{ container: Container; databaseId: string; containerId: string }> {
  const suffix = randomBytes(4).toString('hex');
  const { database } = await double.client.databases.createIfNotExists({ id: `db-${suffix}` });
  const partitionKey = version === undefined ? { paths: ['/pubkey'] } : { paths: ['/pubkey'], version };
  const { container } = await database.containers.create({ id: `c-${suffix}`, partitionKey });
  return { container, databaseId: database.id, containerId: container.id };
}

/** Every change of one feed range, from the beginning (latest versions). */
async function feedRangeIds(container: Container, feedRange: FeedRange): Promise<string[]> {
  const iterator = container.items.getChangeFeedIterator<{ id: string }>({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning(feedRange) });
  const ids: string[] = [];
  for (;;) {
    const page = await iterator.readNext();
    if (page.statusCode === StatusCodes.NotModified) return ids;
    ids.push(...page.result.map((item) => item.id));
  }
}

describe('partition key ranges (Partitioning and horizontal scaling in Azure Cosmos DB)', () => {
  it('lists four contiguous EPK ranges from "" to "FF", and getFeedRanges() returns the same ranges', async () => {
    const { container, databaseId, containerId } = await newContainer();
    const { resources } = await container.readPartitionKeyRanges().fetchAll();
    expect(resources).toHaveLength(4);
    expect(resources[0]!.minInclusive).toBe('');
    expect(resources.at(-1)!.maxExclusive).toBe('FF');
    for (let index = 1; index < resources.length; index += 1) {
      expect(resources[index]!.minInclusive).toBe(resources[index - 1]!.maxExclusive);
    }
    expect(resources.map((range) => range.id)).toEqual(double.ranges(databaseId, containerId).map((range) => range.id));
    const feedRanges = await container.getFeedRanges();
    expect(feedRanges.map((range) => [range.minInclusive, range.maxExclusive])).toEqual(
      resources.map((range) => [range.minInclusive, range.maxExclusive]),
    );
  });

  // "Create containers with large partition key": V2 must be asked for; the SDK hashes with V1 when the
  // definition carries no version, and the container read back says which one the container uses.
  for (const version of [undefined, PartitionKeyDefinitionVersion.V2]) {
    it(
      `places each document in the range of its partition key's hash ` + `(${version === undefined ? 'no version: V1' : 'version 2'})`,
      async () => {
        const { container } = await newContainer(version);
        const { resource: definition } = await container.read();
        expect(definition?.partitionKey?.version).toBe(version);
        const documents = Array.from({ length: 60 }, (_, index) => ({ id: `doc-${index}`, pubkey: `npub-${index % 23}` }));
        await Promise.all(documents.map((document) => container.items.create(document)));
        const feedRanges = await container.getFeedRanges();
        for (const feedRange of feedRanges) {
          const expected = documents
            .filter(({ pubkey }) => {
              const epk = hashPartitionKey([pubkey], definition!.partitionKey!);
              return epk >= feedRange.minInclusive && (feedRange.maxExclusive === 'FF' || epk < feedRange.maxExclusive);
            })
            .map(({ id }) => id);
          expect((await feedRangeIds(container, feedRange)).sort()).toEqual(expected.sort());
        }
      },
    );
  }
});

describe('point operations (REST API: Documents; HTTP status codes for Azure Cosmos DB)', () => {
  it('creates with system properties, and answers 409 for an id already in the logical partition only', async () => {
    const { container } = await newContainer();
    const created = await container.items.create({ id: 'a', pubkey: 'p1', n: 1 });
    expect(created.statusCode).toBe(201);
    expect(created.resource).toMatchObject({ id: 'a', pubkey: 'p1', n: 1, _attachments: 'attachments/' });
    expect(created.resource?._rid).toEqual(expect.any(String));
    expect(created.resource?._self).toContain(created.resource?._rid);
    expect(created.resource?._ts).toEqual(expect.any(Number));
    expect(created.etag).toBe(created.resource?._etag);
    await expect(container.items.create({ id: 'a', pubkey: 'p1' })).rejects.toMatchObject({ code: 409 });
    // Ids are unique per logical partition: the same id under another partition key is another document.
    expect((await container.items.create({ id: 'a', pubkey: 'p2' })).statusCode).toBe(201);
  });

  it('reads by id and partition key, and answers 404 for a missing document or the wrong partition key', async () => {
    const { container } = await newContainer();
    await container.items.create({ id: 'a', pubkey: 'p1', n: 1 });
    const { resource, statusCode } = await container.item('a', 'p1').read();
    expect(statusCode).toBe(200);
    expect(resource).toMatchObject({ id: 'a', n: 1 });
    expect((await container.item('a', 'p2').read()).statusCode).toBe(404);
    expect((await container.item('missing', 'p1').read()).statusCode).toBe(404);
  });

  it('replaces with a new etag, answers 412 to a stale If-Match and 404 to a missing document', async () => {
    const { container } = await newContainer();
    const { etag: first } = await container.items.create({ id: 'a', pubkey: 'p1', n: 1 });
    const replaced = await container
      .item('a', 'p1')
      .replace({ id: 'a', pubkey: 'p1', n: 2 }, { accessCondition: { type: 'IfMatch', condition: first } });
    expect(replaced.statusCode).toBe(200);
    expect(replaced.etag).not.toBe(first);
    await expect(
      container.item('a', 'p1').replace({ id: 'a', pubkey: 'p1', n: 3 }, { accessCondition: { type: 'IfMatch', condition: first } }),
    ).rejects.toMatchObject({ code: 412 });
    await expect(container.item('missing', 'p1').replace({ id: 'missing', pubkey: 'p1' })).rejects.toMatchObject({ code: 404 });
    expect((await container.item('a', 'p1').read()).resource).toMatchObject({ n: 2 });
  });

  it('upserts (201 then 200), deletes (204 then 404), and honours If-Match on delete', async () => {
    const { container } = await newContainer();
    expect((await container.items.upsert({ id: 'a', pubkey: 'p1', n: 1 })).statusCode).toBe(201);
    const { etag } = await container.items.upsert({ id: 'a', pubkey: 'p1', n: 2 });
    await expect(container.item('a', 'p1').delete({ accessCondition: { type: 'IfMatch', condition: '"stale"' } })).rejects.toMatchObject({
      code: 412,
    });
    expect((await container.item('a', 'p1').delete({ accessCondition: { type: 'IfMatch', condition: etag } })).statusCode).toBe(204);
    await expect(container.item('a', 'p1').delete()).rejects.toMatchObject({ code: 404 });
  });

  it('refuses a body whose partition key differs from the one the request names (400)', async () => {
    const { container } = await newContainer();
    await container.items.create({ id: 'a', pubkey: 'p1' });
    await expect(container.item('a', 'p1').replace({ id: 'a', pubkey: 'p2' })).rejects.toMatchObject({ code: 400 });
  });
});

describe('bulk (Items.bulk: operations grouped per partition key range, one batch request per range)', () => {
  it('creates across all ranges, with per-operation status codes (409 for duplicates)', async () => {
    const { container, databaseId, containerId } = await newContainer();
    const since = responses.length;
    const operations = Array.from({ length: 120 }, (_, index) => ({
      operationType: 'Create' as const,
      resourceBody: { id: `doc-${index % 100}`, pubkey: `npub-${index % 100}` },
    }));
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the project loads with items.bulk (dev/local-services/load-documents.ts)
    const results = await container.items.bulk(operations);
    expect(results.filter((result) => result.statusCode === 201)).toHaveLength(100);
    expect(results.filter((result) => result.statusCode === 409)).toHaveLength(20);
    const batches = responses.slice(since).filter((record) => record.operation === 'batch');
    expect(new Set(batches.map((record) => record.rangeId))).toEqual(
      new Set(double.ranges(databaseId, containerId).map((range) => range.id)),
    );
    expect(double.ranges(databaseId, containerId).reduce((total, range) => total + range.documentCount, 0)).toBe(100);
  });

  it('serves executeBulkOperations, the newer bulk API of the SDK, the same way', async () => {
    const { container, databaseId, containerId } = await newContainer();
    const operations = Array.from({ length: 60 }, (_, index) => ({
      operationType: 'Upsert' as const,
      partitionKey: `npub-${index % 50}`,
      resourceBody: { id: `doc-${index % 50}`, pubkey: `npub-${index % 50}`, n: index },
    }));
    const results = await container.items.executeBulkOperations(operations);
    expect(results.map(({ response }) => response?.statusCode).sort()).toEqual([
      ...Array<number>(10).fill(200),
      ...Array<number>(50).fill(201),
    ]);
    expect(double.ranges(databaseId, containerId).reduce((total, range) => total + range.documentCount, 0)).toBe(50);
    expect((await container.item('doc-3', 'npub-3').read()).resource).toMatchObject({ n: 53 });
  });
});
