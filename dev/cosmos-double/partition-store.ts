import { Change, ChangeFeedLog } from './change-feed-log.js';

/**
 * The documents of one physical partition (one partition key range) and its change feed. Each
 * document is held once, as the latest {@link Change} written to it (its JSON text, LSN, `_ts`), so
 * the store and the log share every version instead of copying it.
 *
 * Queries scan documents in creation order (`seq`, which `_rid` also encodes): a continuation is
 * the last `seq` returned, found again by binary search, and stays valid after a split because the
 * children keep the parent's order. A logical partition (one partition key value) is indexed on its
 * own, so a single-partition query or change feed costs what that partition holds.
 */
export class PartitionStore {
  /** The partition's logical sequence number: the LSN of its last write. */
  lsn: number;
  readonly log: ChangeFeedLog;
  /** Each logical partition's share of the log, so a change feed for one partition key seeks its own changes. */
  readonly #logs: Map<string, ChangeFeedLog>;
  /** partition key (header form) → id → latest version. */
  readonly #byPartitionKey = new Map<string, Map<string, Change>>();
  /** Documents by `seq`, ascending; a deleted document leaves a hole until the next compaction. */
  #seqs: number[] = [];
  #slots: (Change | undefined)[] = [];
  #holes = 0;
  #count = 0;

  constructor(lsn = 0, log = new ChangeFeedLog(), logs = new Map<string, ChangeFeedLog>()) {
    this.lsn = lsn;
    this.log = log;
    this.#logs = logs;
  }

  get documentCount(): number {
    return this.#count;
  }

  /** The changes of one logical partition, in LSN order. */
  logOf(partitionKey: string): ChangeFeedLog {
    return this.#logs.get(partitionKey) ?? new ChangeFeedLog();
  }

  read(partitionKey: string, id: string): Change | undefined {
    return this.#byPartitionKey.get(partitionKey)?.get(id);
  }

  /** Records a write: the change must carry the partition's next LSN. */
  commit(change: Change): void {
    if (change.lsn !== this.lsn + 1) throw new Error(`LSN ${change.lsn} does not follow ${this.lsn}`);
    this.lsn = change.lsn;
    this.log.append(change);
    let logicalLog = this.#logs.get(change.partitionKey);
    if (!logicalLog) this.#logs.set(change.partitionKey, (logicalLog = new ChangeFeedLog()));
    logicalLog.append(change);
    if (change.previous) change.previous.latest = false;
    if (change.operation === 'delete') {
      this.#remove(change);
      return;
    }
    if (change.previous) this.#replace(change);
    else this.#add(change);
  }

  /** Latest versions in `seq` order after `afterSeq`, of one logical partition when `partitionKey` is given. */
  *scan(afterSeq: number, partitionKey?: string): Generator<Change> {
    if (partitionKey !== undefined) {
      const documents = [...(this.#byPartitionKey.get(partitionKey)?.values() ?? [])].filter((change) => change.seq > afterSeq);
      yield* documents.sort((a, b) => a.seq - b.seq);
      return;
    }
    for (let index = this.#indexAfterSeq(afterSeq); index < this.#slots.length; index += 1) {
      const change = this.#slots[index];
      if (change) yield change;
    }
  }

  /**
   * Splits this partition's documents and history at `boundary` (an effective partition key): the
   * children continue from this partition's LSN, each with the changes of its own key range, so a
   * continuation taken on the parent resumes on either child with nothing lost or repeated.
   */
  split(boundary: string): [PartitionStore, PartitionStore] {
    const [leftLogs, rightLogs] = [new Map<string, ChangeFeedLog>(), new Map<string, ChangeFeedLog>()];
    // A logical partition has one EPK, so its whole history goes to one child.
    for (const [partitionKey, log] of this.#logs) {
      const first = log.first();
      if (first) (first.epk < boundary ? leftLogs : rightLogs).set(partitionKey, log);
    }
    const left = new PartitionStore(
      this.lsn,
      this.log.filter((change) => change.epk < boundary),
      leftLogs,
    );
    const right = new PartitionStore(
      this.lsn,
      this.log.filter((change) => change.epk >= boundary),
      rightLogs,
    );
    for (const change of this.scan(-1)) (change.epk < boundary ? left : right).#add(change);
    return [left, right];
  }

  #add(change: Change): void {
    let documents = this.#byPartitionKey.get(change.partitionKey);
    if (!documents) this.#byPartitionKey.set(change.partitionKey, (documents = new Map<string, Change>()));
    documents.set(change.id, change);
    // Creation order is container-wide and only grows, so appending keeps the slots sorted.
    this.#seqs.push(change.seq);
    this.#slots.push(change);
    this.#count += 1;
  }

  #replace(change: Change): void {
    this.#byPartitionKey.get(change.partitionKey)?.set(change.id, change);
    this.#slots[this.#indexOfSeq(change.seq)] = change;
  }

  #remove(change: Change): void {
    const documents = this.#byPartitionKey.get(change.partitionKey);
    documents?.delete(change.id);
    if (documents?.size === 0) this.#byPartitionKey.delete(change.partitionKey);
    this.#slots[this.#indexOfSeq(change.seq)] = undefined;
    this.#count -= 1;
    this.#holes += 1;
    if (this.#holes > 1024 && this.#holes > this.#slots.length / 2) this.#compact();
  }

  #compact(): void {
    const seqs: number[] = [];
    const slots: Change[] = [];
    for (const change of this.#slots) {
      if (!change) continue;
      seqs.push(change.seq);
      slots.push(change);
    }
    this.#seqs = seqs;
    this.#slots = slots;
    this.#holes = 0;
  }

  #indexOfSeq(seq: number): number {
    const index = this.#indexAfterSeq(seq - 1);
    if (this.#seqs[index] !== seq) throw new Error(`No document with seq ${seq} in this partition`);
    return index;
  }

  /** First slot whose seq is above `seq` (binary search). */
  #indexAfterSeq(seq: number): number {
    let low = 0;
    let high = this.#seqs.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#seqs[middle] ?? Number.POSITIVE_INFINITY) > seq) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}
