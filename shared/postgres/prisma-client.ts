import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/prisma/client.js';

export type { PrismaClient };

/**
 * Creates a Prisma client on the `pg` driver adapter. `poolSize` bounds this process's connections:
 * many Function instances share one server, so keep it small (see README, "Connections").
 */
export function createPrismaClient(databaseUrl: string, poolSize: number): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize });
  return new PrismaClient({ adapter });
}
