import type { CosmosDocument } from '../../shared/domain/mapping.js';
import { deriveSeed, SeededRandom } from './seeded-random.js';

/**
 * Realistic Nostria documents (see `docs/data-model.md`) for the demo, the benchmark and
 * the tests. Deterministic: a seed and a user index always give the same documents, and each user
 * is generated on its own, so a dataset streams in constant memory however many users it has.
 */

export interface DatasetOptions {
  users: number;
  /** Same seed, same documents. Defaults to 1. */
  seed?: number;
  /** Include the irregularities real data has (null optionals, unmodeled fields, legacy ids...). Defaults to true. */
  messy?: boolean;
}

export interface UserOptions {
  seed: number;
  /** The user's position in the dataset; users are independent of each other. */
  index: number;
  messy: boolean;
}

type Tier = 'free' | 'basic' | 'premium' | 'premium_plus';
type Cycle = 'monthly' | 'quarterly' | 'yearly';

interface User {
  rng: SeededRandom;
  messy: boolean;
  pubkey: string;
  signup: number;
  tier: Tier;
  cycle: Cycle;
}

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;

const firstSignup = Date.UTC(2023, 0, 1);
const lastSignup = Date.UTC(2025, 11, 31);
/** The dataset's "now": nothing in it happens later, whatever the wall clock says. */
const datasetNow = Date.UTC(2026, 5, 30);
/** Settings written before this still say `user-settings`. */
const settingsRenamed = Date.UTC(2024, 2, 1);
/** X (Twitter) sharing, and with it the secret `x*` settings fields, arrived here. */
const xSharingIntroduced = Date.UTC(2024, 8, 1);
/** Payments from here on carry `purpose`; Grok credit top-ups began then too. */
const purposeIntroduced = Date.UTC(2025, 5, 1);

const cycleLength: Record<Cycle, number> = { monthly: 30 * day, quarterly: 91 * day, yearly: 365 * day };
const priceCents: Record<Exclude<Tier, 'free'>, Record<Cycle, number>> = {
  basic: { monthly: 500, quarterly: 1350, yearly: 5000 },
  premium: { monthly: 1000, quarterly: 2700, yearly: 10000 },
  premium_plus: { monthly: 2500, quarterly: 6750, yearly: 25000 },
};
const topUpCents = [500, 1000, 2000, 5000];
/** One US cent in the nano-dollars `creditNanosUsd` counts: a $5 top-up is already past 2^31. */
const nanosPerCent = 10_000_000;

const baseFeatures = ['BASIC_WEBPUSH', 'COMMUNITY_SUPPORT'];
const entitlements: Record<Tier, { notificationsPerDay: number; features: string[] }> = {
  free: { notificationsPerDay: 5, features: baseFeatures },
  basic: { notificationsPerDay: 50, features: [...baseFeatures, 'USERNAME', 'BACKUP'] },
  premium: { notificationsPerDay: 500, features: [...baseFeatures, 'USERNAME', 'BACKUP', 'ADVANCED_FILTERING', 'PRIORITY_SUPPORT'] },
  premium_plus: {
    notificationsPerDay: 5000,
    features: [...baseFeatures, 'USERNAME', 'BACKUP', 'ADVANCED_FILTERING', 'PRIORITY_SUPPORT', 'CUSTOM_TEMPLATES', 'API_ACCESS'],
  },
};

const adjectives = ['swift', 'quiet', 'orange', 'lucky', 'brave', 'sunny', 'cosmic', 'mellow', 'zappy', 'nordic', 'wild', 'tiny'];
const nouns = ['falcon', 'pleb', 'relay', 'otter', 'satoshi', 'fjord', 'comet', 'badger', 'node', 'lynx', 'maple', 'zebra'];
const displayNames = ['Åsa Nordmann', 'José Núñez', 'Zoë', '山田太郎', 'Ольга', 'محمد', 'Renée ⚡', 'Björk 🌋'];

const bech32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const base36 = '0123456789abcdefghijklmnopqrstuvwxyz';
const base64Url = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const alphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Streams a dataset user by user; nothing is held beyond the user being generated. */
export function* generateDataset(options: DatasetOptions): Generator<CosmosDocument> {
  const seed = options.seed ?? 1;
  const messy = options.messy ?? true;
  for (let index = 0; index < options.users; index++) {
    yield* generateUser({ seed, index, messy });
  }
}

/** A valid Nostr public key: 64 lowercase hex digits. */
export function randomPubkey(rng: SeededRandom): string {
  return rng.hex(64);
}

/**
 * Every document of one user: most have an account; about 3% have only payments and settings
 * (payments are created before the account during sign-up, so this is normal data).
 */
export function generateUser(options: UserOptions): CosmosDocument[] {
  const rng = new SeededRandom(deriveSeed(options.seed, 2 * options.index));
  const user: User = {
    rng,
    messy: options.messy,
    pubkey: randomPubkey(rng),
    signup: rng.int(firstSignup, lastSignup),
    tier: rng.weighted<Tier>([
      ['free', 60],
      ['basic', 20],
      ['premium', 15],
      ['premium_plus', 5],
    ]),
    cycle: rng.weighted<Cycle>([
      ['monthly', 60],
      ['quarterly', 15],
      ['yearly', 25],
    ]),
  };
  const hasAccount = !rng.chance(0.03);
  const documents: CosmosDocument[] = payments(user, hasAccount);
  if (hasAccount) documents.push(account(user, username(options, rng)));
  if (rng.chance(hasAccount ? 0.9 : 0.6)) documents.push(accountSettings(user));
  if (!hasAccount) return documents;

  const backups = user.tier === 'free' ? 0 : rng.int(0, 3);
  for (let i = 0; i < backups; i++) documents.push(backupJob(user));
  const devices = rng.weighted([
    [0, 30],
    [1, 50],
    [2, 20],
  ]);
  for (let i = 0; i < devices; i++) documents.push(notificationSubscription(user));
  if (devices > 0 || rng.chance(0.3)) documents.push(notificationSettings(user));
  const logs = devices > 0 ? rng.int(0, 10) : 0;
  for (let i = 0; i < logs; i++) documents.push(notificationLog(user));
  return documents;
}

/**
 * A user's username, or none. Usernames are unique by construction (the user index is part of
 * them), except in messy data where a few users take a neighbour's in another case: the source
 * only enforced case-insensitive uniqueness in application code.
 */
function username(options: UserOptions, rng: SeededRandom): string | undefined {
  if (!rng.chance(0.7)) return undefined;
  if (options.messy && options.index > 0 && rng.chance(0.05)) {
    const taken = baseUsername(options.seed, options.index - 1);
    return rng.chance(0.5) ? taken.toUpperCase() : taken.charAt(0).toUpperCase() + taken.slice(1);
  }
  return baseUsername(options.seed, options.index);
}

function baseUsername(seed: number, index: number): string {
  const rng = new SeededRandom(deriveSeed(seed, 2 * index + 1));
  return `${rng.pick(adjectives)}${rng.pick(nouns)}${index}`;
}

function account(user: User, name: string | undefined): CosmosDocument {
  const { rng, pubkey } = user;
  const legacyId = user.messy && rng.chance(0.03);
  const document: CosmosDocument = { id: legacyId ? pubkey : `account-${pubkey}`, type: 'account', pubkey };
  setOptional(user, document, 'username', name);
  document.tier = user.tier;
  const paidUntil = user.tier === 'free' ? undefined : between(rng, user.signup, datasetNow) + cycleLength[user.cycle];
  document.subscription = subscription(user, paidUntil);
  setOptional(user, document, 'expires', paidUntil);
  document.created = user.signup;
  setModified(user, document, between(rng, user.signup, datasetNow));
  setOptional(user, document, 'lastLoginDate', rng.chance(0.85) ? between(rng, user.signup, datasetNow) : undefined);
  addExtraFields(user, document);
  return document;
}

function subscription(user: User, paidUntil: number | undefined): Record<string, unknown> {
  const value: Record<string, unknown> = { tier: user.tier, entitlements: structuredClone(entitlements[user.tier]) };
  if (user.tier === 'free') return value;
  value.expiryDate = paidUntil;
  value.billingCycle = user.cycle;
  value.price = { priceCents: priceCents[user.tier][user.cycle], currency: 'USD' };
  return value;
}

function accountSettings(user: User): CosmosDocument {
  const { rng, pubkey } = user;
  const created = between(rng, user.signup, user.signup + 2 * day);
  const legacyType = created < settingsRenamed && rng.chance(0.8);
  const document: CosmosDocument = {
    id: `account-settings-${pubkey}`,
    type: legacyType ? 'user-settings' : 'account-settings',
    pubkey,
  };
  setOptional(
    user,
    document,
    'releaseChannel',
    rng.chance(0.8)
      ? rng.weighted([
          ['stable', 80],
          ['beta', 15],
          ['alpha', 5],
        ])
      : undefined,
  );
  setOptional(user, document, 'socialSharing', user.messy && rng.chance(0.1) ? undefined : rng.chance(0.8));
  // Settings never stored `modified`: their last change time is the document's `_ts`.
  document.created = created;
  if (!legacyType && rng.chance(0.2)) addXAccount(user, document, Math.max(created, xSharingIntroduced));
  addExtraFields(user, document);
  return document;
}

/** The OAuth 1.0a tokens of a linked X account: secrets, which must never reach a log. */
function addXAccount(user: User, document: CosmosDocument, after: number): void {
  const { rng } = user;
  // X user ids are snowflakes past 2^53, which is why X sends them as strings.
  const xUserId = `${rng.int(1, 9)}${rng.chars('0123456789', rng.int(5, 18))}`;
  document.xUserId = xUserId;
  document.xUsername = `${rng.pick(nouns)}_${rng.chars(base36, 4)}`;
  const linked = rng.chance(0.75);
  setOptional(user, document, 'xAccessToken', linked ? `${xUserId}-${rng.chars(alphanumeric, 40)}` : undefined);
  setOptional(user, document, 'xAccessSecret', linked ? rng.chars(alphanumeric, 45) : undefined);
  const pending = !linked || rng.chance(0.2);
  setOptional(user, document, 'xRequestToken', pending ? rng.chars(alphanumeric, 27) : undefined);
  setOptional(user, document, 'xRequestSecret', pending ? rng.chars(alphanumeric, 32) : undefined);
  setOptional(user, document, 'xRequestCreated', pending ? between(rng, after, datasetNow) : undefined);
}

function backupJob(user: User): CosmosDocument {
  const { rng, pubkey } = user;
  const id = rng.uuid();
  const status = rng.weighted([
    ['completed', 50],
    ['expired', 15],
    ['failed', 8],
    ['pending', 10],
    ['scheduled', 7],
    ['in_progress', 10],
  ]);
  const requested = between(rng, user.signup, datasetNow - day);
  const scheduled = status === 'scheduled' || rng.chance(0.3) ? requested + rng.int(hour, 3 * day) : undefined;
  const ran = status !== 'pending' && status !== 'scheduled';
  const started = ran ? (scheduled ?? requested) + rng.int(minute, 30 * minute) : undefined;
  const finished = status === 'completed' || status === 'expired';
  const completed = finished && started !== undefined ? started + rng.int(30 * second, 45 * minute) : undefined;
  const document: CosmosDocument = { id, type: 'backup-job', pubkey };
  document.status = status;
  document.backupType = rng.weighted([
    ['full', 60],
    ['incremental', 30],
    ['selective', 10],
  ]);
  document.requested = requested;
  setOptional(user, document, 'scheduled', scheduled);
  setOptional(user, document, 'started', started);
  setOptional(user, document, 'completed', completed);
  setOptional(user, document, 'expires', completed === undefined ? undefined : completed + 30 * day);
  setOptional(
    user,
    document,
    'errorMessage',
    status === 'failed'
      ? rng.pick(['Relay timeout after 30s', 'Storage quota exceeded', 'Signature verification failed for 3 events'])
      : undefined,
  );
  setOptional(user, document, 'resultUrl', finished ? `https://backups.nostria.example/${pubkey}/${id}.zip` : undefined);
  setOptional(user, document, 'metadata', finished ? backupMetadata(user) : undefined);
  addExtraFields(user, document);
  return document;
}

function backupMetadata(user: User): Record<string, unknown> {
  const { rng } = user;
  const originalSize = rng.int(20_000, 3_000_000_000);
  const metadata: Record<string, unknown> = {
    originalSize,
    compressedSize: Math.floor(originalSize * (0.2 + rng.next() * 0.5)),
    fileCount: rng.int(1, 40_000),
  };
  if (rng.chance(0.4)) metadata.relays = ['wss://relay.damus.io', 'wss://nos.lol', 'wss://relay.nostria.example'].slice(0, rng.int(1, 3));
  if (rng.chance(0.3)) metadata.eventKinds = { '0': rng.int(1, 5), '1': rng.int(0, 20_000), '3': 1, '30023': rng.int(0, 40) };
  return metadata;
}

function payments(user: User, hasAccount: boolean): CosmosDocument[] {
  const { rng } = user;
  const count = !hasAccount
    ? rng.int(1, 2)
    : user.tier === 'free'
      ? rng.weighted([
          [0, 60],
          [1, 25],
          [2, 15],
        ])
      : rng.int(1, 5);
  const documents: CosmosDocument[] = [];
  // The first invoice is issued during sign-up, minutes before the account exists.
  let created = user.signup - rng.int(minute, 15 * minute);
  for (let i = 0; i < count; i++) {
    documents.push(payment(user, created, hasAccount));
    created += user.tier === 'free' ? rng.int(day, 120 * day) : cycleLength[user.cycle];
    if (created > datasetNow) break;
  }
  return documents;
}

function payment(user: User, created: number, hasAccount: boolean): CosmosDocument {
  const { rng, pubkey } = user;
  const topUp = created >= purposeIntroduced && hasAccount && rng.chance(0.35);
  const tier: Exclude<Tier, 'free'> = user.tier === 'free' ? rng.pick(['basic', 'premium'] as const) : user.tier;
  const cents = topUp ? rng.pick(topUpCents) : priceCents[tier][user.cycle];
  // Sats per cent moves with the bitcoin price: 9-30 covers roughly $33k to $110k per coin.
  const lnAmountSat = cents * rng.int(9, 30);
  const isPaid = hasAccount ? rng.chance(0.85) : rng.chance(0.5);
  const paid = isPaid ? created + rng.int(5 * second, 9 * minute) : undefined;
  const document: CosmosDocument = { id: `payment-${rng.uuid()}`, type: 'payment', pubkey };
  document.paymentType = 'ln';
  document.lnHash = rng.hex(64);
  document.lnInvoice = `lnbc${lnAmountSat * 10}n1p${rng.chars(bech32, 52)}sp5${rng.chars(bech32, 52)}pp5${rng.chars(bech32, 200)}`;
  document.lnAmountSat = lnAmountSat;
  document.tier = topUp ? user.tier : tier;
  document.billingCycle = topUp ? 'one_time' : user.cycle;
  document.priceCents = cents;
  document.isPaid = isPaid;
  setOptional(user, document, 'paid', paid);
  document.expires = created + 10 * minute;
  document.created = created;
  setModified(user, document, paid ?? created);
  const hasPurpose = created >= purposeIntroduced;
  setOptional(user, document, 'purpose', hasPurpose ? (topUp ? 'grok_topup' : 'subscription') : undefined);
  setOptional(user, document, 'creditNanosUsd', topUp ? cents * nanosPerCent : undefined);
  setOptional(user, document, 'applied', hasPurpose && isPaid ? rng.chance(0.95) : undefined);
  addExtraFields(user, document);
  return document;
}

function notificationSubscription(user: User): CosmosDocument {
  const { rng, pubkey } = user;
  // A P-256 public key uncompressed is 65 bytes starting 0x04: 87 base64url characters starting 'B'.
  const p256dh = `B${rng.chars(base64Url, 86)}`;
  const created = between(rng, user.signup, datasetNow);
  const subscription: Record<string, unknown> = {
    endpoint: pushEndpoint(rng),
    keys: { p256dh, auth: rng.chars(base64Url, 22) },
  };
  if (rng.chance(0.5)) subscription.expirationTime = null;
  if (rng.chance(0.6)) {
    subscription.userAgent = rng.pick([
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 ' +
        'Mobile/15E148 Safari/604.1',
      'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    ]);
  }
  const document: CosmosDocument = { id: `notification-subscription-${pubkey}-${p256dh}`, type: 'notification-subscription', pubkey };
  document.subscription = subscription;
  document.deviceKey = p256dh;
  document.created = created;
  setModified(user, document, between(rng, created, datasetNow));
  addExtraFields(user, document);
  return document;
}

function pushEndpoint(rng: SeededRandom): string {
  return rng.weighted<() => string>([
    [() => `https://fcm.googleapis.com/fcm/send/${rng.chars(base64Url, 11)}:${rng.chars(base64Url, 140)}`, 60],
    [() => `https://updates.push.services.mozilla.com/wpush/v2/${rng.chars(base64Url, 160)}`, 20],
    [() => `https://web.push.apple.com/${rng.chars(base64Url, 150)}`, 20],
  ])();
}

function notificationSettings(user: User): CosmosDocument {
  const { rng, pubkey } = user;
  const created = between(rng, user.signup, datasetNow);
  const modified = between(rng, created, datasetNow);
  const document: CosmosDocument = { id: `notification-settings-${pubkey}`, type: 'notification-settings', pubkey };
  setOptional(user, document, 'enabled', user.messy && rng.chance(0.1) ? undefined : rng.chance(0.9));
  setOptional(user, document, 'filters', rng.chance(0.5) ? notificationFilters(user) : undefined);
  setOptional(
    user,
    document,
    'settings',
    rng.chance(0.6)
      ? {
          sound: rng.chance(0.7),
          vibrate: rng.chance(0.5),
          quietHours: { start: '22:00', end: '07:00', timeZone: rng.pick(['Europe/Oslo', 'America/New_York', 'Asia/Tokyo']) },
        }
      : undefined,
  );
  document.created = created;
  setModified(user, document, modified);
  // Callers spread whatever they were given into this document; `updated` is the commonest stray.
  if (user.messy && rng.chance(0.6)) document.updated = rng.chance(0.7) ? modified : between(rng, created, modified);
  if (user.messy && rng.chance(0.2)) document.lastDeliveredAt = between(rng, created, datasetNow);
  addExtraFields(user, document);
  return document;
}

function notificationFilters(user: User): unknown {
  const { rng } = user;
  if (user.messy && rng.chance(0.1)) return [];
  return {
    kinds: [1, 6, 7, 9735].filter(() => rng.chance(0.7)),
    mutedPubkeys: Array.from({ length: rng.int(0, 3) }, () => randomPubkey(rng)),
    keywords: ['bitcoin', 'nostr', 'zap', 'ørret', '日本'].filter(() => rng.chance(0.3)),
  };
}

const logTemplates: ReadonlyArray<{ template: string; title: string; body: (rng: SeededRandom) => string }> = [
  { template: 'zap', title: 'New zap ⚡', body: (rng) => `You received ${rng.int(1, 100_000)} sats` },
  { template: 'mention', title: 'You were mentioned', body: (rng) => `${rng.int(2, 12)} people mentioned you today` },
  { template: 'follow', title: 'New follower', body: () => 'Someone new follows you 🎉' },
  { template: 'reply', title: 'New reply', body: () => 'Svar på innlegget ditt: «Takk for sist!»' },
  { template: 'system', title: 'Nostria', body: () => 'Your backup is ready to download' },
];

function notificationLog(user: User): CosmosDocument {
  const { rng, pubkey } = user;
  const created = between(rng, user.signup, datasetNow);
  const kind = rng.pick(logTemplates);
  // The service built these ids from the time and `Math.random().toString(36)`.
  const document: CosmosDocument = { id: `${pubkey}-${created}-${rng.chars(base36, 9)}`, type: 'notification-log', pubkey };
  setOptional(user, document, 'title', rng.chance(0.9) ? kind.title : undefined);
  setOptional(user, document, 'body', rng.chance(0.9) ? kind.body(rng) : undefined);
  setOptional(
    user,
    document,
    'content',
    rng.chance(0.4) ? JSON.stringify({ eventId: rng.hex(64), kind: 1, from: randomPubkey(rng) }) : undefined,
  );
  setOptional(user, document, 'template', rng.chance(0.8) ? kind.template : undefined);
  document.created = created;
  setModified(user, document, created);
  addExtraFields(user, document);
  return document;
}

/** An optional field: set when there is a value; otherwise absent, or in messy data sometimes null. */
function setOptional(user: User, document: CosmosDocument, field: string, value: unknown): void {
  if (value !== undefined) document[field] = value;
  else if (user.messy && user.rng.chance(0.35)) document[field] = null;
}

/** Older writers did not always store `modified`. */
function setModified(user: User, document: CosmosDocument, modified: number): void {
  if (user.messy && user.rng.chance(0.06)) return;
  document.modified = modified;
}

const extraFields: ReadonlyArray<(user: User) => [string, unknown]> = [
  ({ rng }) => ['clientVersion', rng.pick(['1.2.0', '2.0.1', '2.3.4-beta.2'])],
  () => ['migratedFrom', 'nostria-v1'],
  () => ['deletedAt', null],
  ({ rng }) => ['legacyTimestamp', new Date(between(rng, firstSignup, datasetNow)).toISOString()],
  ({ rng }) => {
    const name = rng.pick(displayNames);
    return [
      'profile',
      {
        name,
        nip05: `${rng.pick(nouns)}@nostria.example`,
        about: null,
        relays: { 'wss://nos.lol': { read: true, write: rng.chance(0.5) } },
      },
    ];
  },
  ({ rng }) => ['flags', [rng.pick(['beta', 'early-adopter', 'imported']), { source: rng.pick(['web', 'ios', 'android']) }]],
  ({ rng }) => ['note', rng.pick(['Ünïcødé ✓', '— migrated by hand —', '🔑 rotated', 'ок'])],
];

/** Fields the model does not name, some of them nested; a migration that drops them loses data. */
function addExtraFields(user: User, document: CosmosDocument): void {
  if (!user.messy || !user.rng.chance(0.12)) return;
  const count = user.rng.int(1, 2);
  for (let i = 0; i < count; i++) {
    const [field, value] = user.rng.pick(extraFields)(user);
    document[field] = value;
  }
}

function between(rng: SeededRandom, from: number, to: number): number {
  return rng.int(from, Math.max(from, to));
}
