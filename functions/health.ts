import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import RepositoryFactory from '../shared/repositories/repository-factory.js';
import { json, jsonHandler } from './support/http-json.js';

/**
 * `GET /api/health` (function key, like every route here: docs/deploy.md passes it in the smoke check):
 * Cosmos DB and PostgreSQL reachability with the latency of each probe. 200 when both answer, 503 when
 * either does not (a missing setting counts as down and is named in `error`). The answer never names a
 * host, address or endpoint, only what failed (see `HealthStatus.error`).
 */
export async function health(_request: HttpRequest): Promise<HttpResponseInit> {
  const [cosmos, postgres] = await Promise.all([RepositoryFactory.checkCosmosHealth(), RepositoryFactory.checkPostgresHealth()]);
  const healthy = cosmos.healthy && postgres.healthy;
  return json(healthy ? 200 : 503, { status: healthy ? 'healthy' : 'unhealthy', cosmos, postgres });
}

app.http('health', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'health',
  handler: jsonHandler(health),
});
