import { describe, expect, it } from 'vitest';
import { demoDocuments } from '../../dev/sample-data/demo-dataset.js';
import { type LiveChange, planLiveChanges } from '../../dev/sample-data/live-changes.js';

/** The demo's live changes are made to the dataset it loaded: targets that exist, creates that do not, each document once. */

const keyOf = (id: unknown, pubkey: unknown) => `${String(pubkey)}/${String(id)}`;

function target(change: LiveChange): string {
  return change.kind === 'create' || change.kind === 'upsert'
    ? keyOf(change.document.id, change.document.pubkey)
    : keyOf(change.id, change.pubkey);
}

describe.each([
  [50, 1],
  [2_000, 7],
])('planLiveChanges at %i users, seed %i', (users, seed) => {
  const loaded = new Map([...demoDocuments(users, seed)].map((document) => [keyOf(document.id, document.pubkey), document]));
  const waves = planLiveChanges({ users, seed, now: Date.UTC(2026, 10, 27) });
  const changes = waves.flat();

  it('replaces, upserts and deletes documents that are in the loaded dataset, and creates only new ones', () => {
    for (const change of changes) {
      expect(loaded.has(target(change)), `${change.kind} ${target(change)}`).toBe(change.kind !== 'create');
    }
  });

  it('makes every kind of change, each document changed once, each user in one wave only', () => {
    expect(new Set(changes.map((change) => change.kind))).toEqual(new Set(['create', 'replace', 'upsert', 'delete']));
    expect(new Set(changes.map(target)).size).toBe(changes.length);
    const waveOfUser = new Map<string, number>();
    waves.forEach((wave, index) => {
      for (const change of wave) {
        const pubkey = change.kind === 'create' || change.kind === 'upsert' ? change.document.pubkey : change.pubkey;
        expect(waveOfUser.get(pubkey) ?? index).toBe(index);
        waveOfUser.set(pubkey, index);
      }
    });
  });

  it('replaces with a newer modified, and upserts a version that differs from the loaded one', () => {
    for (const change of changes) {
      if (change.kind === 'replace') expect(Number(change.set.modified)).toBeGreaterThan(Number(loaded.get(target(change))?.modified ?? 0));
      if (change.kind === 'upsert') expect(change.document).not.toEqual(loaded.get(target(change)));
    }
  });

  it('is the same plan for the same dataset', () => {
    expect(planLiveChanges({ users, seed, now: Date.UTC(2026, 10, 27) })).toEqual(waves);
  });
});
