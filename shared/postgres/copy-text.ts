/**
 * Rows in the text format of PostgreSQL's `COPY … FROM STDIN` (https://www.postgresql.org/docs/current/sql-copy.html,
 * "Text Format"): one line per row, columns separated by a tab, `\N` for NULL, and a backslash, newline,
 * carriage return or tab inside a value written as its backslash escape. Each value is rendered as the
 * write path's array parameters render it (`bulk-upsert.ts`), so a row means the same whichever way it travels.
 */

/** A column of the text: the row field it comes from, and whether its value goes in as JSON text. */
export interface CopyColumn {
  name: string;
  json: boolean;
}

const special = /[\\\n\r\t]/;
const specials = /[\\\n\r\t]/g;
const escapes: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escaped(text: string): string {
  return special.test(text) ? text.replace(specials, (char) => escapes[char] as string) : text;
}

/** A JSON column's value as its JSON text (a JSON string too); any other as `pg` renders a parameter. */
export function valueText(value: unknown, json: boolean): string {
  if (json) return JSON.stringify(value);
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return JSON.stringify(value);
  }
}

/** `rows` as COPY text of `columns`, in that order. */
export function copyText(columns: readonly CopyColumn[], rows: readonly Record<string, unknown>[]): string {
  let text = '';
  for (const row of rows) {
    for (let index = 0; index < columns.length; index += 1) {
      const column = columns[index] as CopyColumn;
      const value = row[column.name];
      if (index > 0) text += '\t';
      text += value === null || value === undefined ? '\\N' : escaped(valueText(value, column.json));
    }
    text += '\n';
  }
  return text;
}
