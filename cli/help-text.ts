import { type OptionName, optionHelp } from './cli-options.js';

export interface HelpParts {
  /** The command's name, e.g. `user`. */
  name: string;
  /** Its positional arguments as written in usage, e.g. `<pubkey>`. */
  args?: string;
  /** What the command does, in a few lines. */
  description: string;
  options: readonly OptionName[];
  /** Help lines that differ for this command from the shared ones in `optionHelp`. */
  optionLines?: Partial<Record<OptionName, string>>;
  /** Whether the command writes to PostgreSQL (so it needs MIGRATION_MODE=true unless a dry run). */
  writes: 'always' | 'unless-dry-run' | 'with-repair' | 'never';
  /** Exit code lines after 2 (bad arguments), most specific first. */
  exitCodes: readonly string[];
}

/** `--help` of a migrate:* command: usage, what it does, options, the settings it reads, exit codes. */
export function commandHelp(parts: HelpParts): string {
  const modeLine = {
    always: '  MIGRATION_MODE                    must be true: this command writes to PostgreSQL',
    'unless-dry-run': '  MIGRATION_MODE                    must be true to write (not needed with --dry-run)',
    'with-repair': '  MIGRATION_MODE                    must be true with --repair (repair writes); reading needs nothing',
    never: undefined,
  }[parts.writes];
  const args = parts.args ? ` ${parts.args}` : '';
  return [
    `Usage: npm run migrate:${parts.name}${args} [-- options]`,
    `   or: npx tsx cli/migrate.ts ${parts.name}${args} [options]`,
    '',
    parts.description,
    '',
    'Options (after `--` when run through npm):',
    ...['help' as const, ...parts.options].map((option) => `  ${parts.optionLines?.[option] ?? optionHelp[option]}`),
    '',
    'Settings (environment variables; nothing is read from files):',
    '  DATABASE_URL                      PostgreSQL connection string (required)',
    '  AZURE_COSMOSDB_CONNECTION_STRING  Cosmos DB by key: AccountEndpoint=...;AccountKey=...; (or the next one)',
    '  AZURE_COSMOSDB_ENDPOINT           Cosmos DB by Entra ID (DefaultAzureCredential; AZURE_CLIENT_ID picks a managed identity)',
    '  AZURE_COSMOSDB_DATABASE_NAME      default NostriaDB',
    '  AZURE_COSMOSDB_CONTAINER_NAME     default Documents',
    '  DATABASE_POOL_SIZE                PostgreSQL connections (default 5)',
    ...(modeLine ? [modeLine] : []),
    "  NODE_EXTRA_CA_CERTS               PEM file of extra CAs to trust (a local emulator's certificate); TLS stays verified",
    'A required setting that is missing stops the command before it connects, naming the setting. Nothing',
    'configured? `npm run demo` runs the whole migration on throwaway local databases instead.',
    '',
    'Exit codes:',
    ...[...parts.exitCodes, '2    bad arguments (nothing was touched)']
      .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))
      .map((line) => `  ${line}`),
  ].join('\n');
}

/** The exit-code line of commands that can be interrupted and resumed. */
export const interruptedLine = '130  interrupted (Ctrl-C): stopped after the batch being written; run again with --resume to continue';
