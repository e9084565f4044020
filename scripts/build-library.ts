import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { listOutputFiles } from './output-files.js';

/**
 * Builds the package entry `nostria-migrate/repositories` (package.json `exports`), what the Nostria service
 * imports to switch databases by settings:
 *
 *   dist/lib/repositories.js     one ES module: shared/repositories/index.ts and everything it reaches in
 *                                shared/ (the generated Prisma client included); npm packages stay imports,
 *                                resolved from the installing project's node_modules like any dependency's
 *   dist/lib/types/**.d.ts       declarations, by tsc from the same sources (types: repositories/index.d.ts)
 *
 * The build fails if anything of the Functions app, the CLI, dev tooling, tests or the benchmark reaches the
 * entry, or if it imports a devDependency or the Functions runtime. `npm run build` runs it after the app's
 * deployment package (scripts/build-package.ts), which it leaves alone.
 */

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const libraryEntry = 'shared/repositories/index.ts';
/** Where `npm run build` writes it; package.json `exports` points here. */
export const defaultLibraryDir = 'dist/lib';

/** Source folders the library must never contain. */
const forbiddenFolders = ['functions/', 'cli/', 'dev/', 'test/', 'bench/', 'scripts/'];
/** Packages of the Functions app and the CLI: never imported by the library. */
const forbiddenPackages = ['@azure/functions', '@azure/functions-core', 'cli-progress'];

export interface LibraryReport {
  outDir: string;
  files: Array<{ file: string; bytes: number }>;
  totalBytes: number;
  /** The npm packages the built module imports (what the service must have installed: nostria-migrate's dependencies). */
  externalImports: string[];
}

/** Builds the library into `outDir` (emptied first; default {@link defaultLibraryDir}) and reports what it holds. */
export async function buildLibrary(options: { outDir?: string } = {}): Promise<LibraryReport> {
  const outDir = path.resolve(projectRoot, options.outDir ?? defaultLibraryDir);
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: projectRoot,
    entryPoints: [libraryEntry],
    outfile: path.join(outDir, 'repositories.js'),
    bundle: true,
    // A library: its dependencies are the installing project's to resolve (and to deduplicate with its own).
    packages: 'external',
    format: 'esm',
    platform: 'node',
    // Azure runs Node 22; this target also runs on Node 20.
    target: 'node20',
    sourcemap: 'linked',
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
  });
  const externalImports = checkLibrary(result.metafile, await devDependencyNames());
  emitDeclarations(path.join(outDir, 'types'));
  return { ...(await report(outDir)), externalImports };
}

/** Fails when tooling is bundled or a forbidden package is imported; returns the packages imported. */
function checkLibrary(metafile: Metafile, devDependencies: Set<string>): string[] {
  const bundledTooling = Object.keys(metafile.inputs).filter((input) => forbiddenFolders.some((folder) => input.startsWith(folder)));
  const imported = new Set(
    Object.values(metafile.outputs).flatMap((output) =>
      output.imports.filter((entry) => entry.external && !entry.path.startsWith('node:')).map((entry) => packageName(entry.path)),
    ),
  );
  const forbidden = [...imported].filter((name) => forbiddenPackages.includes(name) || devDependencies.has(name));
  if (bundledTooling.length > 0 || forbidden.length > 0) {
    throw new Error(
      `the library entry ${libraryEntry} must reach nothing of the app's tooling or the Functions runtime, but it reaches:\n  ` +
        [...bundledTooling, ...forbidden.map((name) => `package ${name}`)].join('\n  '),
    );
  }
  return [...imported].sort();
}

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

async function devDependencyNames(): Promise<Set<string>> {
  const root = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  return new Set(Object.keys(root.devDependencies ?? {}));
}

/**
 * Declarations for the entry and every module it reaches, with the project's compiler settings: `tsc` rather
 * than esbuild, which strips types without emitting any.
 */
function emitDeclarations(typesDir: string): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const args = [tsc, '--project', path.join(projectRoot, 'scripts', 'tsconfig.library.json'), '--outDir', typesDir];
  const child = spawnSync(process.execPath, args, { cwd: projectRoot, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`tsc could not emit the library's declarations:\n${child.stdout}${child.stderr}`);
}

async function report(outDir: string): Promise<Omit<LibraryReport, 'externalImports'>> {
  return { outDir, ...(await listOutputFiles(outDir)) };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await buildLibrary();
  const kilobytes = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
  const module = built.files.find((file) => file.file === 'repositories.js');
  const types = built.files.filter((file) => file.file.startsWith('types/')).reduce((sum, file) => sum + file.bytes, 0);
  console.log(
    `Library nostria-migrate/repositories: ${path.relative(projectRoot, built.outDir)} ` +
      `(repositories.js ${kilobytes(module?.bytes ?? 0)}, ` +
      `declarations ${kilobytes(types)}, ${built.files.length} files, ${kilobytes(built.totalBytes)} in all); imports ` +
      built.externalImports.join(', '),
  );
}
