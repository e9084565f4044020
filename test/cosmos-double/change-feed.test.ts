/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- ChangeFeedStartFrom.Beginning/Now/Time/Continuation
   return classes that do not extend ChangeFeedStartFrom, the type the iterator options declare: the SDK's documented usage. */
import { randomBytes } from 'node:crypto';
import {
  type ChangeFeedIteratorOptions,
  type ChangeFeedIteratorResponse,
  ChangeFeedMode,
  type ChangeFeedPullModelIterator,
  ChangeFeedStartFrom,
  type Container,
  StatusCodes,
} from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CosmosDouble, type ResponseRecord, startCosmosDouble } from '../../dev/cosmos-double/index.js';

/**
 * The change feed through the real SDK's pull model. Cited: "Change feed in Azure Cosmos DB"
 * (learn.microsoft.com/azure/cosmos-db/change-feed: changes ordered within a partition key range),
 * "Change feed pull model in Azure Cosmos DB" (…/nosql/change-feed-pull-model: FeedRange, start from
 * beginning/now/time/continuation, 304 when there is nothing new, all versions and deletes only from
 * now or a continuation), and "Change feed modes in Azure Cosmos DB" (…/nosql/change-feed-modes:
 * latest version collapses versions and omits deletes; the all-versions-and-deletes response object).
 */

interface Doc {
  id: string;
  pubkey: string;
  n?: number;
  _lsn?: number;
  _ts?: number;
}

interface VersionItem {
  current?: Doc;
  previous?: Doc;
  metadata: {
    operationType: 'create' | 'replace' | 'delete';
    lsn: number;
    crts: number;
    previousImageLSN?: number;
    timeToLiveExpired?: boolean;
    id?: string;
    partitionKey?: Record<string, unknown>;
  };
}

let double: CosmosDouble;
let clock = Date.UTC(2026, 0, 1);
const responses: ResponseRecord[] = [];

beforeAll(async () => {
  double = await startCosmosDouble({ now: () => clock, onResponse: (record) => responses.push(record) });
});

afterAll(async () => {
  await double.stop();
});

async function newContainer(): Promise<Container> {
  const suffix = randomBytes(4).toString('hex');
  const { database } = await double.client.databases.createIfNotExists({ id: `db-${suffix}` });
  const { container } = await database.containers.create({ id: `c-${suffix}`, partitionKey: { paths: ['/pubkey'] } });
  return container;
}

/** Items.bulk takes at most 100 operations per partition key range per call. */
async function createAll(container: Container, documents: Doc[]): Promise<void> {
  for (let start = 0; start < documents.length; start += 100) {
    const operations = documents
      .slice(start, start + 100)
      .map((resourceBody) => ({ operationType: 'Create' as const, resourceBody: { ...resourceBody } }));
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the project loads with items.bulk (dev/local-services/load-documents.ts)
    await container.items.bulk(operations);
  }
}

const docs = (from: number, to: number): Doc[] =>
  Array.from({ length: to - from }, (_, index) => ({ id: `doc-${from + index}`, pubkey: `npub-${(from + index) % 13}` }));

/** Reads until the feed answers 304 (every range caught up); returns the pages that had changes. */
async function drain<T>(
  iterator: ChangeFeedPullModelIterator<T>,
): Promise<{ pages: ChangeFeedIteratorResponse<T[]>[]; continuation: string }> {
  const pages: ChangeFeedIteratorResponse<T[]>[] = [];
  for (;;) {
    const page = await iterator.readNext();
    if (page.statusCode === StatusCodes.NotModified) return { pages, continuation: page.continuationToken };
    expect(page.statusCode).toBe(StatusCodes.Ok);
    pages.push(page);
  }
}

const itemsOf = <T>(pages: ChangeFeedIteratorResponse<T[]>[]): T[] => pages.flatMap((page) => page.result);

function iterate<T = Doc>(container: Container, options: ChangeFeedIteratorOptions): ChangeFeedPullModelIterator<T> {
  return container.items.getChangeFeedIterator<T>(options);
}

describe('latest version mode (the default)', () => {
  it('from the beginning: every document once, pages of at most maxItemCount, in LSN order within each range', async () => {
    const container = await newContainer();
    const documents = docs(0, 150);
    await createAll(container, documents);
    const since = responses.length;
    const { pages } = await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Beginning(), maxItemCount: 10 }));
    const items = itemsOf(pages);
    expect(items.map(({ id }) => id).sort()).toEqual(documents.map(({ id }) => id).sort());
    for (const page of pages) {
      expect(page.result.length).toBeLessThanOrEqual(10);
      const lsns = page.result.map(({ _lsn }) => _lsn!);
      expect(lsns).toEqual([...lsns].sort((a, b) => a - b));
    }
    const feedReads = responses.slice(since).filter((record) => record.operation === 'changeFeed');
    expect(new Set(feedReads.map((record) => record.rangeId)).size).toBe(4);
  });

  it('answers 304 when caught up, and a continuation token resumes with only what changed since', async () => {
    const container = await newContainer();
    await createAll(container, docs(0, 40));
    const { continuation } = await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Beginning() }));
    const caughtUp = await iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Continuation(continuation) }).readNext();
    expect(caughtUp.statusCode).toBe(StatusCodes.NotModified);
    await createAll(container, docs(40, 55));
    const { pages } = await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Continuation(continuation) }));
    expect(
      itemsOf(pages)
        .map(({ id }) => id)
        .sort(),
    ).toEqual(
      docs(40, 55)
        .map(({ id }) => id)
        .sort(),
    );
  });

  it('from now: nothing written before the first read, everything written after', async () => {
    const container = await newContainer();
    await createAll(container, docs(0, 30));
    const iterator = iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Now() });
    expect((await iterator.readNext()).statusCode).toBe(StatusCodes.NotModified);
    await createAll(container, docs(30, 42));
    expect(
      itemsOf((await drain(iterator)).pages)
        .map(({ id }) => id)
        .sort(),
    ).toEqual(
      docs(30, 42)
        .map(({ id }) => id)
        .sort(),
    );
  });

  it('from a point in time: only changes made at or after it', async () => {
    const container = await newContainer();
    await createAll(container, docs(0, 20));
    clock += 60_000;
    const start = new Date(clock);
    clock += 60_000;
    await createAll(container, docs(20, 28));
    const { pages } = await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Time(start) }));
    expect(
      itemsOf(pages)
        .map(({ id }) => id)
        .sort(),
    ).toEqual(
      docs(20, 28)
        .map(({ id }) => id)
        .sort(),
    );
  });

  it('collapses versions to the latest and never returns a delete', async () => {
    const container = await newContainer();
    await createAll(container, docs(0, 10));
    await container.item('doc-1', 'npub-1').replace({ id: 'doc-1', pubkey: 'npub-1', n: 1 });
    await container.item('doc-1', 'npub-1').replace({ id: 'doc-1', pubkey: 'npub-1', n: 2 });
    await container.item('doc-2', 'npub-2').delete();
    const items = itemsOf((await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Beginning() }))).pages);
    expect(items.map(({ id }) => id).sort()).toEqual(
      docs(0, 10)
        .map(({ id }) => id)
        .filter((id) => id !== 'doc-2')
        .sort(),
    );
    expect(items.find(({ id }) => id === 'doc-1')).toMatchObject({ n: 2 });
  });

  it('reads one logical partition when the feed range is a partition key', async () => {
    const container = await newContainer();
    await createAll(container, docs(0, 60));
    const { pages } = await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Beginning('npub-4') }));
    expect(
      itemsOf(pages)
        .map(({ id }) => id)
        .sort(),
    ).toEqual(
      docs(0, 60)
        .filter(({ pubkey }) => pubkey === 'npub-4')
        .map(({ id }) => id)
        .sort(),
    );
  });

  it('charges a page for what it reads, not for the whole partition (the log is sought by LSN)', async () => {
    const container = await newContainer();
    await createAll(container, docs(0, 2000));
    const { continuation } = await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Beginning(), maxItemCount: 2000 }));
    await container.items.create({ id: 'late', pubkey: 'npub-1' });
    const { pages } = await drain(iterate(container, { changeFeedStartFrom: ChangeFeedStartFrom.Continuation(continuation) }));
    expect(itemsOf(pages).map(({ id }) => id)).toEqual(['late']);
    // 1 RU per page plus 0.01 per change examined plus the KB returned: a rescan of the range's ~500 changes would add ~5 RU.
    expect(pages[0]!.requestCharge).toBeLessThan(2);
  });
});

describe('all versions and deletes mode', () => {
  it('returns every create, replace and delete in the documented shape', async () => {
    const container = await newContainer();
    const iterator = iterate<VersionItem>(container, {
      changeFeedStartFrom: ChangeFeedStartFrom.Now(),
      changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
    });
    expect((await iterator.readNext()).statusCode).toBe(StatusCodes.NotModified);
    await container.items.create({ id: 'a', pubkey: 'p1', n: 1 });
    await container.item('a', 'p1').replace({ id: 'a', pubkey: 'p1', n: 2 });
    await container.item('a', 'p1').delete();
    const items = itemsOf((await drain(iterator)).pages);
    expect(items.map(({ metadata }) => metadata.operationType)).toEqual(['create', 'replace', 'delete']);
    const [created, replaced, deleted] = items as [VersionItem, VersionItem, VersionItem];
    expect(created.current).toMatchObject({ id: 'a', n: 1 });
    expect(created.metadata).toEqual({ operationType: 'create', lsn: expect.any(Number), crts: created.current!._ts });
    expect(replaced.current).toMatchObject({ id: 'a', n: 2 });
    expect(replaced.metadata).toEqual({
      operationType: 'replace',
      lsn: expect.any(Number),
      crts: expect.any(Number),
      previousImageLSN: created.metadata.lsn,
    });
    expect(deleted).not.toHaveProperty('current');
    expect(deleted.metadata).toEqual({
      operationType: 'delete',
      lsn: expect.any(Number),
      crts: expect.any(Number),
      previousImageLSN: replaced.metadata.lsn,
      timeToLiveExpired: false,
      id: 'a',
      partitionKey: { pubkey: 'p1' },
    });
    expect(created.metadata.lsn < replaced.metadata.lsn && replaced.metadata.lsn < deleted.metadata.lsn).toBe(true);
    for (const item of items) expect(item).not.toHaveProperty('previous');
  });

  it('cannot start from the beginning (400)', async () => {
    const container = await newContainer();
    await container.items.create({ id: 'a', pubkey: 'p1' });
    const iterator = iterate(container, {
      changeFeedStartFrom: ChangeFeedStartFrom.Beginning(),
      changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
    });
    await expect(iterator.readNext()).rejects.toMatchObject({ code: 400 });
  });

  it('carries previous images when the double is started with previousImages', async () => {
    const withImages = await startCosmosDouble({ protocol: 'http', previousImages: true });
    try {
      const { database } = await withImages.client.databases.createIfNotExists({ id: 'db' });
      const { container } = await database.containers.create({ id: 'c', partitionKey: { paths: ['/pubkey'] } });
      const iterator = iterate<VersionItem>(container, {
        changeFeedStartFrom: ChangeFeedStartFrom.Now(),
        changeFeedMode: ChangeFeedMode.AllVersionsAndDeletes,
      });
      await iterator.readNext();
      await container.items.create({ id: 'a', pubkey: 'p1', n: 1 });
      await container.item('a', 'p1').replace({ id: 'a', pubkey: 'p1', n: 2 });
      await container.item('a', 'p1').delete();
      const [created, replaced, deleted] = itemsOf((await drain(iterator)).pages);
      expect(created).not.toHaveProperty('previous');
      expect(replaced?.previous).toMatchObject({ n: 1 });
      expect(deleted?.previous).toMatchObject({ n: 2 });
    } finally {
      await withImages.stop();
    }
  });
});

describe('the older incremental feed request (A-IM: Incremental feed on GET …/docs, per partition key range id)', () => {
  it('pages with If-None-Match continuations and answers 304 when caught up', async () => {
    const plain = await startCosmosDouble({ protocol: 'http' });
    try {
      const { database } = await plain.client.databases.createIfNotExists({ id: 'db' });
      const { container } = await database.containers.create({ id: 'c', partitionKey: { paths: ['/pubkey'] } });
      await createAll(container, docs(0, 40));
      const [range] = plain.ranges('db', 'c');
      const read = (ifNoneMatch?: string) =>
        fetch(new URL('dbs/db/colls/c/docs', plain.endpoint), {
          headers: {
            'a-im': 'Incremental feed',
            'x-ms-documentdb-partitionkeyrangeid': range!.id,
            'x-ms-max-item-count': '3',
            ...(ifNoneMatch ? { 'if-none-match': ifNoneMatch } : {}),
          },
        });
      const ids: string[] = [];
      let etag: string | undefined;
      for (;;) {
        const response = await read(etag);
        expect(response.headers.get('x-ms-request-charge')).toEqual(expect.any(String));
        etag = response.headers.get('etag')!;
        if (response.status === 304) break;
        const { Documents } = (await response.json()) as { Documents: Doc[] };
        expect(Documents.length).toBeLessThanOrEqual(3);
        ids.push(...Documents.map(({ id }) => id));
      }
      expect(ids).toHaveLength(range!.documentCount);
      expect(etag).toBe(`"${range!.lsn}"`);
    } finally {
      await plain.stop();
    }
  });
});
