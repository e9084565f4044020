/** See postprovision.mjs: the azd `postprovision` hook. */
export const templateFirewallRules: string[];
export function postprovision(settings: Record<string, string>, az: (args: string[]) => unknown): { notes: string[]; failures: string[] };
