import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { showQuarantineEntry } from '../shared/quarantine/show-quarantine.js';
import { getServices } from '../shared/runtime/services.js';
import { json, jsonHandler, problem } from './support/http-json.js';

/**
 * `GET /api/migration/quarantine/{key}`: one entry, as `migrate:quarantine show <key> --json`: the document as
 * kept (secret fields redacted), its reason and status, and the PostgreSQL row it competes for or would replace,
 * with whether the quarantined version is newer than that row. The key is the rest of the path (a key is
 * `<pubkey>/<id>`, or `sha256:…`), URL-encoded as need be. 404 for a key no entry has. Reads only.
 */
export async function migrationQuarantineEntry(request: HttpRequest): Promise<HttpResponseInit> {
  const key = request.params.key ?? '';
  if (key === '' || key.length > 4096) return problem(400, 'key: expected a quarantine key (from GET /api/migration/quarantine)');
  return json(200, await showQuarantineEntry(getServices().prisma, key));
}

app.http('migrationQuarantineEntry', {
  methods: ['GET'],
  authLevel: 'function',
  // A catch-all parameter: a key holds a `/` between its pubkey and its id.
  route: 'migration/quarantine/{*key}',
  handler: jsonHandler(migrationQuarantineEntry),
});
