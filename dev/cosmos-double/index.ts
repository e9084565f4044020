import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CosmosClient } from '@azure/cosmos';
import type { CosmosSettings } from '../../shared/config/env.js';
import { createCosmosClient } from '../../shared/cosmos/cosmos-client.js';
import { createThrowawayCertificate } from '../local-services/throwaway-certificate.js';
import { CosmosAccount } from './account.js';
import type { PartitionKeyRange } from './routing-map.js';
import { createDoubleServer, type ResponseRecord } from './server.js';
import { type Throttle, type ThrottleRule, Throttler } from './throttling.js';

export type { ResponseRecord } from './server.js';
export type { RequestDescription, RequestOperation, Throttle, ThrottleRule } from './throttling.js';

/**
 * A Cosmos DB for NoSQL test double, in this process, that the real `@azure/cosmos` SDK drives
 * unchanged: several physical partitions, a per-partition change feed in both modes, splits and
 * throttling on demand, request charges. Tooling only (never deployed). See the conformance suite in
 * test/cosmos-double/ for what it does, each behaviour cited to the Microsoft document it follows.
 */

export interface CosmosDoubleOptions {
  /** Physical partitions (partition key ranges) each new container starts with. Default 4. */
  partitions?: number;
  /**
   * `https` (default): a throwaway certificate, trusted only by the returned `agent`; TLS checks stay
   * on everywhere else. `http`: plain HTTP on 127.0.0.1, for the demo.
   */
  protocol?: 'https' | 'http';
  /** Default 0 (a free port). */
  port?: number;
  /**
   * Clock for `_ts`, `crts` and change feed start times, in ms since the epoch. Default `Date.now`.
   * It must not go backwards: a start time is found by binary search over the partitions' logs.
   */
  now?: () => number;
  /**
   * All-versions-and-deletes items carry `previous` (the prior version) for replaces and deletes.
   * Off by default: Microsoft documents that the previous version is not returned.
   */
  previousImages?: boolean;
  /** Called after every response: what was asked, the status, the charge (tests observe retries with it). */
  onResponse?: (record: ResponseRecord) => void;
  /** Names put in `settings`, for code that takes CosmosSettings. Default NostriaDB / Documents. */
  databaseName?: string;
  containerName?: string;
}

export interface RangeInfo {
  id: string;
  minInclusive: string;
  maxExclusive: string;
  parents: string[];
  /** The range's LSN: that of its latest write. */
  lsn: number;
  documentCount: number;
}

export interface CosmosDouble {
  /** `https://127.0.0.1:<port>/` or `http://…`. */
  endpoint: string;
  /** A random key: the double does not check signatures, but the SDK needs valid base64 to sign with. */
  key: string;
  /** `AccountEndpoint=…;AccountKey=…;`, as AZURE_COSMOSDB_CONNECTION_STRING holds it. */
  connectionString: string;
  /** HTTPS only: trusts this double's certificate and nothing else; pass it to any other client you build. */
  agent: Agent | undefined;
  settings: CosmosSettings;
  /** The real SDK, built by the app's own `createCosmosClient` (endpoint discovery off). */
  client: CosmosClient;
  /** A container's live partition key ranges, ordered by EPK. */
  ranges(databaseId: string, containerId: string): RangeInfo[];
  /**
   * Splits one live range in two at the middle of its hash interval, now, while clients keep working:
   * requests naming the old range id answer 410/1002 from then on; its documents and change feed
   * history move to the children, which continue from its LSN.
   */
  split(databaseId: string, containerId: string, rangeId: string): [RangeInfo, RangeInfo];
  /** Makes the next `rule.times` matching requests answer 429 with `x-ms-retry-after-ms`. */
  throttle(rule: ThrottleRule): Throttle;
  stop(): Promise<void>;
}

export async function startCosmosDouble(options: CosmosDoubleOptions = {}): Promise<CosmosDouble> {
  const protocol = options.protocol ?? 'https';
  const account = new CosmosAccount({
    partitions: options.partitions ?? 4,
    now: options.now ?? Date.now,
    previousImages: options.previousImages ?? false,
  });
  const throttler = new Throttler();
  const certificate = protocol === 'https' ? await createThrowawayCertificate() : undefined;
  let endpoint = '';
  const server = createDoubleServer({ account, throttler, tls: certificate, onResponse: options.onResponse, endpoint: () => endpoint });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  endpoint = `${protocol}://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const key = randomBytes(64).toString('base64');
  const connectionString = `AccountEndpoint=${endpoint};AccountKey=${key};`;
  const agent = certificate ? new Agent({ ca: certificate.cert, keepAlive: true }) : undefined;
  const settings: CosmosSettings = {
    auth: { kind: 'connectionString', connectionString },
    databaseName: options.databaseName ?? 'NostriaDB',
    containerName: options.containerName ?? 'Documents',
  };
  const client = createCosmosClient(settings, { agent, endpointDiscovery: false });
  const containerOf = (databaseId: string, containerId: string) => {
    const container = account.container(databaseId, containerId);
    if (!container) throw new Error(`No container ${databaseId}/${containerId} in the Cosmos double`);
    return container;
  };
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    key,
    connectionString,
    agent,
    settings,
    client,
    ranges: (databaseId, containerId) => containerOf(databaseId, containerId).routing.ranges.map(rangeInfo),
    split: (databaseId, containerId, rangeId) => {
      const [left, right] = containerOf(databaseId, containerId).routing.split(rangeId);
      return [rangeInfo(left), rangeInfo(right)];
    },
    throttle: (rule) => throttler.add(rule),
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        client.dispose();
        agent?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

function rangeInfo(range: PartitionKeyRange): RangeInfo {
  return {
    id: range.id,
    minInclusive: range.minInclusive,
    maxExclusive: range.maxExclusive,
    parents: [...range.parents],
    lsn: range.store.lsn,
    documentCount: range.store.documentCount,
  };
}
