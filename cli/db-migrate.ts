import { dbMigrateCommand } from './commands/db-migrate.js';
import { runAsMain } from './core/run-command-line.js';

/** `npm run db:migrate`: applies prisma/migrations to DATABASE_URL. */
await runAsMain(dbMigrateCommand);
