import type { Command } from './command.js';
import { optionHelpLine } from './command-line.js';
import { ExitCode } from './exit-codes.js';
import { helpOption, type OptionSpecs } from './options.js';
import { settingHelp } from './settings.js';

/**
 * The one help format: usage, what the command does, its options, the settings it reads and its exit
 * codes, all from the command's declaration.
 */
export function commandHelp<O extends OptionSpecs>(command: Command<O>): string {
  const args = command.args ? ` ${command.args}` : '';
  const options = Object.entries({ help: helpOption, ...command.options }).map(([key, spec]) => `  ${optionHelpLine(key, spec)}`);
  const settings = command.settings.map((setting) => {
    const [name, text] = typeof setting === 'string' ? [setting, settingHelp[setting]] : setting;
    return `  ${name.padEnd(35)}${text}`;
  });
  return [
    `Usage: npm run ${command.script}${args} [-- options]`,
    `   or: node --import tsx ${command.entry}${args} [options]`,
    '',
    command.description,
    '',
    'Options (after `--` when run through npm):',
    ...options,
    '',
    ...(settings.length > 0
      ? ['Settings (environment variables; nothing is read from files):', ...settings, ...missingSettingsLines]
      : ['Settings: none; it reads no environment variable.']),
    ...(command.settingsNote ? [command.settingsNote] : []),
    '',
    'Exit codes:',
    ...exitCodeLines(command),
  ].join('\n');
}

const missingSettingsLines = [
  'A setting that is missing or malformed stops the command before it connects; all of them are named at once.',
  'Nothing configured? `npm run demo` runs the whole migration on throwaway local databases; `npm run local`',
  'starts those databases with sample data and prints the settings that point these commands at them.',
];

function exitCodeLines(command: Command): string[] {
  const lines: Array<[number, string]> = [
    [ExitCode.ok, command.exitCodes.ok],
    [ExitCode.failed, command.exitCodes.failed],
    [ExitCode.usage, 'bad arguments (nothing was touched)'],
    [ExitCode.interrupted, command.exitCodes.interrupted],
  ];
  return lines.map(([code, text]) => `  ${String(code).padEnd(5)}${text}`);
}
