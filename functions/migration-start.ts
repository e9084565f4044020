import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { describeIssues } from '../shared/core/describe-issues.js';
import { migrationRequestSchema } from '../shared/migration/run-request.js';
import { requestMigration } from '../shared/queue/request-migration.js';
import { getServices } from '../shared/runtime/services.js';
import { enqueueMigrationMessages } from '../shared/storage-queue/send-messages.js';
import { json, jsonHandler, problem, readJsonBody } from './support/http-json.js';

/**
 * `POST /api/migration/start` with `{"kind":"full"}`, `{"kind":"type","documentType":"account"}` or
 * `{"kind":"user","pubkey":"..."}` (optional `batchSize`, `dryRun`). Records the run (a full run's parts are
 * the container's feed ranges, listed now), queues it and answers 202 `{ runId }` with its status URL; the
 * queue function does the work, one chain per part. 400 with the reason for
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
  // MIGRATION_MODE off is a MigrationModeDisabledError: 409 through the error table (jsonHandler).
  const started = await requestMigration(services, parsed.data, (messages) => enqueueMigrationMessages(services.config, messages));
  const statusUrl = `/api/migration/runs/${encodeURIComponent(started.runId)}`;
  return json(202, { ...started, statusUrl: started.recorded ? statusUrl : null }, started.recorded ? { Location: statusUrl } : undefined);
}

app.http('migrationStart', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'migration/start',
  handler: jsonHandler(migrationStart),
});
