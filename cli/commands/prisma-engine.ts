import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Whether `prisma migrate deploy` can run here, found out without running it. Prisma's CLI needs its
 * native schema engine: a `schema-engine-<platform>` file that @prisma/engines' install script downloads
 * into its package folder, or a file named by PRISMA_SCHEMA_ENGINE_BINARY. Where neither exists (npm 11
 * skips install scripts; offline machines cannot download it), the CLI would spend seconds trying to
 * download it before failing, so db:migrate goes straight to its own applier.
 */
export type SchemaEngine = { available: true; cli: string } | { available: false; reason: string };

const require = createRequire(import.meta.url);

export function findSchemaEngine(env: Record<string, string | undefined>): SchemaEngine {
  let cli: string;
  let enginesDir: string;
  try {
    const prismaPackage = require.resolve('prisma/package.json');
    cli = path.join(path.dirname(prismaPackage), 'build', 'index.js');
    enginesDir = path.dirname(createRequire(prismaPackage).resolve('@prisma/engines/package.json'));
  } catch {
    return { available: false, reason: 'the prisma package is not installed' };
  }
  for (const setting of ['PRISMA_SCHEMA_ENGINE_BINARY', 'PRISMA_MIGRATION_ENGINE_BINARY']) {
    const named = env[setting]?.trim();
    if (named) return existsSync(path.resolve(named)) ? { available: true, cli } : { available: false, reason: `${setting} names no file` };
  }
  const engines = readdirSync(enginesDir).filter((name) => name.startsWith('schema-engine-'));
  return engines.length > 0 ? { available: true, cli } : { available: false, reason: 'its schema engine was never downloaded' };
}
