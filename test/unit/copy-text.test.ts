import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CopyColumn, copyData, numberText } from '../../shared/postgres/copy-text.js';

/** The COPY data as text: it is UTF-8. */
function copyText(columns: readonly CopyColumn[], rows: readonly Record<string, unknown>[]): string {
  return copyData(columns, rows).toString('utf8');
}

/**
 * COPY's text format (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"): a tab between
 * columns, a newline after each row, `\N` for NULL, and a backslash, newline, carriage return or tab inside
 * a value as its backslash escape. The expected texts below are written out by hand from that page.
 */
describe('copyData', () => {
  const columns = [
    { name: 'id', json: false },
    { name: 'note', json: false },
    { name: 'count', json: false },
    { name: 'paid', json: false },
    { name: 'extra', json: true },
  ];

  it('separates columns by tabs and rows by newlines, NULL as \\N for null and absent alike', () => {
    const text = copyText(columns, [
      { id: 'a', note: 'plain', count: 3, paid: true, extra: {} },
      { id: 'b', note: null, paid: false, extra: { k: 1 } },
    ]);
    expect(text).toBe('a\tplain\t3\ttrue\t{}\nb\t\\N\t\\N\tfalse\t{"k":1}\n');
  });

  it('escapes backslash, tab, newline and carriage return in text, so \\N and \\. in a value stay text', () => {
    const text = copyText(columns, [{ id: 'x', note: 'a\tb\nc\rd\\e \\N \\.', count: 1, paid: true, extra: {} }]);
    expect(text).toBe('x\ta\\tb\\nc\\rd\\\\e \\\\N \\\\.\t1\ttrue\t{}\n');
  });

  it('writes a JSON column as its JSON text, a JSON string included, with its backslashes doubled', () => {
    const text = copyText(columns, [
      { id: 'j', note: 'n', count: 0, paid: false, extra: { quote: 'say "hi"\n', tab: '\t' } },
      { id: 's', note: 'n', count: 0, paid: false, extra: 'just text' },
    ]);
    expect(text).toBe('j\tn\t0\tfalse\t{"quote":"say \\\\"hi\\\\"\\\\n","tab":"\\\\t"}\ns\tn\t0\tfalse\t"just text"\n');
  });

  it('is UTF-8, characters outside the BMP included, however long the lines and the whole', () => {
    const long = '€'.repeat(40_000);
    const rows = [
      { id: 'ä😀', note: long, count: 1, paid: true, extra: { '😀': 'ß' } },
      ...Array.from({ length: 3000 }, (_, index) => ({ id: `r${index}`, note: 'ü', count: index, paid: false, extra: {} })),
    ];
    const data = copyData(columns, rows);
    const expected = `ä😀\t${long}\t1\ttrue\t{"😀":"ß"}\n${Array.from({ length: 3000 }, (_, index) => `r${index}\tü\t${index}\tfalse\t{}\n`).join('')}`;
    expect(data.toString('utf8')).toBe(expected);
    expect(data.length).toBe(Buffer.byteLength(expected, 'utf8'));
  });

  it('writes nothing for no rows', () => {
    expect(copyText(columns, [])).toBe('');
  });
});

describe('numberText', () => {
  it('is String(number) for every number: whole ones past 2^31 (timestamps), and any other', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 2 ** 31 - 2, max: Number.MAX_SAFE_INTEGER }),
          fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 2 ** 31 }),
          fc.double(),
          fc.constantFrom(
            2 ** 31,
            2 ** 31 - 1,
            1e7,
            1e15,
            1e16,
            Number.MAX_SAFE_INTEGER,
            Number.MAX_SAFE_INTEGER + 1,
            2 ** 60,
            -0,
            Number.NaN,
          ),
        ),
        (number) => {
          expect(numberText(number)).toBe(String(number));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
