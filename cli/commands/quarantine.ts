import { hostname, userInfo } from 'node:os';
import { InvalidInputError } from '../../shared/core/errors.js';
import {
  defaultListLimit,
  filterOf,
  listQuarantine,
  maxListLimit,
  maxNoteLength,
  type QuarantineQuery,
  resolveQuarantine,
  retryQuarantine,
  showQuarantineEntry,
} from '../../shared/quarantine/index.js';
import { defineCommand } from '../core/command.js';
import { ExitCode } from '../core/exit-codes.js';
import { untilInterrupted } from '../core/interrupt.js';
import { sharedOptions, valued, wholeNumber } from '../core/options.js';
import { describeEntry, describeListing, describeResolution, describeRetry } from '../quarantine-report.js';
import { databaseCommandSettings, readOnlyInterruption, readSettings } from './command-texts.js';
import { filterOptions, hasFilter, postgresServices, postgresSettings, queryOf } from './quarantine-options.js';

/** `migrate:quarantine <subcommand>`: the operator's desk for the quarantine (`shared/quarantine/`). */

/** A word a shell passes on as it is, or the word in single quotes. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The filters of a query as options again, for the command that lists the next page. */
function queryArguments(query: QuarantineQuery): string[] {
  const ages = (ms: number) => `${Math.round(ms / 1000)}s`;
  return [
    ...(query.status ? ['--status', query.status] : []),
    ...(query.type ? ['--type', query.type] : []),
    ...(query.reason ? ['--reason', query.reason] : []),
    ...(query.user ? ['--user', query.user] : []),
    ...(query.olderThanMs !== undefined ? ['--older-than', ages(query.olderThanMs)] : []),
    ...(query.newerThanMs !== undefined ? ['--newer-than', ages(query.newerThanMs)] : []),
  ].map(shellWord);
}

export const quarantineListCommand = defineCommand({
  script: 'migrate:quarantine list',
  entry: 'cli/quarantine.ts list',
  summary: 'list quarantined documents, with counts per reason code',
  description: [
    'Lists the quarantine: the documents no table holds, each kept whole with its reason (unmappable, refused,',
    'conflict, displaced, or another code). Open entries unless --status says otherwise; the filters narrow the',
    'selection, and the counts per reason code are those of the whole selection. Each entry shows where it stands',
    "against PostgreSQL: NEWER than its document's row (PostgreSQL serves an older version: a difference), in no",
    'table and waiting for a row (a difference), in no table because none can hold it, or not newer than its row.',
    `A page at a time in key order (--limit, default ${defaultListLimit}); --after <key> lists the next page. Reads only;`,
    'needs PostgreSQL alone. GET /api/migration/quarantine answers the same.',
  ].join('\n'),
  options: {
    ...filterOptions,
    limit: valued('<n>', `Entries per page (1-${maxListLimit}; default ${defaultListLimit}).`, wholeNumber(1, maxListLimit)),
    after: valued('<key>', 'List the page after this key (the "More:" line gives it).', (text) => text),
    json: sharedOptions.json,
  },
  settings: postgresSettings,
  exitCodes: { ok: 'listed', failed: 'PostgreSQL could not be read, or DATABASE_URL is missing', interrupted: readOnlyInterruption },
  prepare: ({ values }) => {
    const query = queryOf(values);
    const limit = values.limit ?? defaultListLimit;
    return async (io) => {
      const { prisma } = postgresServices(io);
      const listing = await untilInterrupted(
        listQuarantine(prisma, filterOf(query), { limit, ...(values.after !== undefined ? { after: values.after } : {}) }),
        io.signal,
      );
      const next = (after: string) =>
        ['npm run migrate:quarantine -- list', ...queryArguments(query), '--limit', String(limit), '--after', shellWord(after)].join(' ');
      const { status, ...narrowing } = query;
      const heading = `${status ?? 'open'} entries${hasFilter(narrowing) ? ', filtered' : ''}`;
      io.result(io.json ? JSON.stringify(listing, null, 2) : describeListing(listing, heading, next));
      return ExitCode.ok;
    };
  },
});

export const quarantineShowCommand = defineCommand({
  script: 'migrate:quarantine show',
  entry: 'cli/quarantine.ts show',
  args: '<key>',
  maxPositionals: 1,
  summary: 'one quarantined document: as kept, why, and the row it competes for or would replace',
  description: [
    'Shows one quarantine entry: the document as it was kept (secret fields redacted), its reason and status, and',
    "the PostgreSQL row it is measured against: the document's own row (an older version, when the quarantined one",
    'is newer), or the row it competes for, held by another document; with whether the quarantined version is',
    'newer than that row. <key> is as `list` prints it (<pubkey>/<id>, or sha256:...). Reads only; needs',
    'PostgreSQL alone. GET /api/migration/quarantine/{key} answers the same.',
  ].join('\n'),
  options: { json: sharedOptions.json },
  settings: postgresSettings,
  exitCodes: {
    ok: 'shown',
    failed: 'no entry has that key, PostgreSQL could not be read, or DATABASE_URL is missing',
    interrupted: readOnlyInterruption,
  },
  prepare: ({ positionals }) => {
    const key = positionals[0];
    if (key === undefined || key === '') throw new InvalidInputError('<key>', 'missing; give the key `list` prints');
    return async (io) => {
      const view = await untilInterrupted(showQuarantineEntry(postgresServices(io).prisma, key), io.signal);
      io.result(io.json ? JSON.stringify(view, null, 2) : describeEntry(view));
      return ExitCode.ok;
    };
  },
});

export const quarantineRetryCommand = defineCommand({
  script: 'migrate:quarantine retry',
  entry: 'cli/quarantine.ts retry',
  args: '[<key>...]',
  maxPositionals: 1000,
  summary: "retry quarantined documents from Cosmos's current version",
  description: [
    "Reads each selected entry's document again from Cosmos DB as it is NOW (a point read) and sends it through",
    'the write path: a document fixed at the source lands in its table and its entry leaves the quarantine; one',
    'still bad stays, with the reason that holds now; one gone from Cosmos closes its entry (kept, recorded).',
    'Select entries by key, or with the filters of `list` (open entries unless --status says; no key and no',
    'filter: every open entry). Point reads run under the shared request-unit budget. Refused while',
    "USE_POSTGRESQL=true: Cosmos then holds the mirror's copies of PostgreSQL's own writes.",
  ].join('\n'),
  options: { ...filterOptions, maxRu: sharedOptions.maxRu, json: sharedOptions.json },
  settings: [
    ...databaseCommandSettings('always'),
    ['USE_POSTGRESQL', 'true refuses: Cosmos then holds the mirror copies of PostgreSQL writes'],
    ...readSettings,
  ],
  exitCodes: {
    ok: 'every selected entry landed in its table or was closed (its document gone)',
    failed:
      'some entries stay in the quarantine (still bad, unchanged, not addressable), a key has no entry, a database failed, ' +
      'MIGRATION_MODE is not true, USE_POSTGRESQL=true, or settings are missing',
    interrupted: 'interrupted (Ctrl-C): stopped after the page in hand; what was retried stays so, run it again for the rest',
  },
  prepare: ({ values, positionals }) => {
    const query = queryOf(values);
    if (positionals.length > 0 && hasFilter(query)) {
      throw new InvalidInputError('<key>', 'give keys or filters, not both');
    }
    const selection = positionals.length > 0 ? { keys: positionals } : { filter: filterOf(query) };
    return async (io) => {
      const retry = await retryQuarantine(io.services(), selection, {
        maxRequestUnitsPerSecond: values.maxRu,
        signal: io.signal,
        onProgress: ({ done, total }) => io.progress.update({ label: 'Retrying quarantined documents', done, total }),
      }).finally(() => io.progress.stop());
      io.result(io.json ? JSON.stringify(retry, null, 2) : describeRetry(retry));
      const settled = retry.counts.landed + retry.counts.closed;
      return settled === retry.selected ? ExitCode.ok : ExitCode.failed;
    };
  },
});

/** Who runs the command, as the OS says: what `--by` defaults to. */
function operator(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}

export const quarantineResolveCommand = defineCommand({
  script: 'migrate:quarantine resolve',
  entry: 'cli/quarantine.ts resolve',
  args: '<key>...',
  maxPositionals: 1000,
  summary: 'accept quarantined documents, with who and why (kept for audit)',
  description: [
    'An operator accepts open entries: each is marked resolved, with who (--by), when (now) and why (--note),',
    'and kept for audit. A resolved entry is no longer counted as open (migrate:stats, verification, the',
    "switch's readiness); a newer version of its document quarantined again opens it again. Closed or already",
    'resolved entries are left as they are.',
  ].join('\n'),
  options: {
    note: valued('<text>', `Why the entries are accepted (required; at most ${maxNoteLength} characters).`, (text) => text),
    by: valued('<name>', 'Who accepts them (default: the OS user and host running the command).', (text) => text),
    json: sharedOptions.json,
  },
  settings: [...postgresSettings, ['MIGRATION_MODE', 'must be true: this command writes to PostgreSQL']],
  exitCodes: {
    ok: 'every key named an entry (open ones are now resolved)',
    failed: 'a key has no entry, PostgreSQL failed, MIGRATION_MODE is not true, or DATABASE_URL is missing',
    interrupted: 'interrupted (Ctrl-C): one statement marks the entries, so all the open ones named are resolved or none; run it again',
  },
  prepare: ({ values, positionals }) => {
    if (positionals.length === 0) throw new InvalidInputError('<key>', 'missing; give the key(s) `list` prints');
    if (values.note === undefined) throw new InvalidInputError('--note', 'required: say why the entries are accepted');
    const by = values.by ?? operator();
    return async (io) => {
      const resolution = await resolveQuarantine(postgresServices(io), positionals, { by, note: values.note as string });
      io.result(io.json ? JSON.stringify({ by, ...resolution }, null, 2) : describeResolution(resolution, by));
      return resolution.notFound.length > 0 ? ExitCode.failed : ExitCode.ok;
    };
  },
});
