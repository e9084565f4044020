import type { AppConfig } from '../config/env.js';
import { phaseReaderOf } from '../context/phase-reader.js';
import { InvalidInputError } from '../core/errors.js';
import { assertMayMigrate } from '../migration/migration-mode.js';
import { enlistDivergedForMirror } from '../postgres/pending-sync-backlog.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { markResolved, readQuarantineEntries } from '../postgres/quarantine-store.js';

/** What a resolve did, key by key. */
export interface QuarantineResolution {
  /** Open entries now resolved. */
  resolved: string[];
  /** Entries that were not open (resolved already, or closed): left as they were. */
  notOpen: Array<{ key: string; status: string }>;
  /** Keys no entry has. */
  notFound: string[];
  /**
   * Resolved `diverged` entries whose document now waits in `pending_sync` for the mirror to copy PostgreSQL's
   * version over Cosmos's (while PostgreSQL is primary and mirrored).
   */
  mirrored: number;
}

/** The longest note kept: a sentence or a paragraph of why, not a document. */
export const maxNoteLength = 2000;

/**
 * An operator accepts open entries: each is marked resolved with who (`by`), when (now) and why (`note`), kept
 * for audit, and no longer counted as open (stats, verification, the switch's checks). A newer version of the
 * document quarantined again opens it again. A `diverged` entry resolved while PostgreSQL is primary and mirrored
 * keeps PostgreSQL's version: the document is given to the mirror, which copies it over Cosmos's. Needs
 * MIGRATION_MODE=true, as every write of the migration does.
 */
export async function resolveQuarantine(
  ctx: { prisma: PrismaClient; config: AppConfig },
  keys: readonly string[],
  resolution: { by: string; note: string },
): Promise<QuarantineResolution> {
  assertMayMigrate(ctx.config, false);
  const note = resolution.note.trim();
  const by = resolution.by.trim();
  if (note === '') throw new InvalidInputError('note', 'say why the entry is accepted (it is kept with it for audit)');
  if (note.length > maxNoteLength) throw new InvalidInputError('note', `at most ${maxNoteLength} characters`);
  if (by === '') throw new InvalidInputError('by', 'say who accepts the entry');
  if (keys.length === 0) throw new InvalidInputError('key', 'name at least one quarantine entry');
  const unique = [...new Set(keys)];
  const resolved = await markResolved(ctx.prisma, unique, by, note);
  const { phase } = await phaseReaderOf(ctx).current();
  const mirrored = phase === 'postgresql-primary' ? await enlistDivergedForMirror(ctx.prisma, resolved) : 0;
  const done = new Set(resolved);
  const rest = unique.filter((key) => !done.has(key));
  const found = await readQuarantineEntries(ctx.prisma, { status: 'all', keys: rest }, { limit: rest.length || 1 });
  const status = new Map(found.map((entry) => [entry.key, entry.status]));
  return {
    resolved,
    notOpen: rest.flatMap((key) => {
      const current = status.get(key);
      return current === undefined ? [] : [{ key, status: current }];
    }),
    notFound: rest.filter((key) => !status.has(key)),
    mirrored,
  };
}
