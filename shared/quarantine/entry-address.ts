import { type PointRead, pointReadOf } from '../cosmos/point-reads.js';
import { isSystemProperty } from '../domain/mapping.js';

/**
 * A kept document as a value: a document PostgreSQL could not hold as JSONB is kept as its JSON text (a JSONB
 * string), which is read back here; anything else is the value as stored.
 */
export function keptValue(stored: unknown): { value: unknown; keptAsText: boolean } {
  if (typeof stored !== 'string') return { value: stored, keptAsText: false };
  try {
    const parsed = JSON.parse(stored) as unknown;
    if (parsed !== null && typeof parsed === 'object') return { value: parsed, keptAsText: true };
  } catch {
    // Not JSON text: a string as it was received.
  }
  return { value: stored, keptAsText: false };
}

/** The point read of a kept document's current version, when one can name it (see `pointReadOf`). */
export function entryPointRead(stored: unknown): PointRead | undefined {
  return pointReadOf(keptValue(stored).value);
}

/** The change-feed position of the kept version, when it came with one: a read now returns it or a later version. */
export function entryPosition(stored: unknown): number | undefined {
  const { value } = keptValue(stored);
  const lsn = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)._lsn : undefined;
  return isSystemProperty('_lsn', lsn) ? (lsn as number) : undefined;
}
