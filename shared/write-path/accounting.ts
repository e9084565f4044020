import { type DocumentType, documentTypes } from '../domain/document-types.js';
import { type Row, rowToDocument } from '../domain/mapping.js';
import type { RowHolder } from '../postgres/bulk-upsert.js';
import { describePostgresError } from '../postgres/postgres-errors.js';
import type { Unmappable } from './plan-documents.js';
import { type QuarantineEntry, quarantineEntry } from './quarantine.js';
import type { Refused, Settled } from './write-chunk.js';

/**
 * Per-document outcome counts; they add up to the number of documents given.
 * - `written`: inserted or updated;
 * - `unchanged`: the table already holds this version or a newer one (or a newer copy came later in
 *   the same call), a version older than a recorded delete of the document (a tombstone), and an
 *   unmappable version older than the stored row or the delete;
 * - `skipped`: `skipExisting` and the row exists;
 * - `quarantined`: unmappable, or stopped by the identity guard (reason code `unmappable` or `conflict`);
 * - `failed`: refused by PostgreSQL for a reason in the row itself (a value out of range, a constraint);
 *   such a document is still saved in the quarantine with the database's reason, so it is accounted for.
 * `displaced` counts rows of *other* documents moved from a pubkey-keyed table to the quarantine because
 * a newer document of the same pubkey took their place (they are not among the documents given).
 */
export interface ApplyResult {
  written: number;
  unchanged: number;
  skipped: number;
  quarantined: number;
  failed: number;
  displaced: number;
  /** Quarantine keys (`quarantineKey`) of the documents given that were quarantined, and of those that failed. */
  quarantinedKeys: string[];
  failedKeys: string[];
  /** Quarantine keys of the displaced rows' documents. */
  displacedKeys: string[];
}

function idOwnedReason(type: DocumentType, id: string, ownerPubkey: string): string {
  return `${type} id "${id}" already belongs to pubkey ${ownerPubkey}; not overwritten`;
}

function newerHolderReason(type: DocumentType, holder: Pick<RowHolder, 'id' | 'cosmosTs'>): string {
  return `a newer ${type} document of the same pubkey holds its row: id "${holder.id}" (_ts ${holder.cosmosTs})`;
}

function displacedReason(type: DocumentType, by: Row): string {
  return `replaced in ${documentTypes[type].table} by a newer ${type} document of the same pubkey: id "${by.id}" (_ts ${by.cosmosTs})`;
}

/** A displaced row back as the document it was copied from, with the version it had. */
function displacedDocument(type: DocumentType, row: Record<string, unknown>): Record<string, unknown> {
  const document: Record<string, unknown> = { ...rowToDocument(type, row), _ts: Number(row.cosmosTs) };
  if (typeof row.cosmosEtag === 'string') document._etag = row.cosmosEtag;
  if (row.cosmosLsn !== null && row.cosmosLsn !== undefined) document._lsn = Number(row.cosmosLsn);
  return document;
}

/**
 * The row a competing document needs, as `<table>:<key>`: the holder's row (by its key column), so that
 * whoever removes that row can find the documents waiting for it (`quarantine.competesFor`).
 */
export function competedRow(type: DocumentType, holder: Pick<RowHolder, 'id' | 'pubkey'>): string {
  const descriptor = documentTypes[type];
  return `${descriptor.table}:${descriptor.key === 'pubkey' ? holder.pubkey : holder.id}`;
}

/**
 * The books of one attempt at a call: the {@link ApplyResult} counters and keys, and the quarantine
 * entries to save, filled in as rows are settled. A retried call starts new books.
 */
export class Accounting {
  readonly result: ApplyResult = {
    written: 0,
    unchanged: 0,
    skipped: 0,
    quarantined: 0,
    failed: 0,
    displaced: 0,
    quarantinedKeys: [],
    failedKeys: [],
    displacedKeys: [],
  };
  readonly quarantine: QuarantineEntry[] = [];
  /** Every row written (for `findStaleUnmappable`, which looks them up only when the call has unmappable documents). */
  readonly writtenRows: Row[] = [];

  /** Older copies of documents that a newer copy in the same call supersedes. */
  superseded(count: number): void {
    this.result.unchanged += count;
  }

  /** A row the write settled: counted, and quarantined when the identity guard stopped it or it displaced another. */
  settled(type: DocumentType, { candidate, outcome }: Settled): void {
    switch (outcome.outcome) {
      case 'written':
        this.result.written += 1;
        this.writtenRows.push(candidate.row);
        if (outcome.displaced) {
          this.result.displaced += 1;
          const entry = quarantineEntry(
            displacedDocument(type, outcome.displaced),
            displacedReason(type, candidate.row),
            'displaced',
            competedRow(type, candidate.row),
          );
          this.result.displacedKeys.push(entry.key);
          this.quarantine.push(entry);
        }
        return;
      case 'unchanged':
      case 'buried':
        this.result.unchanged += 1;
        return;
      case 'skipped':
        this.result.skipped += 1;
        return;
      case 'conflict':
        this.quarantined(
          quarantineEntry(
            candidate.document,
            outcome.reason === 'id-owned-by-other-pubkey'
              ? idOwnedReason(type, candidate.row.id, outcome.holder.pubkey)
              : newerHolderReason(type, outcome.holder),
            'conflict',
            competedRow(type, outcome.holder),
          ),
        );
        return;
    }
  }

  /** A row PostgreSQL refused: failed, and kept in the quarantine with the database's reason. */
  refused({ candidate, error }: Refused): void {
    const entry = quarantineEntry(candidate.document, `PostgreSQL refused the row: ${describePostgresError(error)}`, 'refused');
    this.result.failed += 1;
    this.result.failedKeys.push(entry.key);
    this.quarantine.push(entry);
  }

  /** An unmappable document: `unchanged` when stale (an older version of a stored row), else quarantined. */
  unmappable(item: Unmappable, stale: boolean): void {
    if (stale) this.result.unchanged += 1;
    else this.quarantined(quarantineEntry(item.document, item.reason));
  }

  private quarantined(entry: QuarantineEntry): void {
    this.result.quarantined += 1;
    this.result.quarantinedKeys.push(entry.key);
    this.quarantine.push(entry);
  }
}
