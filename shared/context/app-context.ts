import type { Container } from '@azure/cosmos';
import type { AppConfig } from '../config/env.js';
import type { PrismaClient } from '../postgres/prisma-client.js';
import type { PhaseReader } from './phase-reader.js';

/**
 * The process's clients, the one type every application service takes: the configuration, the Prisma
 * client of the PostgreSQL database, the Cosmos `Documents` container and the primary's phase. `getServices()` (runtime/)
 * builds the process's own lazily; tests and the demo pass theirs.
 */
export interface AppContext {
  readonly config: AppConfig;
  readonly prisma: PrismaClient;
  readonly cosmos: Container;
  /**
   * The process's view of which database is primary, read at most once a second (`phase-reader.ts`); a
   * context built without one reads the stored phase on every call (`phaseReaderOf`).
   */
  readonly phases?: PhaseReader;
}
