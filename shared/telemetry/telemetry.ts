import { z } from 'zod';
import { documentTypeNames } from '../domain/document-types.js';

/**
 * Operator telemetry as log-based metrics: one structured log line per event (a sync batch, a migration page,
 * a backlog count), written with the function's own logger (`context.log`), which the Functions host sends to
 * Application Insights as a trace. The workbook (infra/workbook.json) and docs/telemetry.md chart them with
 * KQL over `traces`.
 *
 * Why not an SDK's custom metrics: the Node.js worker concatenates `context.log`'s arguments into the trace's
 * `message` (custom dimensions cannot be added that way), and the alternatives, `applicationinsights` 3.x or
 * `@azure/monitor-opentelemetry`, would put the OpenTelemetry SDK and exporter into a package kept small for
 * Flex Consumption's start-up, and need their own Entra sign-in (local auth is off). A JSON payload in the
 * message carries the same fields, and KQL's `parse_json` reads them.
 */

/** Every metric the app emits, named once: the workbook and the docs chart exactly these. */
export const metricNames = {
  /** Documents inserted or updated in PostgreSQL (a count per event). */
  documentsWritten: 'nostria.documents.written',
  /** Documents of the event put in the quarantine, refused rows included (a count per event). */
  documentsQuarantined: 'nostria.documents.quarantined',
  /** Seconds between the oldest change of a sync batch (its Cosmos `_ts`) and its arrival in PostgreSQL. */
  syncLagSeconds: 'nostria.sync.lag_seconds',
  /** Request units a migration page's Cosmos reads cost. */
  cosmosRequestUnits: 'nostria.cosmos.request_units',
  /** Cosmos answers of 429 (throttled) a migration page's reads met and retried. */
  cosmosThrottled: 'nostria.cosmos.throttled',
  /** Mirror writes waiting to be copied to Cosmos (a gauge). */
  pendingSyncSize: 'nostria.pending_sync.size',
  /** Seconds since the oldest of those waits began, its first failed write (a gauge; 0 when none waits). */
  pendingSyncOldestAgeSeconds: 'nostria.pending_sync.oldest_age_seconds',
  /** Messages in the migration queue's poison queue, as Storage estimates them (a gauge). */
  poisonQueueMessages: 'nostria.queue.poison_messages',
  /** Open entries in the quarantine (a gauge; resolved and closed ones are kept but not counted). */
  quarantineSize: 'nostria.quarantine.size',
  /** Changes of a sync batch that were the mirror's own copies of PostgreSQL's writes (never written back). */
  mirrorEchoes: 'nostria.sync.mirror_echoes',
  /** Versions written in Cosmos that PostgreSQL did not take while holding an unconfirmed write of its own (kept in the quarantine). */
  documentsDiverged: 'nostria.documents.diverged',
  /** PostgreSQL rows a reconcile pass or a verification matched against their feed range's documents. */
  rowsMatched: 'nostria.rows.matched',
  /** Rows a reconcile pass confirmed gone from Cosmos by a point read (removed with apply, else would be). */
  reconcileConfirmed: 'nostria.reconcile.confirmed',
  /** Rows a reconcile pass with apply removed (each copied to reconciled_deletes). */
  reconcileRemoved: 'nostria.reconcile.removed',
  /** Documents a verification found missing on one side, different, or waiting in the quarantine for another's row. */
  verificationDifferences: 'nostria.verification.differences',
} as const;

export type MetricName = (typeof metricNames)[keyof typeof metricNames];

const metricNameList = Object.values(metricNames) as MetricName[];

/** What a telemetry line starts with: KQL finds the lines by it, and reads the JSON after it. */
export const telemetryPrefix = 'nostria.telemetry ';

/**
 * The fields an event may carry. Each is checked on its own shape, so nothing else (an error text, a
 * setting, a connection string) can reach a telemetry line, even through a careless caller.
 */
const fieldSchemas = {
  /** What happened. */
  event: z.enum([
    'sync.batch',
    'migration.page',
    'migration.user',
    'resync',
    'pending-sync',
    'backlog',
    'reconcile.range',
    'reconcile.pass',
    'verification.range',
    'verification.pass',
  ]),
  /** The migration run (as `runIdSchema` allows it). */
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/),
  /** The reconcile pass or verification (as `runIdSchema` allows a pass id). */
  passId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/),
  /** The document type a part of a run by type covers (`other`: the types the app does not know; `all`: a user's). */
  documentType: z.enum([...documentTypeNames, 'other', 'all']),
  /** The feed range a part of a full run covers, by its key (`"<min>-<max>"`, hex EPKs). */
  feedRange: z.string().regex(/^[0-9A-F]{0,64}-[0-9A-F]{1,64}$/),
  /** Documents in the batch or page (of a pass or verification: Cosmos documents read). */
  documents: z.int().nonnegative(),
  /** A dry run: it wrote nothing, its reads cost what they cost. */
  dryRun: z.boolean(),
};

type FieldValues = { [K in keyof typeof fieldSchemas]: z.infer<(typeof fieldSchemas)[K]> };

/** A line's fields: `event` always, the others when the event has them. */
export type TelemetryFields = Pick<FieldValues, 'event'> & Partial<Omit<FieldValues, 'event'>>;

/** Every event a telemetry line may name (the alerts and the workbook filter on these). */
export const telemetryEventNames = fieldSchemas.event.options;

/** The field names a telemetry line may carry besides `metrics` (the workbook's queries read only these). */
export const telemetryFieldNames = Object.keys(fieldSchemas) as Array<keyof TelemetryFields>;

/**
 * One event as a caller gives it: its fields (the ids as plain strings, since each is checked when the line is
 * written, and one of the wrong shape is left out), and the value of each metric it reports.
 */
export type TelemetryEvent = Omit<TelemetryFields, 'documentType'> & {
  documentType?: string;
  metrics: Partial<Record<MetricName, number>>;
};

/**
 * The line for `event`: {@link telemetryPrefix}, then JSON with the fields and `metrics` (by metric name).
 * Only the known fields and metrics are copied. A field of the wrong shape, or a metric that is not a finite
 * number of at least 0, is left out and named in `invalid`: telemetry never fails the work it reports on.
 */
export function telemetryLine(event: TelemetryEvent): string {
  const line: Record<string, unknown> = {};
  const invalid: string[] = [];
  for (const name of telemetryFieldNames) {
    const value: unknown = event[name];
    if (value === undefined) continue;
    if (fieldSchemas[name].safeParse(value).success) line[name] = value;
    else invalid.push(name);
  }
  const metrics: Record<string, number> = {};
  for (const name of metricNameList) {
    const value: unknown = event.metrics[name];
    if (value === undefined) continue;
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) metrics[name] = value;
    else invalid.push(name);
  }
  line.metrics = metrics;
  if (invalid.length > 0) line.invalid = invalid;
  return `${telemetryPrefix}${JSON.stringify(line)}`;
}

/** Logs `event`'s line with `log` (the invocation's `context.log`); nothing when there is no event. */
export function emitTelemetry(log: (line: string) => void, event: TelemetryEvent | undefined): void {
  if (event) log(telemetryLine(event));
}
