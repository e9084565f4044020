/** See preprovision.mjs: the azd `preprovision` hook's checks. */
export const scaleGroups: number;
export const reservedConnections: number;
export const pgBouncerMaxClientConnections: number;
export function readMaxConnectionsBySku(): Record<string, number>;
export function settingProblems(settings: Record<string, string>, maxConnectionsBySku: Record<string, number>): string[];
export function connectionBudgetProblems(settings: Record<string, string>, maxConnections: number): string[];
export function azureProblems(settings: Record<string, string>, az: (args: string[]) => unknown): string[];
export function deletedVaultProblems(settings: Record<string, string>, az: (args: string[]) => unknown): string[];
