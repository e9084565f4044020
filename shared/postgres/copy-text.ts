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

/** The largest integer V8 keeps unboxed (a Smi), whose decimal text it makes fast and caches. */
const smallIntegerLimit = 2 ** 31 - 1;

/**
 * `String(number)`, faster for the whole numbers past 2^31 that millisecond timestamps are: V8 renders those
 * through its general double-to-text path, about four times slower than two small integers joined (issue 15:
 * four or five per row). Same text for every number: any other goes to `String`.
 */
export function numberText(number: number): string {
  if (number <= smallIntegerLimit || !Number.isSafeInteger(number)) return String(number);
  const high = Math.floor(number / 1e7);
  const low = String(number - high * 1e7);
  return `${high}${'0000000'.slice(low.length)}${low}`;
}

/** A JSON column's value as its JSON text (a JSON string too); any other as `pg` renders a parameter. */
export function valueText(value: unknown, json: boolean): string {
  if (json) return JSON.stringify(value);
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      return numberText(value);
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return JSON.stringify(value);
  }
}

/**
 * A value as it stands in a COPY line. JSON text holds no raw newline, return or tab (JSON escapes them), only
 * backslashes; the text of a number, a boolean or a bigint holds none of them.
 */
function fieldText(value: unknown, json: boolean): string {
  if (value === null || value === undefined) return '\\N';
  const text = valueText(value, json);
  if (json) return text.includes('\\') ? text.replaceAll('\\', '\\\\') : text;
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? text : escaped(text);
}

/**
 * `rows` as the bytes (UTF-8) of COPY text of `columns`, in that order. Encoded line by line into one buffer: one
 * string of a whole chunk (a rope of thousands of pieces) cost more to flatten and encode than to build (issue 15).
 */
export function copyData(columns: readonly CopyColumn[], rows: readonly Record<string, unknown>[]): Buffer {
  let buffer = Buffer.allocUnsafe(64 * 1024);
  let length = 0;
  for (const row of rows) {
    let line = '';
    for (let index = 0; index < columns.length; index += 1) {
      const column = columns[index] as CopyColumn;
      if (index > 0) line += '\t';
      line += fieldText(row[column.name], column.json);
    }
    line += '\n';
    // A UTF-16 unit is at most 3 bytes of UTF-8.
    if (length + line.length * 3 > buffer.length) {
      const larger = Buffer.allocUnsafe(Math.max(buffer.length * 2, length + line.length * 3));
      buffer.copy(larger, 0, 0, length);
      buffer = larger;
    }
    length += buffer.write(line, length);
  }
  return buffer.subarray(0, length);
}
