import { readdirSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Captures the app's function registrations through the real @azure/functions library.
 *
 * Outside the Functions host, @azure/functions finds no `@azure/functions-core` (the worker provides
 * it at run time) and drops every `app.*` registration. Here the stand-in in `./modules` is made
 * resolvable through NODE_PATH before the function files load, so the library hands it exactly the
 * metadata and handler it would hand the host. `vi.mock` cannot do this: the library loads the module
 * with Node's own `require`, which Vitest does not intercept.
 */

/** A binding as the library describes it to the host (`toCoreFunctionMetadata`). */
export interface CapturedBinding {
  type: string;
  direction: 'in' | 'out';
  name?: string;
  [setting: string]: unknown;
}

export interface CapturedRegistration {
  metadata: {
    name: string;
    bindings: Record<string, CapturedBinding>;
    retryOptions?: Record<string, unknown>;
  };
  /** The handler the host would invoke. */
  callback: (...args: unknown[]) => unknown;
}

interface FunctionsCoreStandIn {
  registrations: CapturedRegistration[];
}

const modulesDir = fileURLToPath(new URL('./modules', import.meta.url));
const functionsDir = fileURLToPath(new URL('../../../functions/', import.meta.url));

/** Makes the stand-in resolvable from @azure/functions and returns it. Call before any `app.*` runs. */
export function installFunctionsCore(): FunctionsCoreStandIn {
  const entries = (process.env.NODE_PATH ?? '').split(path.delimiter).filter(Boolean);
  if (!entries.includes(modulesDir)) {
    process.env.NODE_PATH = [modulesDir, ...entries].join(path.delimiter);
    // NODE_PATH is read once at start-up; this re-reads it (the documented variable, applied late).
    (Module as unknown as { _initPaths(): void })._initPaths();
  }
  const fromLibrary = createRequire(createRequire(import.meta.url).resolve('@azure/functions'));
  const resolved = fromLibrary.resolve('@azure/functions-core');
  if (!resolved.startsWith(modulesDir)) throw new Error(`@azure/functions-core resolved to ${resolved}, not the test stand-in`);
  return fromLibrary('@azure/functions-core') as FunctionsCoreStandIn;
}

/** The top-level function files, the sources of what `package.json` "main" (`dist/app/functions/*.js`) loads. */
export function functionFiles(): string[] {
  return readdirSync(functionsDir)
    .filter((file) => file.endsWith('.ts'))
    .sort()
    .map((file) => path.join(functionsDir, file));
}

/**
 * Loads every function file the way the host does and returns what each registered, by function name.
 * Also returns which file registered which names, so a file that registers nothing is noticed.
 */
export async function loadFunctionApp(): Promise<{
  registrations: Map<string, CapturedRegistration>;
  byFile: Map<string, string[]>;
}> {
  const core = installFunctionsCore();
  const byFile = new Map<string, string[]>();
  for (const file of functionFiles()) {
    const before = core.registrations.length;
    await import(pathToFileURL(file).href);
    byFile.set(
      path.basename(file),
      core.registrations.slice(before).map((registration) => registration.metadata.name),
    );
  }
  return { registrations: new Map(core.registrations.map((registration) => [registration.metadata.name, registration])), byFile };
}

/**
 * The app settings the registered bindings make the host read: each `connection` (a prefix: the setting
 * itself or `<name>__<property>` settings) and each `%SETTING%` in a binding value.
 */
export function settingsReadByBindings(registrations: Iterable<CapturedRegistration>): { connections: string[]; settings: string[] } {
  const connections = new Set<string>();
  const settings = new Set<string>();
  for (const registration of registrations) {
    for (const binding of Object.values(registration.metadata.bindings)) {
      if (typeof binding.connection === 'string') connections.add(binding.connection);
      for (const value of Object.values(binding)) {
        if (typeof value !== 'string') continue;
        for (const match of value.matchAll(/%([A-Za-z0-9_]+)%/g)) settings.add(match[1] as string);
      }
    }
  }
  return { connections: [...connections].sort(), settings: [...settings].sort() };
}
