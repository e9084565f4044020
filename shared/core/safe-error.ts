/**
 * Error text that is safe to log, store (pending_sync.lastError) or return from a health check.
 * Drivers sometimes echo connection strings; the configured secrets and anything shaped like a
 * credential are masked, and the text is capped so a huge server reply cannot bloat a row.
 */

const maxLength = 500;
const mask = '***';

const credentialPatterns: ReadonlyArray<[RegExp, string]> = [
  [/(postgres(?:ql)?:\/\/[^:/\s@]*:)[^@\s]*@/gi, `$1${mask}@`],
  [/(AccountKey=)[^;\s]+/gi, `$1${mask}`],
  [/(password=)[^;\s&]+/gi, `$1${mask}`],
];

/** The error's message with credentials masked; `secrets` are exact values to mask as well. */
export function safeErrorMessage(error: unknown, secrets: readonly string[] = []): string {
  let text = messageOf(error);
  for (const secret of secrets) {
    if (secret.length > 0) text = text.split(secret).join(mask);
  }
  for (const [pattern, replacement] of credentialPatterns) text = text.replace(pattern, replacement);
  return text.length > maxLength ? `${text.slice(0, maxLength)}...` : text;
}

function messageOf(error: unknown): string {
  // Node reports a refused dual-stack connect as an AggregateError with an empty message.
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(messageOf).join('; ');
  }
  if (error instanceof Error) {
    if (error.message) return error.message;
    // Cosmos answers some failures (a 404 for a missing container) with an empty message and a status code.
    const { code, body } = error as { code?: unknown; body?: { message?: unknown } };
    if (typeof body?.message === 'string' && body.message) return body.message;
    return typeof code === 'number' || typeof code === 'string' ? `${error.name} (code ${code})` : error.name;
  }
  return String(error);
}
