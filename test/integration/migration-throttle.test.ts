import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Container, CosmosClient } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../shared/core/clock.js';
import { readDocumentPages } from '../../shared/cosmos/document-source.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createThrowawayCertificate } from '../../dev/local-services/throwaway-certificate.js';
import { loadSource, sourceDocuments } from './fixtures/migration-source.js';

/**
 * Throttling against the real SDK. The stand-in never throttles, so a small HTTPS proxy in front of it
 * answers the first query requests with a real Cosmos 429 (`x-ms-retry-after-ms`) and forwards the rest
 * untouched; the SDK's own 429 retries are switched off on this client so that ours are what is tested.
 */

const retryAfterMs = 120;
let cosmos: CosmosTestServer;
let container: Container;
let accounts: number;

interface ThrottlingProxy {
  endpoint: string;
  agent: Agent;
  /** How many more query requests to answer with 429. */
  throttleNext: number;
  throttled: number;
  forwardedQueries: number;
  server: Server;
}

async function startProxy(target: CosmosTestServer): Promise<ThrottlingProxy> {
  const { cert, key } = await createThrowawayCertificate();
  const proxy = { throttleNext: 0, throttled: 0, forwardedQueries: 0 } as ThrottlingProxy;
  const targetUrl = new URL(target.endpoint);
  proxy.server = createServer({ cert, key }, (req, res) => {
    const isQuery = req.method === 'POST' && /\/docs$/.test(req.url ?? '') && !req.headers['x-ms-cosmos-is-query-plan-request'];
    if (isQuery && proxy.throttleNext > 0) {
      proxy.throttleNext -= 1;
      proxy.throttled += 1;
      req.resume();
      res.writeHead(429, { 'content-type': 'application/json', 'x-ms-retry-after-ms': String(retryAfterMs), 'x-ms-substatus': '3200' });
      res.end(JSON.stringify({ code: 'TooManyRequests', message: 'Request rate is large. More Request Units may be needed.' }));
      return;
    }
    if (isQuery) proxy.forwardedQueries += 1;
    const upstream = request(
      {
        host: targetUrl.hostname,
        port: targetUrl.port,
        path: req.url,
        method: req.method,
        headers: { ...req.headers, host: targetUrl.host },
        agent: target.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `https://127.0.0.1:${(proxy.server.address() as AddressInfo).port}/`;
  proxy.agent = new Agent({ ca: cert });
  return proxy;
}

let proxy: ThrottlingProxy;
let throughProxy: CosmosClient;

beforeAll(async () => {
  cosmos = await startCosmosServer();
  container = await createTestContainer(cosmos.client);
  const source = await loadSource(container, sourceDocuments(60, 51));
  accounts = source.filter((document) => document.type === 'account').length;
  proxy = await startProxy(cosmos);
  throughProxy = new CosmosClient({
    endpoint: proxy.endpoint,
    key: cosmos.key,
    agent: proxy.agent,
    connectionPolicy: {
      enableEndpointDiscovery: false,
      retryOptions: { maxRetryAttemptCount: 0, fixedRetryIntervalInMilliseconds: 0, maxWaitTimeInSeconds: 0 },
    },
  });
});
afterAll(async () => {
  throughProxy?.dispose();
  proxy?.agent.destroy();
  proxy?.server.closeAllConnections();
  await new Promise<void>((resolve) => (proxy ? proxy.server.close(() => resolve()) : resolve()));
  await cosmos?.stop();
});

function proxiedContainer(): Container {
  return throughProxy.database(container.database.id).container(container.id);
}

async function readAllPages(target: Container, options: Parameters<typeof readDocumentPages>[2]): Promise<number> {
  let documents = 0;
  for await (const page of readDocumentPages(target, { type: 'account' }, options)) documents += page.documents.length;
  return documents;
}

describe('reading under Cosmos throttling', () => {
  it('waits at least the retry-after a 429 gives, then reads every page', async () => {
    proxy.throttleNext = 3;
    const waits: number[] = [];
    const read = await readAllPages(proxiedContainer(), { batchSize: 7, onThrottle: ({ waitMs }) => waits.push(waitMs) });
    expect(read).toBe(accounts);
    expect(proxy.throttled).toBe(3);
    expect(waits).toHaveLength(3);
    for (const wait of waits) expect(wait).toBeGreaterThanOrEqual(retryAfterMs);
  });

  it('gives up with the 429 after the configured attempts', async () => {
    proxy.throttleNext = 5;
    const failed = readAllPages(proxiedContainer(), { batchSize: 7, throttleAttempts: 2 });
    await expect(failed).rejects.toMatchObject({ code: 429 });
    proxy.throttleNext = 0;
  });

  it('keeps to a request-unit budget, using each response’s request charge', async () => {
    const waits: number[] = [];
    let now = 0;
    const clock: Clock = {
      now: () => now,
      sleep: (ms) => {
        waits.push(ms);
        now += ms;
        return Promise.resolve();
      },
    };
    let pages = 0;
    let charge = 0;
    for await (const page of readDocumentPages(container, { type: 'account' }, { batchSize: 9, maxRequestUnitsPerSecond: 4, clock })) {
      pages += 1;
      charge += page.requestCharge;
    }
    expect(pages).toBeGreaterThan(3);
    // The stand-in charges 1 RU a request: at 4 RU/s every request after the first waits a quarter second.
    expect(charge).toBe(pages);
    expect(waits).toEqual(Array.from({ length: pages - 1 }, () => 250));
  });
});
