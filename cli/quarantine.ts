import { runQuarantine } from './commands/quarantine-commands.js';
import { processContext } from './core/run-command-line.js';

/** `npm run migrate:quarantine -- <list|show|retry|resolve>`: the quarantine's desk. */
process.exit(await runQuarantine(processContext()));
