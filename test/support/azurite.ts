import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

/** Azurite's well-known development account; public in Microsoft's docs, accepted by Azurite only. */
const ACCOUNT_NAME = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The slice of Azurite's (untyped) queue server this helper uses. */
interface QueueServerLike {
  start(): Promise<void>;
  close(): Promise<void>;
  clean(): Promise<void>;
  getHttpServerAddress(): string;
}

type QueueConfigurationCtor = new (...args: unknown[]) => object;
type QueueServerCtor = new (config: object) => QueueServerLike;

export interface AzuriteTestServer {
  /** A Storage connection string with only a QueueEndpoint, as `AzureWebJobsStorage` would hold it. */
  connectionString: string;
  stop(): Promise<void>;
}

/**
 * Starts Azurite's queue service in this process, in memory (like `azurite --inMemoryPersistence`),
 * on a free port. Azurite ships no types and its package entry point loads VS Code, so the queue
 * server module is loaded directly. Start one per test file in `beforeAll`; `stop()` in `afterAll`.
 */
export async function startAzurite(): Promise<AzuriteTestServer> {
  const require = createRequire(import.meta.url);
  const QueueConfiguration = (require('azurite/dist/src/queue/QueueConfiguration') as { default: QueueConfigurationCtor }).default;
  const QueueServer = (require('azurite/dist/src/queue/QueueServer') as { default: QueueServerCtor }).default;
  // Loki names its in-memory stores by path; unique names keep servers in one process apart.
  const id = randomBytes(4).toString('hex');
  const config = new QueueConfiguration(
    '127.0.0.1',
    0,
    undefined,
    `azurite-queue-${id}.json`,
    `azurite-queue-extent-${id}.json`,
    undefined,
    false, // access log
    undefined,
    false, // debug log
    undefined,
    false, // loose
    true, // skipApiVersionCheck: the SDK may be newer than this Azurite (3.35 on Node 20 vs storage-queue 12.32)
    '',
    '',
    '',
    undefined,
    false,
    true, // in-memory persistence
  );
  const server = new QueueServer(config);
  await server.start();
  const queueEndpoint = `${server.getHttpServerAddress()}/${ACCOUNT_NAME}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT_NAME};AccountKey=${ACCOUNT_KEY};QueueEndpoint=${queueEndpoint};`,
    stop: async () => {
      await server.close();
      await server.clean();
    },
  };
}
