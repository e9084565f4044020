import { pendingSyncCommand } from './commands/pending-sync.js';
import { runAsMain } from './core/run-command-line.js';

/** `npm run migrate:pending-sync`: copies pending dual-mode writes to Cosmos DB. */
await runAsMain(pendingSyncCommand);
