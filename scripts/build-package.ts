import { spawnSync } from 'node:child_process';
import { copyFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { listOutputFiles } from './output-files.js';

/**
 * Builds the deployment package: the folder azd zips and Flex Consumption loads on every new instance
 * (azure.yaml `dist`). Only what runs is in it:
 *
 *   host.json
 *   package.json          type module, main = functions/*.js, no dependencies
 *   functions/<name>.js   one file per function (the host loads them all through `main`)
 *   chunks/*.js           code the functions share, split out once; the Prisma query compiler (WASM, as
 *                         Prisma ships it, base64 in a module) is its own chunk, loaded on the first query
 *
 * Every production dependency is bundled, so the package carries no node_modules at all. The one module
 * left out is `@azure/functions-core`, which the Functions Node.js worker provides at run time. The build
 * fails if anything from a devDependency, the CLI, dev tooling, tests or the benchmark reaches the bundle.
 *
 * Why a bundle: with node_modules the package was ~777 MB (~430 MB with `--omit=dev`, because the Prisma
 * CLI comes along as a peer of @prisma/client), and Flex Consumption gives an app 30 s to start, each new
 * instance fetching the package first. Measure with `npm run build -- --measure`.
 */

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where `npm run build` writes the package; azure.yaml `dist` and package.json `main` point here. */
export const defaultPackageDir = 'dist/app';
/** The package's own `main`, relative to the package folder. */
export const packageMain = 'functions/*.js';

/** Provided by the Functions worker; never bundled (the library `require`s it at run time). */
const providedByHost = ['@azure/functions-core'];
/** Optional native bindings some drivers probe for and fall back from when absent. */
const optionalNative = ['pg-native'];
/** Source folders whose code must never be deployed. */
const toolingFolders = ['cli/', 'dev/', 'test/', 'bench/', 'scripts/'];

/**
 * ESM output still meets CommonJS dependencies that call `require` (for Node built-ins, and the host's
 * `@azure/functions-core`); this gives every output file a real `require` resolving from where it lies.
 */
const requireShim =
  "import { createRequire as __packageCreateRequire } from 'node:module';\nconst require = __packageCreateRequire(import.meta.url);";

export interface BuildPackageOptions {
  /** Absolute or project-relative folder to (re)create; default {@link defaultPackageDir}. */
  outDir?: string;
}

export interface PackageReport {
  outDir: string;
  /** Every file in the package with its size, relative to `outDir`. */
  files: Array<{ file: string; bytes: number }>;
  totalBytes: number;
  /** The function files the host loads, relative to `outDir`. */
  functionFiles: string[];
}

/** Builds the package into `outDir` (emptied first) and reports what it holds. */
export async function buildPackage(options: BuildPackageOptions = {}): Promise<PackageReport> {
  const outDir = path.resolve(projectRoot, options.outDir ?? defaultPackageDir);
  await rm(outDir, { recursive: true, force: true });
  const entryPoints = await functionEntryPoints();
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints,
    outdir: outDir,
    outbase: projectRoot,
    entryNames: '[dir]/[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    // Azure runs Node 22 (infra/modules/function-app.bicep); this target also runs on Node 20.
    target: 'node20',
    external: [...providedByHost, ...optionalNative],
    banner: { js: requireShim },
    // Whitespace and syntax only: identifiers stay readable in stack traces from Application Insights.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  checkInputs(result.metafile, await devDependencyNames());
  await copyFile(path.join(projectRoot, 'host.json'), path.join(outDir, 'host.json'));
  await writeFile(path.join(outDir, 'package.json'), `${JSON.stringify(await packageManifest(), null, 2)}\n`);
  return report(outDir, entryPoints);
}

async function functionEntryPoints(): Promise<string[]> {
  const entries = await readdir(path.join(projectRoot, 'functions'), { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => `functions/${entry.name}`)
    .sort();
}

/** The deployed package.json: what the host reads (`main`, module type), nothing to install. */
async function packageManifest(): Promise<Record<string, unknown>> {
  const root = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as Record<string, unknown>;
  return {
    name: root.name,
    version: root.version,
    private: true,
    description: 'Deployment package of nostria-migrate, built by scripts/build-package.ts; do not edit.',
    type: 'module',
    main: packageMain,
    engines: root.engines,
  };
}

async function devDependencyNames(): Promise<Set<string>> {
  const root = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  return new Set(Object.keys(root.devDependencies ?? {}));
}

/** Fails the build when tooling or a devDependency was bundled, naming each offending input. */
function checkInputs(metafile: Metafile, devDependencies: Set<string>): void {
  const offending = Object.keys(metafile.inputs).filter((input) => {
    if (toolingFolders.some((folder) => input.startsWith(folder))) return true;
    const name = packageNameOf(input);
    return name !== undefined && devDependencies.has(name);
  });
  if (offending.length > 0) {
    throw new Error(`the deployment package must not contain tooling or devDependencies, but bundles:\n  ${offending.join('\n  ')}`);
  }
}

/** The top-level package an input path belongs to (`node_modules/@scope/name/...` gives `@scope/name`). */
function packageNameOf(input: string): string | undefined {
  const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match?.[1];
}

async function report(outDir: string, entryPoints: string[]): Promise<PackageReport> {
  const functionFiles = entryPoints.map((entry) => entry.replace(/\.ts$/, '.js'));
  return { outDir, ...(await listOutputFiles(outDir)), functionFiles };
}

/**
 * Cold import time of each function file: a fresh `node` per file, in the package folder, timing
 * `import()` of that file alone (the host then registers the function; connections are made on first use).
 * `modulesPath` is a folder holding a stand-in `@azure/functions-core` (outside Azure nothing provides it).
 */
export function measureColdImports(report: PackageReport, modulesPath: string): Array<{ file: string; ms: number }> {
  return report.functionFiles.map((file) => {
    const url = pathToFileURL(path.join(report.outDir, file)).href;
    const script = `const t = performance.now(); await import(${JSON.stringify(url)}); console.log((performance.now() - t).toFixed(1));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: report.outDir,
      env: { PATH: process.env.PATH ?? '', NODE_PATH: modulesPath },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`importing ${file} failed:\n${child.stderr}`);
    return { file, ms: Number(child.stdout.trim().split('\n').pop()) };
  });
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

async function main(argv: string[]): Promise<void> {
  const packageReport = await buildPackage();
  console.log(
    `Deployment package: ${path.relative(projectRoot, packageReport.outDir)} (${packageReport.files.length} files, ` +
      `${megabytes(packageReport.totalBytes)})`,
  );
  if (!argv.includes('--measure')) return;
  for (const file of packageReport.files) console.log(`  ${megabytes(file.bytes).padStart(10)}  ${file.file}`);
  const standIn = path.join(projectRoot, 'test', 'support', 'functions-core', 'modules');
  console.log('Cold import of each function file (fresh node per file):');
  for (const { file, ms } of measureColdImports(packageReport, standIn)) console.log(`  ${`${ms} ms`.padStart(10)}  ${file}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
