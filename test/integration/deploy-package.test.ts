import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildPackage, type PackageReport, packageMain } from '../../scripts/build-package.js';
import { envSchema } from '../../shared/config/env.js';
import { type CapturedRegistration, functionFiles, loadFunctionApp } from '../support/functions-core/load-function-app.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/*
 * The deployment package as Azure gets it: built into a temporary folder (no node_modules anywhere above
 * it), then loaded by plain `node`, outside Vitest, through its own package.json `main`, the way the
 * Functions host loads it. The only module from outside is the stand-in for `@azure/functions-core`,
 * which the Functions worker provides in Azure (test/support/functions-core).
 */

const standInModules = fileURLToPath(new URL('../support/functions-core/modules', import.meta.url));
/** Flex Consumption loads the package on every new instance; the budget. */
const maxPackageBytes = 30 * 1024 * 1024;

/** Run by plain node in the package folder: loads `main` as the host does, prints what registered. */
const hostScript = `
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const root = process.cwd();
const { main } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const dir = path.dirname(main);
const suffix = path.basename(main).replace(/^\\*/, '');
const files = readdirSync(path.join(root, dir)).filter((file) => file.endsWith(suffix)).sort();
for (const file of files) await import(pathToFileURL(path.join(root, dir, file)).href);
const core = createRequire(path.join(root, 'package.json'))('@azure/functions-core');
const result = { files: files.map((file) => dir + '/' + file), registrations: core.registrations.map((r) => r.metadata) };
if (process.env.INVOKE_HEALTH) {
  const health = core.registrations.find((r) => r.metadata.name === 'health');
  const say = () => undefined;
  const answer = await health.callback({}, { invocationId: 'package-test', log: say, warn: say, error: say });
  result.health = answer.jsonBody;
}
console.log(JSON.stringify(result));
process.exit(0);
`;

let workDir: string;
let report: PackageReport;
let sourceRegistrations: Map<string, CapturedRegistration>;
let db: TestDatabase;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'nostria-package-'));
  report = await buildPackage({ outDir: path.join(workDir, 'app') });
  await writeFile(path.join(workDir, 'host.mjs'), hostScript);
  for (const name of Object.keys(envSchema.shape)) vi.stubEnv(name, undefined);
  try {
    ({ registrations: sourceRegistrations } = await loadFunctionApp());
  } finally {
    vi.unstubAllEnvs();
  }
  db = await createTestDatabase();
}, 120_000);

afterAll(async () => {
  await db?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Plain node in the package folder, with only PATH, the stand-in's NODE_PATH and `env`. */
function runHost(env: Record<string, string> = {}): {
  files: string[];
  registrations: CapturedRegistration['metadata'][];
  health?: unknown;
} {
  const child = spawnSync(process.execPath, [path.join(workDir, 'host.mjs')], {
    cwd: report.outDir,
    env: { PATH: process.env.PATH ?? '', NODE_PATH: standInModules, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (child.status !== 0) throw new Error(`node could not load the package (exit ${String(child.status)}):\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '') as ReturnType<typeof runHost>;
}

describe('the deployment package', () => {
  it('carries only what runs: host.json, package.json, the function files and their shared chunks', () => {
    const files = report.files.map((file) => file.file);
    const sources = functionFiles().map((file) => `functions/${path.basename(file, '.ts')}.js`);
    expect(files.filter((file) => file.startsWith('functions/'))).toEqual(sources);
    expect(files.filter((file) => !file.startsWith('functions/') && !file.startsWith('chunks/'))).toEqual(['host.json', 'package.json']);
    expect(files.filter((file) => file.startsWith('chunks/')).every((file) => file.endsWith('.js'))).toBe(true);
    expect(existsSync(path.join(report.outDir, 'node_modules'))).toBe(false);
    expect(report.totalBytes).toBeLessThan(maxPackageBytes);
  });

  it('has a package.json the host reads: an ES module whose main is every function file, nothing to install', async () => {
    const manifest = JSON.parse(await readFile(path.join(report.outDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ type: 'module', main: packageMain });
    expect(manifest).not.toHaveProperty('dependencies');
    expect(await readFile(path.join(report.outDir, 'host.json'), 'utf8')).toBe(
      await readFile(new URL('../../host.json', import.meta.url), 'utf8'),
    );
  });

  it('lies where no node_modules can help it', () => {
    const above: string[] = [];
    for (let dir = report.outDir; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'node_modules'))) above.push(dir);
    }
    expect(above).toEqual([]);
  });

  it('loads every function file through package.json main with plain node, and they register what the sources register', () => {
    const loaded = runHost();
    expect(loaded.files).toEqual(report.functionFiles);
    const byName = Object.fromEntries(loaded.registrations.map((metadata) => [metadata.name, metadata]));
    const expected = Object.fromEntries(
      [...sourceRegistrations.values()].map((registration) => [registration.metadata.name, registration.metadata]),
    );
    expect(Object.keys(byName).sort()).toEqual(Object.keys(expected).sort());
    expect(byName).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it('runs a PostgreSQL query through the bundled Prisma client and its query-compiler WASM', () => {
    const loaded = runHost({ INVOKE_HEALTH: '1', DATABASE_URL: db.url });
    expect(loaded.health).toMatchObject({ postgres: { healthy: true }, cosmos: { healthy: false } });
  });
});
