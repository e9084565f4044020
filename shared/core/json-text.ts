/**
 * `JSON.stringify` typed as it behaves: undefined for a value JSON cannot hold (undefined, a function, a
 * symbol), which its declared `string` return type hides.
 */
export const jsonText: (value: unknown) => string | undefined = JSON.stringify;

/**
 * JSON text of a parsed JSON value, walked without recursion, so a value nested far past the built-in's stack
 * (a document Cosmos holds can be) is written all the same. As in JSON.stringify, `undefined` members are left
 * out and `undefined` elements become null. With `sortKeys`, object keys are written sorted at every depth (the
 * canonical form verification hashes); otherwise in their own order (the text JSON.stringify gives).
 */
export function iterativeJsonText(value: unknown, { sortKeys }: { sortKeys: boolean }): string {
  const out: string[] = [];
  // Work still to do, last first: a value to serialise, or text to emit as it is.
  const work: Array<{ value: unknown } | string> = [{ value }];
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    const current = item.value;
    if (Array.isArray(current)) {
      work.push(']');
      for (let index = current.length - 1; index >= 0; index -= 1) {
        const element: unknown = current[index];
        work.push({ value: element === undefined ? null : element });
        if (index > 0) work.push(',');
      }
      work.push('[');
    } else if (current !== null && typeof current === 'object') {
      const object = current as Record<string, unknown>;
      const keys = Object.keys(object).filter((key) => object[key] !== undefined);
      if (sortKeys) keys.sort();
      work.push('}');
      for (let index = keys.length - 1; index >= 0; index -= 1) {
        const key = keys[index] as string;
        work.push({ value: object[key] }, `${JSON.stringify(key)}:`);
        if (index > 0) work.push(',');
      }
      work.push('{');
    } else {
      out.push(jsonText(current) ?? 'null');
    }
  }
  return out.join('');
}
