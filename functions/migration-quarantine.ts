import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { listQuarantine } from '../shared/quarantine/list-quarantine.js';
import { quarantineQuerySchema } from '../shared/quarantine/quarantine-query.js';
import { getServices } from '../shared/runtime/services.js';
import { json, jsonHandler, problem } from './support/http-json.js';

/**
 * `GET /api/migration/quarantine`: a page of the quarantine, as `migrate:quarantine list --json`. Query parameters
 * (all optional): `status` (open, resolved, closed or all; default open), `type`, `reason`, `user` (the pubkey),
 * `olderThan` and `newerThan` (an age: 90s, 15m, 2h, 7d), `limit` (1-1000, default 50) and `after` (the `next`
 * key of the page before). Answers the entries, how many the filters select in all and per reason code, and the
 * next page's `after`. 400 for a malformed parameter. Reads only.
 */
export async function migrationQuarantine(request: HttpRequest): Promise<HttpResponseInit> {
  const parsed = quarantineQuerySchema.safeParse(Object.fromEntries(request.query.entries()));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return problem(400, `${issue?.path.join('.') || 'query'}: ${issue?.message ?? 'invalid'}`);
  }
  const { filter, limit, after } = parsed.data;
  return json(200, await listQuarantine(getServices().prisma, filter, { limit, ...(after ? { after } : {}) }));
}

app.http('migrationQuarantine', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'migration/quarantine',
  handler: jsonHandler(migrationQuarantine),
});
