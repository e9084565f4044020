/**
 * Value semantics of the Cosmos DB for NoSQL query language ("Equality and comparison operators",
 * "Logical operators", learn.microsoft.com/azure/cosmos-db/nosql/query): comparisons between values of
 * different types, or with an undefined operand, are undefined rather than false; AND/OR/NOT are
 * three-valued; a row passes WHERE only when the condition is exactly true.
 */

type TypeRank = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** Cross-type order of ORDER BY: undefined < null < boolean < number < string < array < object. */
export function typeRank(value: unknown): TypeRank {
  if (value === undefined) return 0;
  if (value === null) return 1;
  switch (typeof value) {
    case 'boolean':
      return 2;
    case 'number':
      return 3;
    case 'string':
      return 4;
    default:
      return Array.isArray(value) ? 5 : 6;
  }
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const rank = typeRank(a);
  if (rank !== typeRank(b)) return false;
  if (rank === 5) {
    const left = a as unknown[];
    const right = b as unknown[];
    return left.length === right.length && left.every((value, index) => deepEqual(value, right[index]));
  }
  if (rank === 6) {
    const left = Object.entries(a as Record<string, unknown>);
    const right = b as Record<string, unknown>;
    return left.length === Object.keys(right).length && left.every(([key, value]) => deepEqual(value, right[key]));
  }
  return false;
}

export function equals(a: unknown, b: unknown): boolean | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (typeRank(a) !== typeRank(b)) return false;
  return deepEqual(a, b);
}

/** `<`, `<=`, `>`, `>=`: defined only between two primitives of one type. */
export function compareForOperator(a: unknown, b: unknown): number | undefined {
  const rank = typeRank(a);
  if (rank === 0 || rank >= 5 || rank !== typeRank(b)) return undefined;
  if (rank === 1) return 0;
  return (a as number | string | boolean) < (b as number | string | boolean) ? -1 : a === b ? 0 : 1;
}

/** Total order used by ORDER BY and MIN/MAX: type rank first, then value. */
export function compareForSort(a: unknown, b: unknown): number {
  const rank = typeRank(a);
  const difference = rank - typeRank(b);
  if (difference !== 0) return difference;
  if (rank >= 2 && rank <= 4) return (a as number | string | boolean) < (b as number | string | boolean) ? -1 : a === b ? 0 : 1;
  return 0;
}

export function and(a: unknown, b: unknown): boolean | undefined {
  if (a === false || b === false) return false;
  return a === true && b === true ? true : undefined;
}

export function or(a: unknown, b: unknown): boolean | undefined {
  if (a === true || b === true) return true;
  return a === false && b === false ? false : undefined;
}

export function not(a: unknown): boolean | undefined {
  return typeof a === 'boolean' ? !a : undefined;
}
