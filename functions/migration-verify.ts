import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { pubkey as pubkeySchema } from '../shared/domain/fields.js';
import { getServices } from '../shared/runtime/services.js';
import { verifyUser } from '../shared/verification/verify-user.js';
import { json, jsonHandler, problem } from './support/http-json.js';

/**
 * `GET /api/migration/verify/{pubkey}`: the user's field-by-field report (secret values redacted).
 * 200 whether or not the two sides agree: the request succeeded and `consistent` says the answer, so
 * a client never mistakes "found differences" for "could not check". 400 for a malformed pubkey.
 */
export async function migrationVerify(request: HttpRequest): Promise<HttpResponseInit> {
  const parsed = pubkeySchema.safeParse(request.params.pubkey);
  if (!parsed.success) return problem(400, 'pubkey: expected 64 hexadecimal characters');
  return json(200, await verifyUser(getServices(), parsed.data));
}

app.http('migrationVerify', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'migration/verify/{pubkey}',
  handler: jsonHandler(migrationVerify),
});
