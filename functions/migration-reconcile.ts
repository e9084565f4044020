import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { describeIssues } from '../shared/core/describe-issues.js';
import { reconcileRequestSchema, requestReconcile } from '../shared/queue/request-reconcile.js';
import { getServices } from '../shared/runtime/services.js';
import { enqueueMigrationMessages } from '../shared/storage-queue/send-messages.js';
import { json, jsonHandler, problem } from './support/http-json.js';

/**
 * `POST /api/migration/reconcile` with `{}` or no body (a dry run: counts the PostgreSQL rows whose documents
 * are gone from Cosmos) or `{"apply":true}` (removes them, each copied to reconciled_deletes); optional
 * `batchSize`. Queues the pass and answers 202 `{ passId, dryRun }`; `GET /api/migration/stats` shows it as
 * `lastReconcile`. 400 for an invalid body; 409 for `apply` while MIGRATION_MODE is off or PostgreSQL is primary.
 */
export async function migrationReconcile(request: HttpRequest): Promise<HttpResponseInit> {
  const text = await request.text();
  let body: unknown = {};
  try {
    if (text.trim() !== '') body = JSON.parse(text);
  } catch {
    return problem(400, 'the body is not valid JSON');
  }
  const parsed = reconcileRequestSchema.safeParse(body);
  if (!parsed.success) return problem(400, describeIssues(parsed.error, '(body)').join('; '));
  const services = getServices();
  const started = await requestReconcile(services, parsed.data, (messages) => enqueueMigrationMessages(services.config, messages));
  return json(202, started);
}

app.http('migrationReconcile', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'migration/reconcile',
  handler: jsonHandler(migrationReconcile),
});
