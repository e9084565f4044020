import type { CosmosDocument } from '../../shared/domain/mapping.js';
import { generateUser } from './generate-documents.js';

/**
 * What the Nostria service writes to Cosmos while a sync follows the change feed, as the demo plays it
 * after the full load: new users signing up (creates), users logging in (their account read, changed and
 * replaced), settings saved whole (upserts) and notification logs cleared (deletes). Deterministic for a
 * dataset's size and seed, and split into waves that touch different users, so each wave's changes can be
 * watched reaching PostgreSQL before the next is written.
 */

export type LiveChange =
  /** A document that did not exist. */
  | { kind: 'create'; document: CosmosDocument }
  /** Read the document, set these fields, replace it (If-Match on the version read), as a read-modify-write does. */
  | { kind: 'replace'; id: string; pubkey: string; set: Record<string, unknown> }
  /** A whole new version of a document, written without reading it first. */
  | { kind: 'upsert'; document: CosmosDocument }
  | { kind: 'delete'; id: string; pubkey: string };

export interface LiveChangesOptions {
  /** Users in the dataset that was loaded (`demoDocuments(users, seed)`); new users get the indexes after them. */
  users: number;
  seed: number;
  /** The time the changes are made at (`modified`, `lastLoginDate`), in ms since the epoch. */
  now: number;
  /** Default 3. */
  waves?: number;
}

/** About one user in 200 changes, and one new user signs up per 500: 50 and 20 at 10,000 users. */
function sizesFor(users: number): { existing: number; created: number } {
  const clamp = (value: number, min: number, max: number) => Math.max(min, Math.min(max, Math.round(value)));
  return { existing: clamp(users / 200, 3, 50), created: clamp(users / 500, 1, 20) };
}

/**
 * The changes, wave by wave. Existing users are taken evenly across the dataset (so every feed range sees
 * some), each the first from its place on who has an account, settings and notification logs: the account
 * is replaced, the settings upserted and the first log deleted.
 */
export function planLiveChanges(options: LiveChangesOptions): LiveChange[][] {
  const waveCount = Math.max(1, options.waves ?? 3);
  const { existing, created } = sizesFor(options.users);
  const waves: LiveChange[][] = Array.from({ length: waveCount }, () => []);
  let next = 0;
  for (let k = 0; k < existing; k += 1) {
    const user = userWithEveryChange(options, Math.max(next, Math.floor((k * options.users) / existing)));
    if (!user) break;
    next = user.index + 1;
    waves[k % waveCount]?.push(...changesOfExistingUser(user.documents, options.now));
  }
  for (let k = 0; k < created; k += 1) {
    const documents = generateUser({ seed: options.seed, index: options.users + k, messy: false });
    waves[k % waveCount]?.push(...documents.map((document): LiveChange => ({ kind: 'create', document })));
  }
  return waves;
}

/**
 * The first user from `index` on who has an account, settings and a notification log, so each kind of
 * change is made; undefined when the dataset has no such user left.
 */
function userWithEveryChange(options: LiveChangesOptions, from: number): { index: number; documents: CosmosDocument[] } | undefined {
  const types = (documents: readonly CosmosDocument[]) => new Set(documents.map((document) => document.type));
  for (let index = from; index < options.users; index += 1) {
    // The same generator call that produced the dataset, so these are the documents in Cosmos.
    const documents = generateUser({ seed: options.seed, index, messy: true });
    const present = types(documents);
    const hasSettings = present.has('account-settings') || present.has('user-settings');
    if (present.has('account') && hasSettings && present.has('notification-log')) return { index, documents };
  }
  return undefined;
}

function changesOfExistingUser(documents: readonly CosmosDocument[], now: number): LiveChange[] {
  const changes: LiveChange[] = [];
  const account = documents.find((document) => document.type === 'account');
  if (account) changes.push({ kind: 'replace', id: account.id, pubkey: account.pubkey, set: { lastLoginDate: now, modified: now } });
  const settings = documents.find((document) => document.type === 'account-settings' || document.type === 'user-settings');
  if (settings)
    changes.push({ kind: 'upsert', document: { ...settings, releaseChannel: settings.releaseChannel === 'beta' ? 'stable' : 'beta' } });
  const log = documents.find((document) => document.type === 'notification-log');
  if (log) changes.push({ kind: 'delete', id: log.id, pubkey: log.pubkey });
  return changes;
}
