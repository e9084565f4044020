import { deepEqual, typeRank } from './sql-values.js';

/**
 * The system functions the double evaluates ("System functions", learn.microsoft.com/azure/cosmos-db/
 * nosql/query/system-functions). As in Cosmos, an argument of the wrong type makes the result
 * undefined (so a WHERE built on it filters the row out) rather than an error. A query naming any
 * other function is rejected, so a test cannot silently rely on something the double does not do.
 */

type SystemFunction = (args: unknown[]) => unknown;

const isString = (value: unknown): value is string => typeof value === 'string';

/** Optional boolean flag (ignoreCase, partial match): absent means false, anything but a boolean is invalid. */
function flag(value: unknown): boolean | undefined {
  if (value === undefined) return false;
  return typeof value === 'boolean' ? value : undefined;
}

function stringTest(test: (text: string, search: string) => boolean): SystemFunction {
  return ([text, search, ignoreCase]) => {
    const fold = flag(ignoreCase);
    if (!isString(text) || !isString(search) || fold === undefined) return undefined;
    return fold ? test(text.toLowerCase(), search.toLowerCase()) : test(text, search);
  };
}

/** ARRAY_CONTAINS with partial match: an object matches when it has every member of the searched object. */
function contains(candidate: unknown, searched: unknown, partial: boolean): boolean {
  if (!partial || typeRank(searched) !== 6 || typeRank(candidate) !== 6) return deepEqual(candidate, searched);
  const object = candidate as Record<string, unknown>;
  return Object.entries(searched as Record<string, unknown>).every(([key, value]) => deepEqual(object[key], value));
}

const functions: Record<string, SystemFunction> = {
  IS_DEFINED: ([value]) => value !== undefined,
  IS_NULL: ([value]) => value === null,
  IS_STRING: ([value]) => typeof value === 'string',
  IS_NUMBER: ([value]) => typeof value === 'number',
  IS_BOOL: ([value]) => typeof value === 'boolean',
  IS_ARRAY: ([value]) => Array.isArray(value),
  IS_OBJECT: ([value]) => typeRank(value) === 6,
  IS_PRIMITIVE: ([value]) => typeRank(value) >= 1 && typeRank(value) <= 4,
  ARRAY_CONTAINS: ([array, searched, partialMatch]) => {
    const partial = flag(partialMatch);
    if (!Array.isArray(array) || partial === undefined) return undefined;
    return array.some((candidate) => contains(candidate, searched, partial));
  },
  ARRAY_LENGTH: ([array]) => (Array.isArray(array) ? array.length : undefined),
  LOWER: ([text]) => (isString(text) ? text.toLowerCase() : undefined),
  UPPER: ([text]) => (isString(text) ? text.toUpperCase() : undefined),
  LENGTH: ([text]) => (isString(text) ? text.length : undefined),
  CONCAT: (parts) => (parts.length >= 2 && parts.every(isString) ? parts.join('') : undefined),
  STRINGEQUALS: stringTest((text, search) => text === search),
  STARTSWITH: stringTest((text, search) => text.startsWith(search)),
  ENDSWITH: stringTest((text, search) => text.endsWith(search)),
  CONTAINS: stringTest((text, search) => text.includes(search)),
};

export function systemFunction(name: string): SystemFunction | undefined {
  return functions[name.toUpperCase()];
}
