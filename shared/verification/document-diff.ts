/** Shown instead of the value of a secret field, or of anything inside one. */
export const REDACTED = '[redacted]';

/** One field that differs: its path (`subscription.entitlements.features[1]`) and both values, absent ones left out. */
export interface FieldDifference {
  path: string;
  cosmos?: unknown;
  postgres?: unknown;
}

/**
 * Field-by-field comparison of two normalised documents, descending into objects and arrays so each
 * difference is reported at the deepest path where the two disagree. Values under a top-level field
 * named in `secretFields` are replaced by {@link REDACTED} here, so they never leave this function.
 */
export function diffDocuments(
  cosmos: Record<string, unknown>,
  postgres: Record<string, unknown>,
  secretFields: readonly string[] = [],
): FieldDifference[] {
  const differences: FieldDifference[] = [];
  for (const key of unionOfKeys(cosmos, postgres)) {
    const found: FieldDifference[] = [];
    diffValues(cosmos[key], postgres[key], pathSegment('', key), found);
    differences.push(...(secretFields.includes(key) ? found.map(redact) : found));
  }
  return differences;
}

function diffValues(cosmos: unknown, postgres: unknown, path: string, out: FieldDifference[]): void {
  if (isPlainObject(cosmos) && isPlainObject(postgres)) {
    for (const key of unionOfKeys(cosmos, postgres)) diffValues(cosmos[key], postgres[key], pathSegment(path, key), out);
    return;
  }
  if (Array.isArray(cosmos) && Array.isArray(postgres)) {
    const length = Math.max(cosmos.length, postgres.length);
    for (let index = 0; index < length; index += 1) diffValues(cosmos[index], postgres[index], `${path}[${index}]`, out);
    return;
  }
  // What is left are scalars, or values of different shapes (an object on one side, a string on the other).
  if (cosmos === postgres) return;
  out.push(withValues(path, cosmos, postgres));
}

function withValues(path: string, cosmos: unknown, postgres: unknown): FieldDifference {
  const difference: FieldDifference = { path };
  if (cosmos !== undefined) difference.cosmos = cosmos;
  if (postgres !== undefined) difference.postgres = postgres;
  return difference;
}

function redact(difference: FieldDifference): FieldDifference {
  // Whether a side is absent is not secret, and it is what tells a reader the field went missing.
  return withValues(
    difference.path,
    difference.cosmos === undefined ? undefined : REDACTED,
    difference.postgres === undefined ? undefined : REDACTED,
  );
}

function unionOfKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const identifier = /^[A-Za-z_$][\w$]*$/;

/** `a.b` for identifier-like keys, `a["odd key"]` for the rest, so every path can be read back unambiguously. */
function pathSegment(parent: string, key: string): string {
  if (!identifier.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === '' ? key : `${parent}.${key}`;
}
