import type { Container } from '@azure/cosmos';
import type { AppConfig } from '../config/env.js';
import type { PrismaClient } from '../postgres/prisma-client.js';

/**
 * The process's clients, the one type every application service takes: the configuration, the Prisma
 * client of the PostgreSQL database and the Cosmos `Documents` container. `getServices()` (runtime/)
 * builds the process's own lazily; tests and the demo pass theirs.
 */
export interface AppContext {
  readonly config: AppConfig;
  readonly prisma: PrismaClient;
  readonly cosmos: Container;
}
