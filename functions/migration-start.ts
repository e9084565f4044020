import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { MigrationModeDisabledError } from '../shared/migration/migration-mode.js';
import { enqueueMigrationMessages } from '../shared/queue/enqueue.js';
import { migrationRequestSchema, requestMigration } from '../shared/queue/request-migration.js';
import { describeIssues } from '../shared/runtime/describe-issues.js';
import { getServices } from '../shared/runtime/services.js';
import { json, jsonHandler, problem, readJsonBody } from './support/http-json.js';

/**
 * `POST /api/migration/start` with `{"kind":"full"}`, `{"kind":"type","documentType":"account"}` or
 * `{"kind":"user","pubkey":"..."}` (optional `batchSize`, `dryRun`). Records the run, queues it and
 * answers 202 `{ runId }` with its status URL; the queue function does the work. 400 with the reason for
 * an invalid body; 409 when the run would write and MIGRATION_MODE is off (a conflict with the app's
 * state, not a question of who asks: every caller holds the function key).
 */
export async function migrationStart(request: HttpRequest): Promise<HttpResponseInit> {
  const body = await readJsonBody(request);
  if (!body.ok) return problem(400, body.reason);
  const parsed = migrationRequestSchema.safeParse(body.value);
  if (!parsed.success) {
    return problem(400, describeIssues(parsed.error, '(body)').join('; '));
  }
  const services = getServices();
  try {
    const started = await requestMigration(services, parsed.data, (messages) => enqueueMigrationMessages(services.config, messages));
    const statusUrl = `/api/migration/runs/${encodeURIComponent(started.runId)}`;
    return json(202, { ...started, statusUrl: started.recorded ? statusUrl : null }, started.recorded ? { Location: statusUrl } : undefined);
  } catch (error) {
    if (error instanceof MigrationModeDisabledError) return problem(409, error.message);
    throw error;
  }
}

app.http('migrationStart', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'migration/start',
  handler: jsonHandler(migrationStart),
});
