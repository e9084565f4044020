import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { describeIssues } from '../shared/core/describe-issues.js';
import { requestSwitch, switchRequestSchema } from '../shared/queue/request-switch.js';
import { getServices } from '../shared/runtime/services.js';
import { enqueueMigrationMessages } from '../shared/storage-queue/send-messages.js';
import { json, jsonHandler, problem, readJsonBody } from './support/http-json.js';

/**
 * `POST /api/migration/switch` with `{"to":"postgresql"|"cosmos"|"postgresql-only"}` (+ `maxPauseSeconds`,
 * `maxLagSeconds`): queues the switch (202); `GET /api/migration/stats` shows the phase and the last switch.
 * With `"check":true` it runs the readiness checks and answers them: 200 when every one passed, 409 when one
 * failed, each with its figure and what to do. 400 for an invalid body; 409 when MIGRATION_MODE is off.
 */
export async function migrationSwitch(request: HttpRequest): Promise<HttpResponseInit> {
  const body = await readJsonBody(request);
  if (!body.ok) return problem(400, body.reason);
  const parsed = switchRequestSchema.safeParse(body.value);
  if (!parsed.success) return problem(400, describeIssues(parsed.error, '(body)').join('; '));
  const services = getServices();
  const outcome = await requestSwitch(services, parsed.data, (messages) => enqueueMigrationMessages(services.config, messages));
  if (outcome.kind === 'queued') return json(202, { queued: true, to: parsed.data.to });
  return json(outcome.readiness.ready ? 200 : 409, outcome.readiness);
}

app.http('migrationSwitch', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'migration/switch',
  handler: jsonHandler(migrationSwitch),
});
