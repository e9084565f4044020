import type { Services } from '../runtime/services.js';

/** The two sides verification compares: the Cosmos `Documents` container and the PostgreSQL database. */
export type VerificationContext = Pick<Services, 'prisma' | 'cosmos'>;
