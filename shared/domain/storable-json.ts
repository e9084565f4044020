import { iterativeJsonText, jsonText } from '../core/json-text.js';

/**
 * What PostgreSQL cannot hold exactly, found before anything is written. JavaScript strings are UTF-16 and may
 * carry what UTF-8 text cannot: a lone surrogate half is silently replaced with U+FFFD on its way to a text
 * column (so two ids that differ only there become one row) and refused in jsonb (22P02); U+0000 is refused by
 * both (22021). Nesting is bounded too: Cosmos DB itself allows at most 128 levels ("Service quotas and default
 * limits", per-item limits), and both zod and PostgreSQL's jsonb parser recurse per level, so a deeper value
 * would exhaust a stack rather than be refused cleanly. A document with any of these is quarantined with the
 * reason and kept exactly as its JSON text (see the quarantine), never altered.
 */

/** Cosmos DB's own limit on the nesting of embedded objects and arrays. */
export const maxNestingDepth = 128;

export type UnstorableKind = 'nul' | 'lone-surrogate' | 'too-deep';

export interface Unstorable {
  kind: UnstorableKind;
  /** Where, as `a.b[2].c`, shortened for long paths; keys are shown escaped and cut short, never values. */
  path: string;
}

/**
 * What in `text` PostgreSQL cannot store exactly, if anything. A lone surrogate is what makes a string not
 * well-formed (`isWellFormed`, which the engine answers at once for a string with no character past U+00FF);
 * both calls are the engine's own scans, faster than a regular expression over every string (issue 15).
 */
export function unstorableText(text: string): Exclude<UnstorableKind, 'too-deep'> | undefined {
  if (text.includes('\u0000')) return 'nul';
  if (!text.isWellFormed()) return 'lone-surrogate';
  return undefined;
}

/** Whether `text` goes into a PostgreSQL text column unchanged. */
export function isStorableText(text: string): boolean {
  return unstorableText(text) === undefined;
}

/** One value still to look at; the path to it is rebuilt from `parent` links only when something is found. */
interface Frame {
  value: unknown;
  key: string | number | undefined;
  parent: Frame | undefined;
  depth: number;
}

/**
 * The first thing in `value` (a key, a string value, or the nesting itself) that PostgreSQL cannot store
 * exactly; undefined when there is none. However deep the value, neither walk can overflow the stack: both stop
 * at the first level past {@link maxNestingDepth}. On the hot path of every write, so the common answer (nothing)
 * comes from a walk that allocates nothing; the path is only worked out for a document that holds something.
 */
export function findUnstorable(value: unknown): Unstorable | undefined {
  return holdsUnstorable(value, 0) ? locateUnstorable(value) : undefined;
}

/**
 * Whether `value` holds anything {@link findUnstorable} reports, allocating nothing: the hot path's question,
 * asked of every document. Recursive, but never deeper than {@link maxNestingDepth} + 1 calls, since it answers
 * at that level; only a document that holds something is walked again to say where.
 */
function holdsUnstorable(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return unstorableText(value) !== undefined;
  if (value === null || typeof value !== 'object') return false;
  if (depth >= maxNestingDepth) return true;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index += 1) if (holdsUnstorable(value[index], depth + 1)) return true;
    return false;
  }
  const keys = Object.keys(value);
  for (let index = 0; index < keys.length; index += 1) {
    const key = keys[index] as string;
    if (unstorableText(key) !== undefined || holdsUnstorable((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** The first unstorable thing in `value`, in document order, with its path (see {@link findUnstorable}). */
function locateUnstorable(value: unknown): Unstorable | undefined {
  const stack: Frame[] = [{ value, key: undefined, parent: undefined, depth: 0 }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const current = frame.value;
    if (typeof current === 'string') {
      const kind = unstorableText(current);
      if (kind) return { kind, path: pathOf(frame) };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (frame.depth >= maxNestingDepth) return { kind: 'too-deep', path: pathOf(frame) };
    const depth = frame.depth + 1;
    // Pushed in reverse, so fields are visited in document order and the first problem a reader meets is reported.
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) stack.push({ value: current[index], key: index, parent: frame, depth });
      continue;
    }
    const keys = Object.keys(current);
    for (let index = keys.length - 1; index >= 0; index -= 1) {
      const key = keys[index] as string;
      const kind = unstorableText(key);
      if (kind) return { kind, path: pathOf({ value: undefined, key, parent: frame, depth }) };
      stack.push({ value: (current as Record<string, unknown>)[key], key, parent: frame, depth });
    }
  }
  return undefined;
}

function pathOf(frame: Frame): string {
  const segments: Array<string | number> = [];
  for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) segments.push(at.key);
  return describePath(segments.reverse());
}

/** The reason text for an {@link Unstorable}: what, where, and why it cannot be stored. */
export function describeUnstorable(found: Unstorable): string {
  switch (found.kind) {
    case 'nul':
      return `${found.path}: contains a NUL character (\\u0000), which PostgreSQL text and jsonb cannot store`;
    case 'lone-surrogate':
      return `${found.path}: contains a lone UTF-16 surrogate, which PostgreSQL cannot store exactly (it would become U+FFFD)`;
    case 'too-deep':
      return `${found.path}: nested more than ${maxNestingDepth} levels deep (Cosmos DB's own limit)`;
  }
}

const shownSegments = 6;
const shownKeyLength = 40;

/** `a.b[2].c`, with awkward keys escaped and cut short, and only the first and last segments of a deep path. */
function describePath(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return '(document)';
  const render = (segment: string | number, first: boolean) =>
    typeof segment === 'number' ? `[${segment}]` : first ? escapeKey(segment) : `.${escapeKey(segment)}`;
  if (path.length <= shownSegments * 2) return path.map((segment, index) => render(segment, index === 0)).join('');
  const head = path.slice(0, shownSegments).map((segment, index) => render(segment, index === 0));
  const tail = path.slice(-shownSegments).map((segment) => render(segment, false));
  return `${head.join('')}…(${path.length - shownSegments * 2} more levels)…${tail.join('')}`;
}

/** A key as it can be printed: control characters and surrogate halves escaped, long keys shortened. */
function escapeKey(key: string): string {
  const escaped = key.replace(/[\u0000-\u001f\uD800-\uDFFF]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > shownKeyLength ? `${escaped.slice(0, shownKeyLength)}…` : escaped;
}

/**
 * `JSON.stringify(value)` for a parsed JSON document, however deep: the built-in recurses per level and
 * throws a RangeError somewhere past ten thousand levels, which a document Cosmos holds (up to 2 MB) can reach.
 * Tries the built-in first (fast, and the same text) and walks iteratively only when it overflows. Keys keep
 * their order; as in JSON.stringify, `undefined` members are left out and `undefined` elements become null.
 */
export function documentJsonText(value: unknown): string {
  try {
    return jsonText(value) ?? 'null';
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return iterativeJsonText(value, { sortKeys: false });
  }
}
