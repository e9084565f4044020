import type { PhaseReader } from '../context/phase-reader.js';
import type { DocumentType } from '../domain/document-types.js';
import type { SteadyPhase } from '../domain/phase.js';
import type { AccountDocumentRepository, DocumentRepository, PerUserRepository, Repositories } from '../domain/repository-contract.js';

/** The repositories serving each steady phase, built when first asked for. */
export type RepositoriesForPhase = (phase: SteadyPhase) => Repositories;

/**
 * Repositories that ask the phase on every call and hand it to the ones that serve it: a read goes where the
 * phase reads (during a switch, the side writes went to before it), a write waits while a switch holds its
 * fence (`PhaseReader.forWrite`). So a service that keeps its repository objects for its whole life still
 * follows every switch, within the reader's trust period (one second).
 *
 * Every method is listed, none spread: a method added to the contract must be routed as a read or a write on
 * purpose, or this does not compile.
 */
export function phaseRoutedRepositories(reader: PhaseReader, forPhase: RepositoriesForPhase): Repositories {
  const route = <T extends DocumentType>(type: T) => ({
    read: async () => forPhase(await reader.forRead())[type],
    write: async () => forPhase(await reader.forWrite())[type],
  });
  return {
    account: accountRepository(route('account')),
    'account-settings': perUserRepository('account-settings', route('account-settings')),
    'backup-job': documentRepository('backup-job', route('backup-job')),
    payment: documentRepository('payment', route('payment')),
    'notification-subscription': documentRepository('notification-subscription', route('notification-subscription')),
    'notification-settings': perUserRepository('notification-settings', route('notification-settings')),
    'notification-log': documentRepository('notification-log', route('notification-log')),
  };
}

interface Route<R> {
  read(): Promise<R>;
  write(): Promise<R>;
}

function documentRepository<T extends DocumentType>(type: T, route: Route<DocumentRepository<T>>): DocumentRepository<T> {
  return {
    type,
    getById: async (id, pubkey) => (await route.read()).getById(id, pubkey),
    listByPubkey: async (pubkey) => (await route.read()).listByPubkey(pubkey),
    find: async (query) => (await route.read()).find(query),
    count: async (query) => (await route.read()).count(query),
    pubkeysOf: async (query) => (await route.read()).pubkeysOf(query),
    create: async (document) => (await route.write()).create(document),
    update: async (document) => (await route.write()).update(document),
    upsert: async (document) => (await route.write()).upsert(document),
    delete: async (id, pubkey) => (await route.write()).delete(id, pubkey),
  };
}

function perUserRepository<T extends DocumentType>(type: T, route: Route<PerUserRepository<T>>): PerUserRepository<T> {
  return {
    ...documentRepository(type, route),
    getByPubkey: async (pubkey) => (await route.read()).getByPubkey(pubkey),
    deleteByPubkey: async (pubkey) => (await route.write()).deleteByPubkey(pubkey),
  };
}

function accountRepository(route: Route<AccountDocumentRepository>): AccountDocumentRepository {
  return {
    ...perUserRepository('account', route),
    getByUsername: async (username) => (await route.read()).getByUsername(username),
  };
}
