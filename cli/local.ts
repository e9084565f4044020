import { localCommand } from './commands/local.js';
import { runAsMain } from './core/run-command-line.js';

/** `npm run local`: the demo's local databases with sample data, kept running for the migrate:* commands until Ctrl-C. */
await runAsMain(localCommand);
