import { demoCommand } from './commands/demo.js';
import { runAsMain } from './core/run-command-line.js';

/** `npm run demo`: the whole migration on embedded PostgreSQL and a local Cosmos-protocol server, with nothing configured. */
await runAsMain(demoCommand);
