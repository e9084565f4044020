/** See azd-hooks.mjs: the azd value and default behind each template parameter, from main.parameters.json. */
export function parameterMappings(text: string): Map<string, { variable: string; fallback: string | undefined }>;
/** See azd-hooks.mjs: each azd value the template reads, as azd substitutes it. */
export function azdSettings(
  env: Record<string, string | undefined>,
  mappings: Map<string, { variable: string; fallback: string | undefined }>,
): Record<string, string>;
export function readParameterMappings(): Map<string, { variable: string; fallback: string | undefined }>;
/** See azd-hooks.mjs: the Azure CLI on the subscription azd deploys to. */
export function azureCli(env: Record<string, string | undefined>): { subscription: string | undefined; run: (args: string[]) => unknown };
