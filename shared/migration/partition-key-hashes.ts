import { effectivePartitionKey, type PartitionKeyScheme } from '../cosmos/partition-key-hash.js';
import { pubkeysWithoutHash, saveHashes } from '../postgres/range-rows.js';
import type { SqlClient } from '../postgres/sql-client.js';

/** Pubkeys hashed per statement. */
const fillPage = 5000;

/**
 * Records the EPK of every pubkey that has rows and none yet (`partition_key_hashes`), a page of pubkeys at a
 * time: what lets a pass select the rows of one feed range. A pass runs it when it starts (or resumes), so the
 * write path never pays for it; a pubkey whose first row arrives after that is left to the next pass (its
 * documents are new, and the change feed read them anyway). Each pubkey is hashed once, ever: the first pass over a
 * large container pays for all of them (the SDK's hash: docs/performance.md for what that costs). With
 * `stopAfterMs` it stops after the page that passes that time (a queue message's share), `done: false`.
 */
export async function fillPartitionKeyHashes(
  db: SqlClient,
  scheme: PartitionKeyScheme,
  options: { stopAfterMs?: number } = {},
): Promise<{ hashed: number; done: boolean }> {
  const started = Date.now();
  let after = '';
  let hashed = 0;
  for (;;) {
    const pubkeys = await pubkeysWithoutHash(db, scheme, after, fillPage);
    const last = pubkeys.at(-1);
    if (last === undefined) return { hashed, done: true };
    await saveHashes(
      db,
      scheme,
      pubkeys.map((pubkey) => ({ pubkey, epk: effectivePartitionKey(scheme, pubkey) })),
    );
    hashed += pubkeys.length;
    after = last;
    // A short page was the last one.
    if (pubkeys.length < fillPage) return { hashed, done: true };
    if (options.stopAfterMs !== undefined && Date.now() - started >= options.stopAfterMs) return { hashed, done: false };
  }
}
