import { pipeline as pipe } from 'node:stream/promises';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { type DocumentType, documentTypeNames, documentTypes } from '../../shared/domain/document-types.js';
import { documentToRow, type Row } from '../../shared/domain/mapping.js';
import { columnsOf } from '../../shared/postgres/bulk-upsert.js';
import { copyData } from '../../shared/postgres/copy-text.js';
import { generateBenchDocuments } from '../document-stream.js';
import { Stopwatch } from '../stopwatch.js';
import type { VariantRun } from './variant.js';

/** Rows per COPY statement: large enough that a statement's own cost vanishes, small enough to share out. */
const rowsPerCopy = 10_000;

/** One COPY's worth of one table, already in COPY's text format. */
interface CopyChunk {
  type: DocumentType;
  data: Buffer;
  rows: number;
}

/**
 * The ceiling: PostgreSQL's `COPY … FROM STDIN` of the same rows into the same (empty) seven tables, the
 * rows mapped and serialized to COPY text before the clock starts, so only the server's work and the
 * transfer are timed. Through `connections` connections (as many as the pipeline writes through), each
 * taking the next chunk of {@link rowsPerCopy} rows of some table. No version guard, no quarantine, no
 * conflict handling: COPY into a table that already held these keys would simply fail.
 */
export const rawCopy: VariantRun = async ({ documents, databaseUrl, sampler, connections }) => {
  const chunks = serialize(generateBenchDocuments(documents));
  sampler.markInput();
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    }),
  );
  try {
    const stopwatch = await Stopwatch.create(databaseUrl);
    await stopwatch.start();
    const queue = [...chunks];
    let copied = 0;
    await Promise.all(
      clients.map(async (client) => {
        for (let chunk = queue.shift(); chunk !== undefined; chunk = queue.shift()) {
          await pipe([chunk.data], client.query(pgCopy.from(copyStatement(client, chunk.type))));
          copied += chunk.rows;
          sampler.sample();
        }
      }),
    );
    return { documents, ...(await stopwatch.stop()), notes: `${copied} copied, ${chunks.length} COPY statements` };
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
};

function copyStatement(client: pg.Client, type: DocumentType): string {
  const columns = columnsOf(type).map((column) => client.escapeIdentifier(column.name));
  return `COPY ${client.escapeIdentifier(documentTypes[type].table)} (${columns.join(', ')}) FROM STDIN`;
}

/** The mappable documents as COPY text (the write path's own serializer), cut into chunks of {@link rowsPerCopy} rows per table. */
function serialize(input: readonly unknown[]): CopyChunk[] {
  const rows = new Map<DocumentType, Row[]>(documentTypeNames.map((type) => [type, []]));
  for (const document of input) {
    const mapped = documentToRow(document);
    if (mapped.ok) rows.get(mapped.type)?.push(mapped.row);
  }
  const chunks: CopyChunk[] = [];
  for (const [type, all] of rows) {
    for (let start = 0; start < all.length; start += rowsPerCopy) {
      const slice = all.slice(start, start + rowsPerCopy);
      chunks.push({ type, data: copyData(columnsOf(type), slice), rows: slice.length });
    }
  }
  return chunks;
}
