import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { configuredSecrets } from '../../shared/config/secrets.js';
import { AppError, answerOf, ConfigError } from '../../shared/core/errors.js';
import { safeErrorMessage } from '../../shared/core/safe-error.js';
import { getServices } from '../../shared/runtime/services.js';

/**
 * JSON in and out for the HTTP functions. Every error becomes a JSON answer without a stack trace or a
 * secret: a missing setting is 503 naming the setting, anything unexpected is 500 with the invocation
 * id to find the (masked) log line by.
 */

/** A JSON response. */
export function json(status: number, body: unknown, headers?: Record<string, string>): HttpResponseInit {
  return { status, jsonBody: body, headers };
}

/** An error response: `{ error, ...details }`. */
export function problem(status: number, error: string, details: Record<string, unknown> = {}): HttpResponseInit {
  return json(status, { error, ...details });
}

/** Runs the handler; whatever it throws is logged (masked) and answered by {@link errorResponse}. */
export function jsonHandler(handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      return errorResponse(error, context);
    }
  };
}

/**
 * The answer to an error, from the one table of error codes (`answerOf`): a configuration problem names the
 * settings (never their values), a known error gives its message and code, and anything unexpected is 500
 * with the invocation id to find the (masked) log line by.
 */
export function errorResponse(error: unknown, context: InvocationContext): HttpResponseInit {
  const answer = answerOf(error);
  if (error instanceof ConfigError) {
    context.warn(`not configured: ${error.problems.join('; ')}`);
    return problem(answer.http, `not configured: ${error.fields.settings.join(', ')}`, { code: error.code });
  }
  if (error instanceof AppError) {
    context.warn(`request refused: ${error.message}`);
    return problem(answer.http, error.message, { code: error.code });
  }
  context.error(`request failed: ${safeErrorMessage(error, configuredSecrets(getServices()))}`);
  return problem(answer.http, 'internal error', { invocationId: context.invocationId });
}

/** The parsed JSON body, or why there is none (an empty body, or text that is not JSON). */
export async function readJsonBody(request: HttpRequest): Promise<{ ok: true; value: unknown } | { ok: false; reason: string }> {
  const text = await request.text();
  if (text.trim() === '') return { ok: false, reason: 'expected a JSON body' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reason: 'the body is not valid JSON' };
  }
}
