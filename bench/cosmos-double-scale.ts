/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- ChangeFeedStartFrom.Beginning/Now/Time/Continuation
   return classes that do not extend ChangeFeedStartFrom, the type the iterator options declare: the SDK's documented usage. */
import { parseArgs } from 'node:util';
import { ChangeFeedStartFrom, type Container, type OperationInput, PartitionKeyDefinitionVersion, StatusCodes } from '@azure/cosmos';
import { startCosmosDouble } from '../dev/cosmos-double/index.js';

/**
 * How the Cosmos double holds up at scale: load N generated documents through the real SDK
 * (`items.bulk`, one batch request per partition key range), then read them all back through the
 * change feed from the beginning, as a full migration would. Prints the load and read times, how page
 * times compare at the start and at the end of the feed (a page must cost what it returns, not what
 * the container holds), and the process's peak memory (client and double share this process).
 * A measurement, not a test: nothing here asserts a time.
 *
 *   npx tsx --expose-gc bench/cosmos-double-scale.ts --documents 1000000
 */

const help = `Usage: npx tsx bench/cosmos-double-scale.ts [options]
  --documents <n>    documents to load and read back (default 1000000)
  --partitions <n>   physical partitions of the container (default 4)
  --page <n>         change feed maxItemCount (default 1000)
  --concurrency <n>  bulk calls in flight while loading (default 8)
  --https            talk HTTPS (throwaway certificate) instead of plain HTTP
  -h, --help`;

const { values } = parseArgs({
  options: {
    documents: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '4' },
    page: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    https: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(help);
  process.exit(0);
}
const count = positive('documents');
const partitions = positive('partitions');
const pageSize = positive('page');
const concurrency = positive('concurrency');

function positive(name: 'documents' | 'partitions' | 'page' | 'concurrency'): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const types = ['account', 'notification', 'payment', 'subscription', 'badge', 'settings', 'metrics'];
const filler = 'lorem ipsum dolor sit amet '.repeat(16);

/** A Nostria-like document of about 650 bytes stored; about 20 per user (logical partition). */
function documentAt(index: number): Record<string, unknown> {
  const created = 1_700_000_000_000 + index * 1_000;
  return {
    id: `doc-${index}`,
    pubkey: `npub${(index % Math.max(1, Math.floor(count / 20))).toString(16).padStart(12, '0')}`,
    type: types[index % types.length],
    created,
    modified: created + 500,
    content: filler.slice(0, 300 + (index % 100)),
    tags: [`t${index % 50}`, 'nostr'],
  };
}

const megabytes = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

async function load(container: Container): Promise<number> {
  // Items.bulk takes at most 100 operations per partition key range per call: 100 per call always fits.
  let next = 0;
  let requestUnits = 0;
  const worker = async () => {
    while (next < count) {
      const start = next;
      next = Math.min(count, next + 100);
      const operations: OperationInput[] = [];
      for (let index = start; index < next; index += 1)
        operations.push({ operationType: 'Create', resourceBody: documentAt(index) as never });
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the project loads with items.bulk (dev/local-services/load-documents.ts)
      const results = await container.items.bulk(operations);
      for (const result of results) {
        if (result.statusCode !== 201) throw new Error(`bulk create answered ${result.statusCode}`);
        requestUnits += result.requestCharge;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return requestUnits;
}

interface FeedRead {
  items: number;
  pages: number;
  idSum: number;
  requestUnits: number;
  /** Milliseconds per page over the first and the last 20 pages with changes. */
  firstPagesMs: number;
  lastPagesMs: number;
}

async function readChangeFeed(container: Container): Promise<FeedRead> {
  const iterator = container.items.getChangeFeedIterator<{ id: string }>({
    changeFeedStartFrom: ChangeFeedStartFrom.Beginning(),
    maxItemCount: pageSize,
  });
  const pageTimes: number[] = [];
  const read: FeedRead = { items: 0, pages: 0, idSum: 0, requestUnits: 0, firstPagesMs: 0, lastPagesMs: 0 };
  for (;;) {
    const started = performance.now();
    const page = await iterator.readNext();
    if (page.statusCode === StatusCodes.NotModified) break;
    pageTimes.push(performance.now() - started);
    read.pages += 1;
    read.items += page.result.length;
    read.requestUnits += page.requestCharge;
    for (const { id } of page.result) read.idSum += Number(id.slice(4));
  }
  const average = (times: number[]) => times.reduce((total, time) => total + time, 0) / Math.max(1, times.length);
  read.firstPagesMs = average(pageTimes.slice(0, 20));
  read.lastPagesMs = average(pageTimes.slice(-20));
  return read;
}

const double = await startCosmosDouble({ protocol: values.https ? 'https' : 'http', partitions });
try {
  const { database } = await double.client.databases.createIfNotExists({ id: 'ScaleDB' });
  const { container } = await database.containers.create({
    id: 'Documents',
    partitionKey: { paths: ['/pubkey'], version: PartitionKeyDefinitionVersion.V2 },
  });
  console.log(
    `Cosmos double: ${partitions} partitions over ${values.https ? 'HTTPS' : 'HTTP'}, ${count.toLocaleString('en')} ` +
      `documents, Node ${process.version}`,
  );

  let started = performance.now();
  const loadUnits = await load(container);
  const loadMs = performance.now() - started;
  const ranges = double.ranges('ScaleDB', 'Documents');
  const stored = ranges.reduce((total, range) => total + range.documentCount, 0);
  console.log(
    `load:        ${seconds(loadMs)} s (${Math.round(count / (loadMs / 1000)).toLocaleString('en')} docs/s, ` +
      `${Math.round(loadUnits).toLocaleString('en')} RU); ` +
      `per range: ${ranges.map((range) => range.documentCount).join(' / ')}`,
  );
  if (stored !== count) throw new Error(`the double holds ${stored} documents, expected ${count}`);
  // With --expose-gc, the heap after a full collection: what the double holds for the documents.
  (globalThis as { gc?: () => void }).gc?.();
  const afterLoad = process.memoryUsage();
  console.log(
    `memory after load: rss ${megabytes(afterLoad.rss)} MB, heap used ${megabytes(afterLoad.heapUsed)} ` +
      `MB${'gc' in globalThis ? ' (after a full GC)' : ''}`,
  );

  started = performance.now();
  const feed = await readChangeFeed(container);
  const feedMs = performance.now() - started;
  console.log(
    `change feed: ${seconds(feedMs)} s (${Math.round(feed.items / (feedMs / 1000)).toLocaleString('en')} docs/s, ` +
      `${feed.pages} pages of <= ${pageSize}, ${Math.round(feed.requestUnits).toLocaleString('en')} RU)`,
  );
  console.log(`page time:   first 20 pages ${feed.firstPagesMs.toFixed(1)} ms each, last 20 pages ${feed.lastPagesMs.toFixed(1)} ms each`);
  const expectedSum = (count * (count - 1)) / 2;
  if (feed.items !== count || feed.idSum !== expectedSum)
    throw new Error(`the change feed returned ${feed.items} items (id sum ${feed.idSum}), expected ${count} (${expectedSum})`);
  console.log(`verified:    every document exactly once (count and id sum match)`);
  console.log(`peak RSS:    ${megabytes(process.resourceUsage().maxRSS * 1024)} MB (client and double in one process)`);
} finally {
  await double.stop();
}
