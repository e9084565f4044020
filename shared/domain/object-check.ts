import type { z } from 'zod';

/**
 * A zod object schema's verdict, fast: whether `schema.safeParse(value).success` would be true, as one plain
 * predicate per field, compiled from the schema's own definition (its kinds, checks, enum values and custom
 * predicates; nothing is stated twice). zod runs every field through its generic machinery (a result holder, an
 * issue list, a check loop) and builds an output object per document; on the write path that was over half of
 * the mapping's time (issue 15: 2.6 of 4.5 ms per 1,000 documents, 0.9 now), and the mapping never uses the
 * output (the row is built from the source).
 *
 * The compiled check mirrors zod 4's rules for exactly the kinds and checks the document schemas use, read from
 * zod's source: an object's shape keys but `__proto__`, read as `input[key]`, a non-optional field's key present;
 * a string is a string, `min_length` counted in code points, a `regex` tested from index 0, a refinement's
 * function truthy; a number finite, a `safeint` a safe integer, bounds inclusive or not as defined; a literal or
 * enum one of its values; a custom schema's function truthy; `optional` undefined and `nullable` null or the
 * inner schema. Anything else (another kind, another check, coercion, a default, a transform) and the schema is
 * not compiled: {@link compileObjectCheck} gives undefined and the caller asks zod for every document.
 *
 * `accepts` true means zod accepts; false means "ask zod", which then gives the verdict and the reason. A
 * property test holds the two to the same verdict on valid and broken documents of every type.
 */

export interface ObjectCheck {
  /** True only if `schema.safeParse(value).success` is true; false: ask zod. `value` must be a non-array object. */
  accepts(value: Record<string, unknown>): boolean;
}

type Predicate = (value: unknown) => boolean;

interface CheckDef {
  check: string;
  format?: string;
  pattern?: RegExp;
  minimum?: number;
  value?: unknown;
  inclusive?: boolean;
  when?: unknown;
  fn?: (value: unknown) => unknown;
}

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  checks?: Array<{ _zod: { def: CheckDef } }>;
  coerce?: boolean;
  fn?: (value: unknown) => unknown;
}

interface Internals {
  def: SchemaDef;
  values?: ReadonlySet<unknown>;
  /** The zod classes the schema is an instance of: a format (`z.email()`, `z.int32()`) is also a check of itself. */
  traits: ReadonlySet<string>;
  optin?: 'optional' | 'defaulted';
  optout?: 'optional';
}

function internals(schema: z.ZodType): Internals {
  return (schema as unknown as { _zod: Internals })._zod;
}

/** A refinement or custom predicate's answer as zod takes it: truthy passes; a promise is zod's to handle. */
function refined(fn: (value: unknown) => unknown, value: unknown): boolean {
  const result = fn(value);
  return !(result instanceof Promise) && Boolean(result);
}

/** A string's length in code points, as zod's `min_length` counts it. */
function codePointLength(text: string): number {
  let length = 0;
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index += 1;
    }
    length += 1;
  }
  return length;
}

function stringCheck(def: CheckDef): ((text: string) => boolean) | undefined {
  if (def.check === 'min_length' && typeof def.minimum === 'number') {
    const minimum = def.minimum;
    // Fewer units than the floor never reach it; twice the floor always clears it (a code point is one or two units).
    return (text) => text.length >= minimum && (text.length >= minimum * 2 || codePointLength(text) >= minimum);
  }
  if (def.when !== undefined) return undefined;
  if (def.check === 'string_format' && def.format === 'regex' && def.pattern instanceof RegExp) {
    const pattern = def.pattern;
    return (text) => {
      pattern.lastIndex = 0;
      return pattern.test(text);
    };
  }
  if (def.check === 'custom' && typeof def.fn === 'function') {
    const fn = def.fn;
    return (text) => refined(fn, text);
  }
  return undefined;
}

function numberCheck(def: CheckDef): ((number: number) => boolean) | undefined {
  if (def.when !== undefined) return undefined;
  if (def.check === 'number_format' && def.format === 'safeint') return Number.isSafeInteger;
  if ((def.check === 'greater_than' || def.check === 'less_than') && typeof def.value === 'number') {
    const bound = def.value;
    if (def.check === 'greater_than') return def.inclusive ? (number) => number >= bound : (number) => number > bound;
    return def.inclusive ? (number) => number <= bound : (number) => number < bound;
  }
  return undefined;
}

/** All of `checks` compiled by `compile`, or undefined if one of them is not understood. */
function allOf<T>(checks: SchemaDef['checks'], compile: (def: CheckDef) => ((value: T) => boolean) | undefined) {
  const compiled: Array<(value: T) => boolean> = [];
  for (const check of checks ?? []) {
    const predicate = compile(check._zod.def);
    if (!predicate) return undefined;
    compiled.push(predicate);
  }
  return compiled;
}

/** A field schema as a predicate, or undefined when it is not one this module mirrors. */
function predicateOf(schema: z.ZodType): Predicate | undefined {
  const zod = internals(schema);
  const { def } = zod;
  // A schema that is a check of itself (a format) has a rule its definition's checks do not list.
  if (def.coerce === true || (def.type !== 'custom' && zod.traits.has('$ZodCheck'))) return undefined;
  const hasChecks = (def.checks?.length ?? 0) > 0;
  switch (def.type) {
    case 'string': {
      const checks = allOf(def.checks, stringCheck);
      if (!checks) return undefined;
      return (value) => typeof value === 'string' && checks.every((check) => check(value));
    }
    case 'number': {
      const checks = allOf(def.checks, numberCheck);
      if (!checks) return undefined;
      return (value) => typeof value === 'number' && Number.isFinite(value) && checks.every((check) => check(value));
    }
    case 'boolean':
      return hasChecks ? undefined : (value) => typeof value === 'boolean';
    case 'literal':
    case 'enum': {
      const values = zod.values;
      return values && !hasChecks ? (value) => values.has(value) : undefined;
    }
    case 'custom': {
      const fn = def.fn;
      return fn && !hasChecks ? (value) => refined(fn, value) : undefined;
    }
    case 'unknown':
      return hasChecks ? undefined : () => true;
    case 'optional':
    case 'nullable': {
      const inner = def.innerType && !hasChecks ? predicateOf(def.innerType) : undefined;
      if (!inner || internals(def.innerType as z.ZodType).optin === 'defaulted') return undefined;
      return def.type === 'optional' ? (value) => value === undefined || inner(value) : (value) => value === null || inner(value);
    }
    default:
      return undefined;
  }
}

interface FieldCheck {
  key: string;
  predicate: Predicate;
  /** Whether the key may be absent (the field is optional in and out): then nothing is asked of it. */
  mayBeAbsent: boolean;
}

/**
 * The check of a zod object schema whose catchall accepts anything (a loose object) or is absent (a stripping
 * one), with no refinement of its own and fields this module mirrors; undefined for any other schema.
 */
export function compileObjectCheck(schema: z.ZodObject): ObjectCheck | undefined {
  const { def } = internals(schema);
  if (def.type !== 'object' || (def.checks?.length ?? 0) > 0 || !def.shape) return undefined;
  if (def.catchall !== undefined && internals(def.catchall).def.type !== 'unknown') return undefined;
  const fields: FieldCheck[] = [];
  for (const [key, field] of Object.entries(def.shape)) {
    // zod's object parse skips a `__proto__` key of its shape; so does this.
    if (key === '__proto__') continue;
    const predicate = predicateOf(field);
    if (!predicate) return undefined;
    const zod = internals(field);
    fields.push({ key, predicate, mayBeAbsent: zod.optin !== undefined && zod.optout === 'optional' });
  }
  return {
    accepts(value) {
      for (const field of fields) {
        if (field.key in value) {
          if (!field.predicate(value[field.key])) return false;
        } else if (!field.mayBeAbsent) {
          // An absent key that is neither optional in nor out: zod reports it even where its schema takes undefined.
          return false;
        }
      }
      return true;
    },
  };
}
