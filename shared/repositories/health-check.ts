import { configuredSecrets } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';

export interface HealthStatus {
  healthy: boolean;
  latencyMs: number;
  /** Why it is unhealthy, with credentials masked. */
  error?: string;
}

export interface HealthCheckOptions {
  /** How long to wait for an answer before reporting unhealthy (default 5000 ms). */
  timeoutMs?: number;
}

/** Reads the configured Cosmos container's metadata: proves the account is reachable, the credential works and the container exists. */
export function checkCosmosHealth(services: AppContext, options: HealthCheckOptions = {}): Promise<HealthStatus> {
  return probe(services, options, (abortSignal) => services.cosmos.read({ abortSignal }));
}

/** Runs `SELECT 1` on PostgreSQL. */
export function checkPostgresHealth(services: AppContext, options: HealthCheckOptions = {}): Promise<HealthStatus> {
  return probe(services, options, () => services.prisma.$queryRaw`SELECT 1`);
}

async function probe(
  services: AppContext,
  { timeoutMs = 5000 }: HealthCheckOptions,
  run: (signal: AbortSignal) => Promise<unknown>,
): Promise<HealthStatus> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // A hung server must be reported, not waited on: the probe races a timer.
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    // Inside the race so a configuration error (thrown when the client is created) is reported too.
    await Promise.race([Promise.resolve().then(() => run(controller.signal)), timedOut]);
    return { healthy: true, latencyMs: latencyMs() };
  } catch (error) {
    return { healthy: false, latencyMs: latencyMs(), error: safeErrorMessage(error, configuredSecrets(services)) };
  } finally {
    clearTimeout(timer);
  }
}
