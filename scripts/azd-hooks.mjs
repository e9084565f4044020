// What the azd hooks (azure.yaml: scripts/preprovision.mjs, scripts/postprovision.mjs) share: the azd
// environment's values as the template receives them, and the Azure CLI pinned to the subscription azd
// deploys to. Plain Node with no dependencies: azd runs the hooks before `npm install`.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * The azd value and its default behind each template parameter, from main.parameters.json
 * (`"value": "${VAR}"` or `"${VAR=default}"`).
 * @param {string} text main.parameters.json
 * @returns {Map<string, { variable: string, fallback: string | undefined }>} by parameter name
 */
export function parameterMappings(text) {
  const file = JSON.parse(text);
  const mappings = new Map();
  for (const [parameter, { value }] of Object.entries(file.parameters ?? {})) {
    const match = /^\$\{([A-Z][A-Z0-9_]*)(?:=([^}]*))?\}$/.exec(String(value));
    if (match) mappings.set(parameter, { variable: match[1], fallback: match[2] });
  }
  return mappings;
}

/**
 * Each azd value the template reads, as azd substitutes it: the environment's value, else the default of
 * main.parameters.json, else empty.
 * @param {Record<string, string | undefined>} env
 * @param {Map<string, { variable: string, fallback: string | undefined }>} mappings
 * @returns {Record<string, string>} by azd variable name
 */
export function azdSettings(env, mappings) {
  const settings = {};
  for (const { variable, fallback } of mappings.values()) settings[variable] = env[variable] ?? fallback ?? '';
  return settings;
}

/** The template's parameters file, next to this script's infra/. */
export function readParameterMappings() {
  return parameterMappings(readFileSync(new URL('../infra/main.parameters.json', import.meta.url), 'utf8'));
}

/**
 * The Azure CLI, on the subscription azd deploys to (AZURE_SUBSCRIPTION_ID) rather than whichever one
 * `az account set` last chose. Each call returns the command's JSON output, or throws with its error.
 * @param {Record<string, string | undefined>} env
 * @returns {{ subscription: string | undefined, run: (args: string[]) => unknown }}
 */
export function azureCli(env) {
  const subscription = env.AZURE_SUBSCRIPTION_ID || undefined;
  return {
    subscription,
    run: (args) => {
      const result = spawnSync('az', [...args, '--output', 'json', ...(subscription ? ['--subscription', subscription] : [])], {
        encoding: 'utf8',
        // az is a .cmd script on Windows, which only a shell runs.
        shell: process.platform === 'win32',
      });
      if (result.status !== 0) {
        const options = args.findIndex((arg) => arg.startsWith('--'));
        const command = args.slice(0, options < 0 ? args.length : options).join(' ');
        throw new Error(`az ${command} failed: ${(result.stderr || String(result.error ?? '')).trim()}`);
      }
      const output = result.stdout.trim();
      return output === '' ? null : JSON.parse(output);
    },
  };
}
