import { MemorySampler } from './memory-sampler.js';
import { type VariantMeasurement, type VariantName, variants } from './variants/index.js';

/**
 * Runs one benchmark variant in this (fresh) process and prints its measurement as one JSON line, so
 * its peak memory is its own. Started by `bench/run.ts`:
 * `node --import tsx bench/variant-process.ts <variant> <documents> <batchSize> <connections> <timed|memory>`,
 * with the database in BENCH_VARIANT_DATABASE_URL (kept out of the process list, since it may carry a password).
 */

const [name, documents, batchSize, connections, purpose] = process.argv.slice(2);
const run = name && Object.hasOwn(variants, name) ? variants[name as VariantName] : undefined;
if (!run || !documents || !batchSize || !connections || (purpose !== 'timed' && purpose !== 'memory')) {
  console.error(
    'usage: variant-process.ts <variant> <documents> <batchSize> <connections> <timed|memory> (database in BENCH_VARIANT_DATABASE_URL)',
  );
  process.exit(2);
}
// A memory run reads the live heap every 10 batches; a timed run forces no collection while its clock runs.
const sampler = new MemorySampler(purpose === 'memory' ? 10 : undefined);
const output = await run({
  documents: Number(documents),
  batchSize: Number(batchSize),
  databaseUrl: process.env.BENCH_VARIANT_DATABASE_URL ?? '',
  sampler,
  connections: Number(connections),
});
const peak = sampler.stop();
const measurement: VariantMeasurement = { variant: name as VariantName, ...output, ...peak };
process.stdout.write(`${JSON.stringify(measurement)}\n`);
