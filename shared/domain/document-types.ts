import { z } from 'zod';
import { billingCycle, type ColumnKind, documentId, int32, int64, jsonObject, jsonValue, pubkey, tier, timestamp } from './fields.js';

/**
 * The seven Nostria document types (see `docs/data-model.md`), each with its zod schema and
 * the PostgreSQL table it lands in. Schemas are loose: fields they do not name are kept by the mapping.
 */

const base = { id: documentId, pubkey };

const accountSchema = z.looseObject({
  ...base,
  type: z.literal('account'),
  username: z.string().nullish(),
  tier,
  subscription: jsonObject,
  expires: timestamp.nullish(),
  created: timestamp,
  modified: timestamp.nullish(),
  lastLoginDate: timestamp.nullish(),
});

const accountSettingsSchema = z.looseObject({
  ...base,
  type: z.enum(['account-settings', 'user-settings']),
  releaseChannel: z.enum(['stable', 'beta', 'alpha']).nullish(),
  socialSharing: z.boolean().nullish(),
  created: timestamp,
  xUserId: z.string().nullish(),
  xUsername: z.string().nullish(),
  xAccessToken: z.string().nullish(),
  xAccessSecret: z.string().nullish(),
  xRequestToken: z.string().nullish(),
  xRequestSecret: z.string().nullish(),
  xRequestCreated: timestamp.nullish(),
});

const backupJobSchema = z.looseObject({
  ...base,
  type: z.literal('backup-job'),
  status: z.enum(['pending', 'scheduled', 'in_progress', 'completed', 'failed', 'expired']),
  backupType: z.enum(['full', 'incremental', 'selective']),
  requested: timestamp,
  scheduled: timestamp.nullish(),
  started: timestamp.nullish(),
  completed: timestamp.nullish(),
  expires: timestamp.nullish(),
  errorMessage: z.string().nullish(),
  resultUrl: z.string().nullish(),
  metadata: jsonObject.nullish(),
});

const paymentSchema = z.looseObject({
  ...base,
  type: z.literal('payment'),
  paymentType: z.literal('ln'),
  lnHash: z.string(),
  lnInvoice: z.string(),
  lnAmountSat: int64,
  tier,
  billingCycle,
  priceCents: int32,
  isPaid: z.boolean(),
  paid: timestamp.nullish(),
  expires: timestamp,
  created: timestamp,
  modified: timestamp.nullish(),
  purpose: z.enum(['subscription', 'grok_topup']).nullish(),
  creditNanosUsd: int64.nullish(),
  applied: z.boolean().nullish(),
});

const notificationSubscriptionSchema = z.looseObject({
  ...base,
  type: z.literal('notification-subscription'),
  subscription: jsonObject,
  deviceKey: z.string().min(1),
  created: timestamp,
  modified: timestamp.nullish(),
});

const notificationSettingsSchema = z.looseObject({
  ...base,
  type: z.literal('notification-settings'),
  enabled: z.boolean().nullish(),
  filters: jsonValue.nullish(),
  settings: jsonValue.nullish(),
  created: timestamp,
  modified: timestamp.nullish(),
});

const notificationLogSchema = z.looseObject({
  ...base,
  type: z.literal('notification-log'),
  title: z.string().nullish(),
  body: z.string().nullish(),
  content: z.string().nullish(),
  template: z.string().nullish(),
  created: timestamp,
  modified: timestamp.nullish(),
});

export type AccountDocument = z.infer<typeof accountSchema>;
export type AccountSettingsDocument = z.infer<typeof accountSettingsSchema>;
export type BackupJobDocument = z.infer<typeof backupJobSchema>;
export type PaymentDocument = z.infer<typeof paymentSchema>;
export type NotificationSubscriptionDocument = z.infer<typeof notificationSubscriptionSchema>;
export type NotificationSettingsDocument = z.infer<typeof notificationSettingsSchema>;
export type NotificationLogDocument = z.infer<typeof notificationLogSchema>;

export interface DocumentTypeDescriptor<S extends z.ZodObject = z.ZodObject> {
  /** The canonical `type` value. */
  readonly type: string;
  /** Every `type` value that means this kind of document (older settings say `user-settings`). */
  readonly typeNames: readonly string[];
  readonly table: string;
  /** The Prisma model delegate, e.g. `prisma.account`. */
  readonly model: string;
  /** The table's primary key: one-per-user documents are keyed by pubkey, the rest by id. */
  readonly key: 'pubkey' | 'id';
  readonly schema: S;
  /** Column kind of each modeled field besides `id`, `pubkey` and `type`. */
  readonly columns: Readonly<Record<string, ColumnKind>>;
  /** Whether `type` itself is stored (only where an alias exists, so the round trip keeps it). */
  readonly storesType: boolean;
  /** Fields holding secrets: never logged, never shown in a report. */
  readonly secretFields: readonly string[];
}

function describe<S extends z.ZodObject>(
  d: Omit<DocumentTypeDescriptor<S>, 'storesType' | 'secretFields'> & { secretFields?: string[] },
): DocumentTypeDescriptor<S> {
  return { ...d, storesType: d.typeNames.length > 1, secretFields: d.secretFields ?? [] };
}

export const documentTypes = {
  account: describe({
    type: 'account',
    typeNames: ['account'],
    table: 'accounts',
    model: 'account',
    key: 'pubkey',
    schema: accountSchema,
    columns: {
      username: 'text',
      tier: 'text',
      subscription: 'json',
      expires: 'timestamp',
      created: 'timestamp',
      modified: 'timestamp',
      lastLoginDate: 'timestamp',
    },
  }),
  'account-settings': describe({
    type: 'account-settings',
    typeNames: ['account-settings', 'user-settings'],
    table: 'user_settings',
    model: 'userSettings',
    key: 'pubkey',
    schema: accountSettingsSchema,
    columns: {
      releaseChannel: 'text',
      socialSharing: 'boolean',
      created: 'timestamp',
      xUserId: 'text',
      xUsername: 'text',
      xAccessToken: 'text',
      xAccessSecret: 'text',
      xRequestToken: 'text',
      xRequestSecret: 'text',
      xRequestCreated: 'timestamp',
    },
    secretFields: ['xAccessToken', 'xAccessSecret', 'xRequestToken', 'xRequestSecret'],
  }),
  'backup-job': describe({
    type: 'backup-job',
    typeNames: ['backup-job'],
    table: 'backup_jobs',
    model: 'backupJob',
    key: 'id',
    schema: backupJobSchema,
    columns: {
      status: 'text',
      backupType: 'text',
      requested: 'timestamp',
      scheduled: 'timestamp',
      started: 'timestamp',
      completed: 'timestamp',
      expires: 'timestamp',
      errorMessage: 'text',
      resultUrl: 'text',
      metadata: 'json',
    },
  }),
  payment: describe({
    type: 'payment',
    typeNames: ['payment'],
    table: 'payments',
    model: 'payment',
    key: 'id',
    schema: paymentSchema,
    columns: {
      paymentType: 'text',
      lnHash: 'text',
      lnInvoice: 'text',
      lnAmountSat: 'bigint',
      tier: 'text',
      billingCycle: 'text',
      priceCents: 'int',
      isPaid: 'boolean',
      paid: 'timestamp',
      expires: 'timestamp',
      created: 'timestamp',
      modified: 'timestamp',
      purpose: 'text',
      creditNanosUsd: 'bigint',
      applied: 'boolean',
    },
  }),
  'notification-subscription': describe({
    type: 'notification-subscription',
    typeNames: ['notification-subscription'],
    table: 'notification_subscriptions',
    model: 'notificationSubscription',
    key: 'id',
    schema: notificationSubscriptionSchema,
    columns: { subscription: 'json', deviceKey: 'text', created: 'timestamp', modified: 'timestamp' },
    // A push subscription's auth key lets anyone send to the device.
    secretFields: ['subscription'],
  }),
  'notification-settings': describe({
    type: 'notification-settings',
    typeNames: ['notification-settings'],
    table: 'notification_settings',
    model: 'notificationSettings',
    key: 'pubkey',
    schema: notificationSettingsSchema,
    columns: { enabled: 'boolean', filters: 'json', settings: 'json', created: 'timestamp', modified: 'timestamp' },
  }),
  'notification-log': describe({
    type: 'notification-log',
    typeNames: ['notification-log'],
    table: 'notification_logs',
    model: 'notificationLog',
    key: 'id',
    schema: notificationLogSchema,
    columns: {
      title: 'text',
      body: 'text',
      content: 'text',
      template: 'text',
      created: 'timestamp',
      modified: 'timestamp',
    },
  }),
} as const;

export type DocumentType = keyof typeof documentTypes;
export const documentTypeNames = Object.keys(documentTypes) as DocumentType[];

export interface DocumentsByType {
  account: AccountDocument;
  'account-settings': AccountSettingsDocument;
  'backup-job': BackupJobDocument;
  payment: PaymentDocument;
  'notification-subscription': NotificationSubscriptionDocument;
  'notification-settings': NotificationSettingsDocument;
  'notification-log': NotificationLogDocument;
}

const byTypeName = new Map<string, DocumentType>(
  documentTypeNames.flatMap((name) => documentTypes[name].typeNames.map((alias) => [alias, name] as const)),
);

/** The document type a `type` value names, aliases included; undefined for an unknown value. */
export function documentTypeOf(typeValue: unknown): DocumentType | undefined {
  return typeof typeValue === 'string' ? byTypeName.get(typeValue) : undefined;
}

/** Every `type` value that belongs to a document type, aliases included (for Cosmos queries). */
export function typeValuesOf(type: DocumentType): readonly string[] {
  return documentTypes[type].typeNames;
}
