import { PrismaPg } from '@prisma/adapter-pg';
import { type PostgresCredentials, pgConnectionConfig, urlPassword } from './entra-credentials.js';
import { PrismaClient } from './generated/prisma/client.js';

export type { PrismaClient };

/**
 * Creates a Prisma client on the `pg` driver adapter. `poolSize` bounds this process's connections:
 * many Function instances share one server, so keep it small (docs/deploy.md, "Connections").
 * `credentials` is how each new pooled connection signs in: the URL's password, or a fresh Entra token.
 */
export function createPrismaClient(databaseUrl: string, poolSize: number, credentials: PostgresCredentials = urlPassword): PrismaClient {
  const adapter = new PrismaPg({ ...pgConnectionConfig(databaseUrl, credentials), max: poolSize });
  return new PrismaClient({ adapter });
}
