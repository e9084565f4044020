import { poisonCommand } from './commands/poison.js';
import { runAsMain } from './core/run-command-line.js';

/** `npm run migrate:poison`: lists or replays the migration queue's poison messages. */
await runAsMain(poisonCommand);
