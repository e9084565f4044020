import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { type DocumentType, documentTypeNames, documentTypes } from '../../shared/domain/document-types.js';
import { documentToRow, type Row } from '../../shared/domain/mapping.js';
import { benchDocuments } from '../document-stream.js';
import type { VariantRun } from './variant.js';

/**
 * The ceiling: PostgreSQL's `COPY ... FROM STDIN` of the same mapped rows into the same (empty) tables,
 * one COPY per table running side by side, fed as the documents are generated. No version guard, no
 * quarantine, no conflict handling: COPY into a table that already held these keys would simply fail.
 */
export const rawCopy: VariantRun = async ({ documents, databaseUrl, sampler }) => {
  const clients = new Map<DocumentType, pg.Client>();
  const streams = new Map<DocumentType, ReturnType<typeof pgCopy.from>>();
  try {
    for (const type of documentTypeNames) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      clients.set(type, client);
      const columns = copyColumns(type).map((column) => client.escapeIdentifier(column));
      streams.set(
        type,
        client.query(pgCopy.from(`COPY ${client.escapeIdentifier(documentTypes[type].table)} (${columns.join(', ')}) FROM STDIN`)),
      );
    }
    const started = performance.now();
    // Lines are sent in chunks: one CopyData message per row would measure message overhead, not COPY.
    const pending = new Map<DocumentType, string>();
    const send = async (type: DocumentType) => {
      const stream = streams.get(type) as ReturnType<typeof pgCopy.from>;
      if (!stream.write(pending.get(type) ?? '')) await once(stream, 'drain');
      pending.set(type, '');
    };
    let copied = 0;
    for (const document of benchDocuments(documents)) {
      const mapped = documentToRow(document);
      if (!mapped.ok) continue;
      const text = (pending.get(mapped.type) ?? '') + copyLine(mapped.type, mapped.row);
      pending.set(mapped.type, text);
      if (text.length >= copyChunkChars) await send(mapped.type);
      copied += 1;
      if (copied % 1000 === 0) sampler.sample();
    }
    for (const type of pending.keys()) await send(type);
    for (const stream of streams.values()) stream.end();
    await Promise.all([...streams.values()].map((stream) => finished(stream)));
    return { documents, seconds: (performance.now() - started) / 1000, notes: `${copied} copied` };
  } finally {
    await Promise.all([...clients.values()].map((client) => client.end()));
  }
};

const copyChunkChars = 256 * 1024;

/** The table's columns in the order `copyLine` writes them. */
function copyColumns(type: DocumentType): string[] {
  const descriptor = documentTypes[type];
  return [
    'id',
    'pubkey',
    ...(descriptor.storesType ? ['type'] : []),
    ...Object.keys(descriptor.columns),
    'extra',
    'cosmosTs',
    'cosmosEtag',
  ];
}

/** One row in COPY's text format: tab-separated, `\N` for NULL, backslash escapes. */
function copyLine(type: DocumentType, row: Row): string {
  const kinds: Record<string, string> = documentTypes[type].columns;
  const fields = copyColumns(type).map((column) => {
    const value = row[column];
    if (value === null || value === undefined) return '\\N';
    if (column === 'extra' || kinds[column] === 'json') return escapeCopyText(JSON.stringify(value));
    if (typeof value === 'boolean') return value ? 't' : 'f';
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') return escapeCopyText(String(value));
    return escapeCopyText(JSON.stringify(value));
  });
  return `${fields.join('\t')}\n`;
}

function escapeCopyText(text: string): string {
  return text.replace(/[\\\n\r\t]/g, (char) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[char] as string);
}
