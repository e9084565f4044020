import { PartitionKeyDefinitionVersion, PartitionKeyKind } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import { effectivePartitionKey, schemeOf } from '../../shared/cosmos/partition-key-hash.js';

/**
 * The one place the app reaches into @azure/cosmos's internals (its partition key hashing): if an upgrade moves
 * or changes it, these fail. The expected values are not computed here: version 2's come from the Azure SDK for
 * Java's PartitionKeyHashingTests (effectivePartitionKeyHashV2), version 1's from the Azure SDK for JavaScript's
 * own effective partition key test, so they are what the service itself routes by.
 */
describe('effective partition keys', () => {
  it('hashes version 2 keys as the Azure SDKs publish them', () => {
    expect(effectivePartitionKey('v2', '')).toBe('32E9366E637A71B4E710384B2F4970A0');
    expect(effectivePartitionKey('v2', 'partitionKey')).toBe('013AEFCF77FA271571CF665A58C933F1');
    expect(effectivePartitionKey('v2', 'a'.repeat(1024))).toBe('332BDF5512AE49615F32C7D98C2DB86C');
  });

  it('hashes version 1 keys as the Azure SDKs publish them', () => {
    expect(effectivePartitionKey('v1', 'partitionKey')).toBe('05C1E1B3D9CD2608716273756A756A706F4C667A00');
    expect(effectivePartitionKey('v1', '')).toBe('05C1CF33970FF80800');
  });

  it('takes the scheme from the container definition, and refuses keys it cannot select by range', () => {
    expect(schemeOf({ paths: ['/pubkey'] })).toBe('v1');
    expect(schemeOf({ paths: ['/pubkey'], version: PartitionKeyDefinitionVersion.V2 })).toBe('v2');
    expect(() =>
      schemeOf({ paths: ['/tenant', '/pubkey'], kind: PartitionKeyKind.MultiHash, version: PartitionKeyDefinitionVersion.V2 }),
    ).toThrow(/single-path hash key/);
    expect(() => schemeOf(undefined)).toThrow(/single-path hash key/);
  });
});
