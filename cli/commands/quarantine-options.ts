import type { AppContext } from '../../shared/context/app-context.js';
import { ageFormat, parseAge } from '../../shared/core/age.js';
import { InvalidInputError } from '../../shared/core/errors.js';
import { type QuarantineQuery, quarantineStatuses } from '../../shared/quarantine/index.js';
import { closeServices, useServices } from '../../shared/runtime/services.js';
import type { CommandIO } from '../core/command.js';
import { quote, valued } from '../core/options.js';
import type { SettingName } from '../core/settings.js';

/** What the `migrate:quarantine` commands share: the filters of a selection, and PostgreSQL alone when that is all they read. */

function age(text: string, name: string): number {
  const ms = parseAge(text);
  if (ms === undefined) throw new InvalidInputError(name, `expected ${ageFormat}, got ${quote(text)}`);
  return ms;
}

function status(text: string, name: string): QuarantineQuery['status'] {
  const statuses: readonly string[] = [...quarantineStatuses, 'all'];
  if (!statuses.includes(text)) throw new InvalidInputError(name, `expected one of ${statuses.join(', ')}, got ${quote(text)}`);
  return text as QuarantineQuery['status'];
}

function text(what: string, max: number) {
  return (value: string, name: string): string => {
    if (value.trim() === '' || value.length > max) throw new InvalidInputError(name, `expected ${what} (1-${max} characters)`);
    return value;
  };
}

/** The options that select entries, as `list` and `retry` take them. */
export const filterOptions = {
  status: valued('<status>', 'open (default), resolved, closed or all.', status),
  type: valued(
    '<type>',
    'Documents of this type: account, account-settings, backup-job, payment, notification-subscription, notification-settings, ' +
      'notification-log (aliases included), any other type value as stored, or `other` (none of the seven, or no type).',
    text('a document type', 255),
  ),
  reason: valued(
    '<code>',
    'This reason code: unmappable, refused, conflict, displaced (or any other code recorded).',
    text('a reason code', 100),
  ),
  user: valued('<pubkey>', "One user's entries: the documents stored under this partition key (pubkey).", text('a pubkey', 255)),
  olderThan: valued('<age>', 'Quarantined (last) at least this long ago: 90s, 15m, 2h, 7d.', age),
  newerThan: valued('<age>', 'Quarantined (last) less than this long ago: 90s, 15m, 2h, 7d.', age),
};

/** The query the filter options say. */
export function queryOf(values: {
  status?: QuarantineQuery['status'];
  type?: string;
  reason?: string;
  user?: string;
  olderThan?: number;
  newerThan?: number;
}): QuarantineQuery {
  return {
    ...(values.status !== undefined ? { status: values.status } : {}),
    ...(values.type !== undefined ? { type: values.type } : {}),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
    ...(values.user !== undefined ? { user: values.user } : {}),
    ...(values.olderThan !== undefined ? { olderThanMs: values.olderThan } : {}),
    ...(values.newerThan !== undefined ? { newerThanMs: values.newerThan } : {}),
  };
}

/** Whether any filter option was given. */
export function hasFilter(query: QuarantineQuery): boolean {
  return Object.keys(query).length > 0;
}

/** PostgreSQL's settings: what the commands that read or settle the quarantine alone need. */
export const postgresSettings: readonly SettingName[] = ['DATABASE_URL', 'DATABASE_POOL_SIZE'];

/** The process's services on PostgreSQL alone (no Cosmos DB setting needed), closed when the command ends. */
export function postgresServices(io: CommandIO): Pick<AppContext, 'prisma' | 'config'> {
  const services = useServices({ config: io.config(['postgres']) });
  io.defer(closeServices);
  return services;
}
