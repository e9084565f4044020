/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- ChangeFeedStartFrom.Beginning/Now/Time/Continuation
   return classes that do not extend ChangeFeedStartFrom, the type the iterator options declare: the SDK's documented usage. */
import { randomBytes } from 'node:crypto';
import { get } from 'node:https';
import { ChangeFeedStartFrom, type Container, StatusCodes } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CosmosDouble, type ResponseRecord, startCosmosDouble } from '../../dev/cosmos-double/index.js';

/**
 * Throttling and request charges. Cited: "Diagnose and troubleshoot Azure Cosmos DB request rate too
 * large (429) exceptions" (learn.microsoft.com/azure/cosmos-db/nosql/troubleshoot-request-rate-too-large:
 * 429 with x-ms-retry-after-ms, which the SDKs wait out and retry, 9 times by default, before
 * surfacing the error) and "Request Units in Azure Cosmos DB" (learn.microsoft.com/azure/cosmos-db/
 * request-units: every operation reports its charge; a 1 KB point read costs 1 RU, larger items and
 * writes cost more).
 */

let double: CosmosDouble;
let container: Container;
const responses: ResponseRecord[] = [];

beforeAll(async () => {
  double = await startCosmosDouble({ onResponse: (record) => responses.push(record) });
  const suffix = randomBytes(4).toString('hex');
  const { database } = await double.client.databases.createIfNotExists({ id: `db-${suffix}` });
  ({ container } = await database.containers.create({ id: `c-${suffix}`, partitionKey: { paths: ['/pubkey'] } }));
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the project loads with items.bulk (dev/local-services/load-documents.ts)
  await container.items.bulk(
    Array.from({ length: 40 }, (_, index) => ({
      operationType: 'Create' as const,
      resourceBody: { id: `doc-${index}`, pubkey: `npub-${index % 7}` },
    })),
  );
});

afterAll(async () => {
  await double.stop();
});

describe('throttling on demand (429 with x-ms-retry-after-ms)', () => {
  it('makes the SDK wait the retry-after and retry, until the request succeeds', async () => {
    const throttle = double.throttle({ times: 2, retryAfterMs: 40, when: (request) => request.operation === 'read' });
    const since = responses.length;
    const response = await container.item('doc-1', 'npub-1').read();
    expect(response.statusCode).toBe(200);
    expect(throttle.remaining).toBe(0);
    // The SDK reports its own retries on the response: two waits of the 40 ms the double asked for.
    expect(Number(response.headers['x-ms-throttle-retry-count'])).toBe(2);
    expect(Number(response.headers['x-ms-throttle-retry-wait-time-ms'])).toBe(80);
    const reads = responses.slice(since).filter((record) => record.operation === 'read');
    expect(reads.map(({ status, substatus }) => [status, substatus])).toEqual([
      [429, 3200],
      [429, 3200],
      [200, undefined],
    ]);
    // Each retry arrived no sooner than the retry-after (1 ms of slack for the clock's granularity).
    expect(reads[1]!.receivedAt - reads[0]!.receivedAt).toBeGreaterThanOrEqual(39);
    expect(reads[2]!.receivedAt - reads[1]!.receivedAt).toBeGreaterThanOrEqual(39);
  });

  it('surfaces the 429, with its retry-after and substatus, once the SDK has used up its retries', async () => {
    double.throttle({ times: 10, retryAfterMs: 1, substatus: 3200, when: (request) => request.operation === 'read' });
    await expect(container.item('doc-2', 'npub-2').read()).rejects.toMatchObject({ code: 429, substatus: 3200, retryAfterInMs: 1 });
  });

  it('throttles only the requests a rule matches', async () => {
    const throttle = double.throttle({ times: 1, retryAfterMs: 1, when: (request) => request.operation === 'query' });
    const read = await container.item('doc-3', 'npub-3').read();
    expect(Number(read.headers['x-ms-throttle-retry-count'])).toBe(0);
    expect(throttle.remaining).toBe(1);
    const { resources } = await container.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll();
    expect(resources).toEqual([40]);
    expect(throttle.remaining).toBe(0);
  });

  it('lets a change feed reader ride through throttled pages without losing any change', async () => {
    const throttle = double.throttle({ times: 3, retryAfterMs: 5, when: (request) => request.operation === 'changeFeed' });
    const iterator = container.items.getChangeFeedIterator<{ id: string }>({
      changeFeedStartFrom: ChangeFeedStartFrom.Beginning(),
      maxItemCount: 6,
    });
    const ids: string[] = [];
    for (;;) {
      const page = await iterator.readNext();
      if (page.statusCode === StatusCodes.NotModified) break;
      ids.push(...page.result.map(({ id }) => id));
    }
    expect(throttle.remaining).toBe(0);
    expect(new Set(ids).size).toBe(40);
  });
});

describe('request charges (x-ms-request-charge on every response)', () => {
  it('are reported by the SDK for reads, writes, queries and the change feed, and grow with the work', async () => {
    const small = await container.items.create({ id: 'small', pubkey: 'p', text: 'x'.repeat(500) });
    const large = await container.items.create({ id: 'large', pubkey: 'p', text: 'x'.repeat(10_000) });
    const smallRead = await container.item('small', 'p').read();
    const largeRead = await container.item('large', 'p').read();
    expect(smallRead.requestCharge).toBe(1);
    expect(largeRead.requestCharge).toBeGreaterThan(smallRead.requestCharge);
    expect(small.requestCharge).toBeGreaterThan(smallRead.requestCharge);
    expect(large.requestCharge).toBeGreaterThan(small.requestCharge);
    const onePartition = await container.items.query('SELECT * FROM c', { partitionKey: 'npub-1' }).fetchAll();
    const everything = await container.items.query('SELECT * FROM c').fetchAll();
    expect(onePartition.requestCharge).toBeGreaterThan(0);
    expect(everything.requestCharge).toBeGreaterThan(onePartition.requestCharge);
    const feed = await container.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() }).readNext();
    expect(feed.requestCharge).toBeGreaterThan(0);
  });

  it('are on every response, throttled ones included (charged 0)', async () => {
    double.throttle({ times: 1, retryAfterMs: 1 });
    const since = responses.length;
    await container.item('doc-4', 'npub-4').read();
    await container.items.query('SELECT * FROM c WHERE c.pubkey = "npub-4"').fetchAll();
    const recorded = responses.slice(since);
    expect(recorded.length).toBeGreaterThan(3);
    for (const record of recorded) expect(record.requestCharge).toEqual(expect.any(Number));
    expect(recorded[0]).toMatchObject({ status: 429, requestCharge: 0 });
    // On the wire too, over HTTPS with the agent that trusts the double's throwaway certificate.
    const header = await new Promise<unknown>((resolve, reject) => {
      get(new URL('dbs', double.endpoint), { agent: double.agent }, (response) => {
        response.resume();
        resolve(response.headers['x-ms-request-charge']);
      }).on('error', reject);
    });
    expect(header).toBe('1');
  });
});
