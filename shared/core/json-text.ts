/**
 * `JSON.stringify` typed as it behaves: undefined for a value JSON cannot hold (undefined, a function, a
 * symbol), which its declared `string` return type hides.
 */
export const jsonText: (value: unknown) => string | undefined = JSON.stringify;
