import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getServices } from '../shared/runtime/services.js';
import { getMigrationStats } from '../shared/stats/migration-stats.js';
import { json, jsonHandler } from './support/http-json.js';

/** `GET /api/migration/stats`: per type counts on both sides, quarantine, progress and the last run (as `migrate:stats --json`). */
export async function migrationStats(_request: HttpRequest): Promise<HttpResponseInit> {
  return json(200, await getMigrationStats(getServices()));
}

app.http('migrationStats', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'migration/stats',
  handler: jsonHandler(migrationStats),
});
