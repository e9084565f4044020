import { randomBytes } from 'node:crypto';

/** What the service repositories take from outside: the time, and randomness for new ids. */
export interface ServiceRepositoryOptions {
  /** Milliseconds since the epoch; default `Date.now`. Tests pin it. */
  now?: () => number;
  /** The random part of a notification log's id; default 10 hex characters. */
  randomToken?: () => string;
}

export interface ServiceClock {
  now: () => number;
  randomToken: () => string;
}

export function serviceClock(options: ServiceRepositoryOptions = {}): ServiceClock {
  return { now: options.now ?? Date.now, randomToken: options.randomToken ?? (() => randomBytes(5).toString('hex')) };
}

/**
 * The properties of `input` that are given: one set to `undefined` is not given, so it neither clears a stored
 * value nor stands in for a default (`{ ...stored, ...input }` would do both).
 */
export function givenFields<I extends object>(input: I): Partial<I> {
  return Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined)) as Partial<I>;
}
