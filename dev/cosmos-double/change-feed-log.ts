/**
 * One physical partition's change feed: every write, in LSN order, kept for good.
 *
 * "Change feed in Azure Cosmos DB" (learn.microsoft.com/azure/cosmos-db/change-feed): changes are
 * ordered within a partition key range by their logical sequence number, and a reader resumes after
 * the LSN its continuation (the response ETag) names. Seeking that position is a binary search, so a
 * page costs time in proportion to the page, not to the container.
 */

export type Operation = 'create' | 'replace' | 'delete';

/** One write to one document. For a delete, `text` is the version that was deleted. */
export class Change {
  /** False once a later write to the same document exists (latest-version mode then skips this one). */
  latest = true;

  constructor(
    readonly lsn: number,
    /** Commit time in seconds, like `_ts` (the `crts` of all-versions-and-deletes mode). */
    readonly ts: number,
    readonly operation: Operation,
    readonly id: string,
    /** The partition key as the `x-ms-documentdb-partitionkey` header carries it, e.g. `["npub1…"]`. */
    readonly partitionKey: string,
    /** Effective partition key: the hash that places the document in a partition key range. */
    readonly epk: string,
    /** Creation order of the document within its container (the scan order of queries); kept by replaces. */
    readonly seq: number,
    /** The document as stored, system properties included, serialised once. */
    readonly text: string,
    /** The container's write counter when this version was written: its `_etag` is derived from it. */
    readonly version: number,
    /** The change this one superseded (the document's previous version), if any. */
    readonly previous: Change | undefined,
  ) {}

  /** The version's `_etag` (also inside `text`), computed rather than stored: one string less per document. */
  get etag(): string {
    return etagOf(this.version, this.ts);
  }
}

/** An `_etag` shaped like Cosmos's (a quoted GUID-like string), unique per write. */
export function etagOf(version: number, ts: number): string {
  return `"${version.toString(16).padStart(8, '0')}-0000-0800-0000-${ts.toString(16).padStart(12, '0')}"`;
}

export type ChangeFeedMode = 'LatestVersion' | 'AllVersionsAndDeletes';

export interface ChangeFeedPage {
  changes: Change[];
  /** The LSN the next read continues after: the last change examined, or the partition's LSN when caught up. */
  continuationLsn: number;
  /** Changes looked at, returned or not (what the page cost). */
  examined: number;
}

export class ChangeFeedLog {
  readonly #changes: Change[];

  constructor(changes: Change[] = []) {
    this.#changes = changes;
  }

  get length(): number {
    return this.#changes.length;
  }

  first(): Change | undefined {
    return this.#changes[0];
  }

  append(change: Change): void {
    this.#changes.push(change);
  }

  /** Position of the first change with an LSN above `lsn`. */
  indexAfterLsn(lsn: number): number {
    return this.#firstIndex((change) => change.lsn > lsn);
  }

  /** Position of the first change committed at or after `seconds`. */
  indexAtOrAfterTime(seconds: number): number {
    return this.#firstIndex((change) => change.ts >= seconds);
  }

  /**
   * Up to `maxItems` changes from `startIndex` on that `includes` accepts and the mode shows: latest
   * version mode returns a document's current version only, and never a delete ("Change feed modes in
   * Azure Cosmos DB"); all versions and deletes mode returns every change.
   */
  readPage(options: {
    startIndex: number;
    maxItems: number;
    mode: ChangeFeedMode;
    includes: (change: Change) => boolean;
    partitionLsn: number;
  }): ChangeFeedPage {
    const changes: Change[] = [];
    let examined = 0;
    for (let index = options.startIndex; index < this.#changes.length; index += 1) {
      const change = this.#changes[index];
      if (!change) break;
      examined += 1;
      if (!options.includes(change)) continue;
      if (options.mode === 'LatestVersion' && (!change.latest || change.operation === 'delete')) continue;
      changes.push(change);
      if (changes.length === options.maxItems) return { changes, continuationLsn: change.lsn, examined };
    }
    return { changes, continuationLsn: options.partitionLsn, examined };
  }

  /** The changes `includes` accepts, as a new log: a child partition's history after a split. */
  filter(includes: (change: Change) => boolean): ChangeFeedLog {
    return new ChangeFeedLog(this.#changes.filter(includes));
  }

  #firstIndex(isAtOrAfter: (change: Change) => boolean): number {
    let low = 0;
    let high = this.#changes.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const change = this.#changes[middle];
      if (change && isAtOrAfter(change)) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}
