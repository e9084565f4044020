import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { getRunStatus } from '../shared/migration/run-status.js';
import { getServices } from '../shared/runtime/services.js';
import { runIdSchema } from '../shared/storage-queue/messages.js';
import { json, jsonHandler, problem } from './support/http-json.js';

/**
 * `GET /api/migration/runs/{runId}`: a run's state, counters (request units and 429s of its Cosmos reads
 * included) and per-part checkpoints (feed ranges of a full load). 404 for an unknown run.
 */
export async function migrationRun(request: HttpRequest): Promise<HttpResponseInit> {
  const runId = runIdSchema.safeParse(request.params.runId);
  if (!runId.success) return problem(400, `runId: ${runId.error.issues[0]?.message ?? 'invalid'}`);
  const status = await getRunStatus(getServices().prisma, runId.data);
  return status ? json(200, status) : problem(404, `no migration run with id ${runId.data}`);
}

app.http('migrationRun', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'migration/runs/{runId}',
  handler: jsonHandler(migrationRun),
});
