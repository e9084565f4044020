import { runMigrate } from './commands/migrate-commands.js';
import { processContext } from './core/run-command-line.js';

/** `npm run migrate:<command>`: `tsx cli/migrate.ts <command> [arguments] [options]`. */
process.exit(await runMigrate(processContext()));
