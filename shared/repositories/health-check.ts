import { configuredSecrets } from '../config/secrets.js';
import type { AppContext } from '../context/app-context.js';
import { safeErrorMessage } from '../core/safe-error.js';

export interface HealthStatus {
  healthy: boolean;
  latencyMs: number;
  /**
   * Why it is unhealthy, with credentials masked and host names, addresses and endpoints replaced by
   * `<host>`: the health route answers callers who should learn THAT a database is down, not where it
   * lives (network layout is for the logs and the operator's own tools).
   */
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
    return { healthy: false, latencyMs: latencyMs(), error: withoutHosts(safeErrorMessage(error, configuredSecrets(services))) };
  } finally {
    clearTimeout(timer);
  }
}

/** Endpoints and addresses as drivers quote them: URLs, host:port, IPv4/IPv6 addresses, dotted host names. */
const hostPatterns: readonly RegExp[] = [
  /\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`,;)]+/gi,
  /\[[0-9a-f:.]+\](?::\d+)?/gi,
  /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g,
  /(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])/gi,
  /\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d+)?\b/gi,
  /\blocalhost(?::\d+)?\b/gi,
];

/** `text` with every endpoint, address and host name replaced by `<host>`. */
export function withoutHosts(text: string): string {
  return hostPatterns.reduce((masked, pattern) => masked.replace(pattern, '<host>'), text);
}
