#!/usr/bin/env node
// Generates the Prisma client into shared/postgres/generated/prisma (git-ignored). Runs as `postinstall`,
// as `pretest` (npm may skip the root postinstall, e.g. with --ignore-scripts) and as `npm run prisma:generate`.
//
// `prisma generate` needs no schema engine, yet the CLI tries to download one first, which fails offline.
// Pointing PRISMA_SCHEMA_ENGINE_BINARY at a binary that exits at once skips the download; a value the user
// set is kept.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);

// Installed as a dependency (the packed `nostria-migrate/repositories` entry): the client is already built into
// dist/lib, and there is no schema here to generate from.
if (!existsSync(path.join(projectRoot, 'prisma', 'schema.prisma'))) process.exit(0);

let prismaCli;
try {
  prismaCli = path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'index.js');
} catch {
  // A production install (`npm ci --omit=dev`) has no Prisma CLI; its client was generated at build time.
  console.warn('prisma-generate: the prisma CLI is not installed (dev dependency); skipping client generation');
  process.exit(0);
}

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY && process.platform !== 'win32') env.PRISMA_SCHEMA_ENGINE_BINARY = '/bin/false';

const result = spawnSync(process.execPath, [prismaCli, 'generate'], { cwd: projectRoot, env, stdio: 'inherit' });
if (result.error) {
  console.error(`prisma-generate: could not run prisma generate: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
