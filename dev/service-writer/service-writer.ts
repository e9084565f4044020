import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import RepositoryFactory from '../../shared/repositories/repository-factory.js';
import { startServiceWriter } from './writer.js';

/**
 * A service instance as a process (`writer.ts` says what it writes): the settings are the service's own
 * (DATABASE_URL, AZURE_COSMOSDB_*, DUAL_DATABASE_MODE...), read by `RepositoryFactory`. Every acknowledged write
 * is a JSON line on stdout; it runs until stdin closes or SIGTERM, then prints `{"op":"done",...totals}`.
 *
 *   node --import tsx dev/service-writer/service-writer.ts --name a --rate 50 [--seed 1] [--shared 3]
 */

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'writer' },
    rate: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    shared: { type: 'string', default: '3' },
  },
});

const writer = startServiceWriter(RepositoryFactory.getRepositories(), {
  name: values.name,
  rate: Number(values.rate),
  seed: Number(values.seed),
  shared: Number(values.shared),
  onWrite: (line) => process.stdout.write(`${JSON.stringify(line)}\n`),
});

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const totals = await writer.stop();
  process.stdout.write(`${JSON.stringify({ op: 'done', writer: values.name, ...totals })}\n`);
  await RepositoryFactory.disconnect();
  process.exit(0);
}

process.on('SIGTERM', () => void stop());
createInterface({ input: process.stdin }).on('close', () => void stop());
