import { InvalidInputError } from '../core/errors.js';
import { creationField } from './creation-field.js';
import { type DocumentType, documentTypes } from './document-types.js';
import type { ColumnKind } from './fields.js';
import type { DocumentQuery, QueryCondition, QueryField } from './repository-contract.js';

/** Ordered by when the documents came to be (`created`, `requested` for backup jobs). */
export function creationOrder<T extends DocumentType>(type: T, direction: 'asc' | 'desc'): NonNullable<DocumentQuery<T>['orderBy']> {
  // Every creation field is a modeled timestamp of its type (see creation-field.ts); TypeScript cannot
  // follow a lookup keyed by a type parameter through to the descriptor's columns.
  return { field: creationField[type] as unknown as QueryField<T>, direction };
}

/**
 * Checks a {@link DocumentQuery} before either database compiles it: every field is a modeled field of the
 * type (so a field name can be written into a statement as an identifier), every value fits its field's kind,
 * and the limit is a whole number. Both implementations call it, so a query one database refuses the other
 * refuses too, with the same message.
 */
export function checkQuery<T extends DocumentType>(type: T, query: DocumentQuery<T>): void {
  for (const condition of query.where ?? []) checkCondition(type, condition);
  if (query.orderBy) kindOf(type, query.orderBy.field);
  if (query.limit !== undefined) checkLimit(query.limit);
}

/** A limit as the service passes it: a whole number, 0 or more. */
export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidInputError('limit', 'expected a whole number, 0 or more');
  return limit;
}

/** The column kind of a modeled field of `type`; anything else is refused. */
export function kindOf(type: DocumentType, field: string): ColumnKind {
  const columns: Readonly<Record<string, ColumnKind>> = documentTypes[type].columns;
  if (!Object.hasOwn(columns, field)) throw new InvalidInputError('field', `${type} has no queryable field ${field}`);
  return columns[field] as ColumnKind;
}

function checkCondition<T extends DocumentType>(type: T, condition: QueryCondition<T>): void {
  const kind = kindOf(type, condition.field);
  if ('equals' in condition) {
    const expected = kind === 'text' ? 'string' : kind === 'boolean' ? 'boolean' : kind === 'json' ? undefined : 'number';
    if (expected === undefined || typeof condition.equals !== expected) {
      throw new InvalidInputError(condition.field, `cannot compare ${type}.${condition.field} with a ${typeof condition.equals}`);
    }
    if (condition.ignoreCase && kind !== 'text') throw new InvalidInputError(condition.field, 'ignoreCase applies to text fields only');
    return;
  }
  const bound = 'atMost' in condition ? condition.atMost : condition.atLeast;
  if (!['timestamp', 'bigint', 'int'].includes(kind) || !Number.isSafeInteger(bound)) {
    throw new InvalidInputError(condition.field, `a range on ${type}.${condition.field} needs a whole-number field and bound`);
  }
}
