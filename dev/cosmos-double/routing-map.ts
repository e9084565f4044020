import { type PartitionKeyDefinition, PartitionKeyDefinitionVersion, type PrimitivePartitionKeyValue } from '@azure/cosmos';
import { writeNumberForBinaryEncodingBigInt } from '../../node_modules/@azure/cosmos/dist/esm/utils/hashing/encoding/number.js';
// Deep imports, on purpose: @azure/cosmos does not export its partition key hashing (its package.json
// "exports" map exposes only the entry point, so a bare `@azure/cosmos/dist/...` specifier is refused),
// yet the double must place every document exactly where the SDK computes it will be (bulk batches
// per range, change feed and queries by partition key). Reusing the SDK's own files guarantees that;
// writing MurmurHash3 and Cosmos's binary encoding again could only drift from it.
import { hashPartitionKey } from '../../node_modules/@azure/cosmos/dist/esm/utils/hashing/hash.js';
import { PartitionStore } from './partition-store.js';

/**
 * A container's partition key ranges ("Partitioning and horizontal scaling in Azure Cosmos DB",
 * learn.microsoft.com/azure/cosmos-db/partitioning-overview): contiguous effective-partition-key (EPK)
 * intervals `[minInclusive, maxExclusive)` from `""` to `"FF"`, one physical partition each, listed by
 * `GET .../pkranges`. A split replaces one range by two children that name it in `parents`; its id is
 * then gone for good (requests naming it answer 410/1002, and the SDK re-reads the ranges).
 */

export interface PartitionKeyRange {
  id: string;
  /** Bounds as positions in the hash space (for splitting), and as the EPK strings Cosmos lists. */
  start: bigint;
  end: bigint;
  minInclusive: string;
  maxExclusive: string;
  parents: string[];
  /** Routing-map version that created this range (for the incremental pkranges read). */
  createdAt: number;
  store: PartitionStore;
}

/**
 * Where the EPKs of a hash version live. V2 ("large partition keys") hashes to 128 bits whose top two
 * bits the SDK masks off, printed as 32 hex digits; V1 hashes to 32 bits, printed in Cosmos's binary
 * number encoding followed by the (truncated) value, so a V1 boundary is that encoding of a hash.
 */
interface EpkSpace {
  readonly end: bigint;
  boundary(position: bigint): string;
}

const minimumEpk = '';
const maximumEpk = 'FF';

const v2Space: EpkSpace = {
  end: 1n << 126n,
  boundary: (position) => position.toString(16).toUpperCase().padStart(32, '0'),
};

const v1Space: EpkSpace = {
  end: 1n << 32n,
  boundary: (position) =>
    Buffer.from(writeNumberForBinaryEncodingBigInt(Number(position)))
      .toString('hex')
      .toUpperCase(),
};

export class RoutingMap {
  readonly definition: PartitionKeyDefinition;
  #ranges: PartitionKeyRange[] = [];
  readonly #gone = new Map<string, string[]>();
  readonly #space: EpkSpace;
  #nextId = 0;
  #version = 1;

  constructor(definition: PartitionKeyDefinition, rangeCount: number) {
    this.definition = definition;
    // The SDK hashes with V1 unless the definition says version 2 (utils/hashing/hash.js); so does the service.
    this.#space = definition.version === PartitionKeyDefinitionVersion.V2 ? v2Space : v1Space;
    const size = this.#space.end / BigInt(rangeCount);
    for (let index = 0; index < rangeCount; index += 1) {
      const start = size * BigInt(index);
      const end = index === rangeCount - 1 ? this.#space.end : start + size;
      this.#ranges.push(this.#newRange(start, end, [], new PartitionStore()));
    }
  }

  /** Live ranges, ordered by EPK. */
  get ranges(): readonly PartitionKeyRange[] {
    return this.#ranges;
  }

  /** Bumped by every split: the ETag of the partition key range feed. */
  get version(): number {
    return this.#version;
  }

  /** Ranges created after routing-map version `version` (the incremental pkranges feed). */
  rangesCreatedAfter(version: number): PartitionKeyRange[] {
    return this.#ranges.filter((range) => range.createdAt > version);
  }

  /** The EPK of a partition key value list, as the SDK computes it for this container's definition. */
  epkOf(partitionKey: PrimitivePartitionKeyValue[]): string {
    return hashPartitionKey(partitionKey, this.definition);
  }

  rangeForEpk(epk: string): PartitionKeyRange {
    // The last range starting at or before the EPK (the first starts at "", so there always is one).
    let low = 0;
    let high = this.#ranges.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((this.#ranges[middle]?.minInclusive ?? maximumEpk) <= epk) low = middle;
      else high = middle - 1;
    }
    const range = this.#ranges[low];
    if (!range) throw new Error('A container always has partition key ranges');
    return range;
  }

  byId(id: string): PartitionKeyRange | undefined {
    return this.#ranges.find((range) => range.id === id);
  }

  /** True for the id of a range that was split (its requests answer 410 PartitionKeyRangeGone). */
  isGone(id: string): boolean {
    return this.#gone.has(id);
  }

  /**
   * Splits a live range at the middle of its hash interval. The parent's documents and change feed
   * history go to the child that owns their EPK; both children continue from the parent's LSN.
   */
  split(id: string): [PartitionKeyRange, PartitionKeyRange] {
    const index = this.#ranges.findIndex((range) => range.id === id);
    const parent = this.#ranges[index];
    if (!parent) throw new Error(`No live partition key range "${id}"`);
    const middle = (parent.start + parent.end) / 2n;
    if (middle === parent.start) throw new Error(`Partition key range "${id}" is too narrow to split`);
    this.#version += 1;
    const [leftStore, rightStore] = parent.store.split(this.#space.boundary(middle));
    const parents = [...parent.parents, parent.id];
    const left = this.#newRange(parent.start, middle, parents, leftStore);
    const right = this.#newRange(middle, parent.end, parents, rightStore);
    this.#ranges.splice(index, 1, left, right);
    this.#gone.set(parent.id, [left.id, right.id]);
    return [left, right];
  }

  #newRange(start: bigint, end: bigint, parents: string[], store: PartitionStore): PartitionKeyRange {
    return {
      id: String(this.#nextId++),
      start,
      end,
      minInclusive: start === 0n ? minimumEpk : this.#space.boundary(start),
      maxExclusive: end === this.#space.end ? maximumEpk : this.#space.boundary(end),
      parents,
      createdAt: this.#version,
      store,
    };
  }
}
