import { createCosmosRepositories } from '../cosmos/cosmos-repository.js';
import { documentTypeOf, type DocumentType } from '../domain/document-types.js';
import { createPrismaRepositories } from '../postgres/prisma-repository.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import { safeErrorMessage, secretsOf } from '../runtime/safe-error.js';
import type { Services } from '../runtime/services.js';
import type { DocumentRepository, Repositories } from './document-repository.js';

/**
 * Dual mode with PostgreSQL primary: documents whose Cosmos copy may be stale because a mirror write
 * failed. Entries name a document, not a change: a retry copies the primary's state as it is now
 * (or deletes the copy if the document is gone), so retries are idempotent and their order does not
 * matter. Rows with other targets belong to the change-feed sync and are left alone here.
 */
export const mirrorTarget = 'cosmos';

const firstDelayMs = 10_000;
const maxDelayMs = 15 * 60_000;

export interface PendingDocument {
  /** The canonical document type (`account-settings` also for `user-settings` documents). */
  type: string;
  pubkey: string;
  id: string;
}

/** When to try again after `attempts` failures: 10 s, doubling, at most 15 minutes. */
export function nextAttemptAt(attempts: number, now: Date): Date {
  const delay = Math.min(firstDelayMs * 2 ** Math.min(Math.max(attempts - 1, 0), 20), maxDelayMs);
  return new Date(now.getTime() + delay);
}

/**
 * Records that `document`'s Cosmos copy needs a retry, or bumps the attempts of an existing entry.
 * `error` must already be safe to store (see `safeErrorMessage`).
 */
export async function recordPendingSync(prisma: PrismaClient, document: PendingDocument, error: string, now = new Date()): Promise<void> {
  const key = { target: mirrorTarget, pubkey: document.pubkey, documentId: document.id };
  const existing = await prisma.pendingSync.findUnique({ where: { target_pubkey_documentId: key }, select: { attempts: true } });
  const attempts = (existing?.attempts ?? 0) + 1;
  await prisma.pendingSync.upsert({
    where: { target_pubkey_documentId: key },
    create: { ...key, documentType: document.type, attempts, lastError: error, nextAttempt: nextAttemptAt(attempts, now) },
    update: { documentType: document.type, attempts: { increment: 1 }, lastError: error, nextAttempt: nextAttemptAt(attempts, now) },
  });
}

export interface RetryPendingSyncOptions {
  /** Most entries to handle in this call (default 100). */
  limit?: number;
  /** The clock: entries whose `nextAttempt` is at or before it are due (default: now). */
  now?: Date;
}

export interface PendingSyncOutcome extends PendingDocument {
  outcome: 'written' | 'deleted' | 'failed';
  error?: string;
}

/**
 * Copies each due document's current PostgreSQL state to Cosmos (or deletes the Cosmos copy if the
 * document is gone). A success removes the entry; a failure reschedules it with backoff. Returns one
 * outcome per entry handled; throws only if PostgreSQL itself cannot be read or Cosmos is not configured.
 */
export async function retryPendingSync(services: Services, options: RetryPendingSyncOptions = {}): Promise<PendingSyncOutcome[]> {
  const now = options.now ?? new Date();
  const due = await services.prisma.pendingSync.findMany({
    where: { target: mirrorTarget, nextAttempt: { lte: now } },
    orderBy: { nextAttempt: 'asc' },
    take: options.limit ?? 100,
  });
  if (due.length === 0) return [];

  const primary = createPrismaRepositories(services.prisma);
  const mirror = createCosmosRepositories(services.cosmos);
  const secrets = secretsOf(services.config);
  const outcomes: PendingSyncOutcome[] = [];
  for (const entry of due) {
    const document = { type: entry.documentType, pubkey: entry.pubkey, id: entry.documentId };
    try {
      const type = documentTypeOf(entry.documentType);
      if (!type) throw new Error(`unknown document type "${entry.documentType}"`);
      const current = await repositoryFor(primary, type).getById(document.id, document.pubkey);
      if (current) await repositoryFor(mirror, type).upsert(current);
      else await repositoryFor(mirror, type).delete(document.id, document.pubkey);
      // A failure recorded while this ran bumped `attempts`: that entry may stand for a newer state, so it stays.
      await services.prisma.pendingSync.deleteMany({
        where: { target: mirrorTarget, pubkey: document.pubkey, documentId: document.id, attempts: entry.attempts },
      });
      outcomes.push({ ...document, outcome: current ? 'written' : 'deleted' });
    } catch (error) {
      const message = safeErrorMessage(error, secrets);
      await recordPendingSync(services.prisma, document, message, now);
      outcomes.push({ ...document, outcome: 'failed', error: message });
    }
  }
  return outcomes;
}

function repositoryFor(repositories: Repositories, type: DocumentType): DocumentRepository {
  return repositories[type];
}
