import { REDACTED } from '../domain/secret-fields.js';

export { REDACTED } from '../domain/secret-fields.js';

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
    const found = diffValues(cosmos[key], postgres[key], pathSegment('', key));
    differences.push(...(secretFields.includes(key) ? found.map(redact) : found));
  }
  return differences;
}

/** Differences under one field, depth first in key order; iterative, so no nesting depth overflows the stack. */
function diffValues(cosmos: unknown, postgres: unknown, path: string): FieldDifference[] {
  const out: FieldDifference[] = [];
  const work: Array<{ cosmos: unknown; postgres: unknown; path: string }> = [{ cosmos, postgres, path }];
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    const { cosmos: left, postgres: right, path: at } = item;
    if (isPlainObject(left) && isPlainObject(right)) {
      const keys = unionOfKeys(left, right);
      for (let index = keys.length - 1; index >= 0; index -= 1) {
        const key = keys[index] as string;
        work.push({ cosmos: left[key], postgres: right[key], path: pathSegment(at, key) });
      }
    } else if (Array.isArray(left) && Array.isArray(right)) {
      for (let index = Math.max(left.length, right.length) - 1; index >= 0; index -= 1) {
        work.push({ cosmos: left[index] as unknown, postgres: right[index] as unknown, path: `${at}[${index}]` });
      }
    } else if (left !== right) {
      // Scalars that differ, or values of different shapes (an object on one side, a string on the other).
      out.push(withValues(at, left, right));
    }
  }
  return out;
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
