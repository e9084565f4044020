import { startServiceWriter, type WrittenLine } from '../dev/service-writer/writer.js';
import type { AppContext } from '../shared/context/app-context.js';
import { documentHash } from '../shared/domain/document-hash.js';
import type { DocumentType } from '../shared/domain/document-types.js';
import { rowToDocument } from '../shared/domain/mapping.js';
import type { SwitchTarget } from '../shared/domain/phase.js';
import { readRow } from '../shared/postgres/prisma-repository.js';
import RepositoryFactory from '../shared/repositories/repository-factory.js';
import { formatCount } from '../shared/stats/type-labels.js';
import { syncModeOf } from '../shared/switch/drain.js';
import { runSwitch, type SwitchResult } from '../shared/switch/run-switch.js';
import { runSync } from '../shared/sync/sync-runner.js';
import type { CommandIO } from './core/command.js';
import { interruptionOf } from './core/interrupt.js';

/** Writes per second each of the demo's two service instances makes through RepositoryFactory. */
const writesPerSecond = 25;

/**
 * The switch, live: two service instances write through `RepositoryFactory` (creates, replaces and deletes of
 * payments, and accounts both of them write) while the sync runner follows the change feed as the Functions app
 * would; `migrate:switch` makes PostgreSQL primary, then Cosmos again. Afterwards every acknowledged write is
 * looked up in both databases. Returns the two switches' results.
 */
export async function demoSwitch(io: CommandIO, services: AppContext): Promise<SwitchResult[]> {
  io.result(
    `\nThe switch, under live traffic: two service instances write through RepositoryFactory (${writesPerSecond * 2} writes/s) ` +
      'while the sync follows the change feed; `npm run migrate:switch -- --to postgresql`, then `-- --to cosmos`...',
  );
  const follow = new AbortController();
  const onInterrupt = () => follow.abort(io.signal.reason);
  io.signal.addEventListener('abort', onInterrupt, { once: true });
  const following = runSync(services, { mode: await syncModeOf(services), pollIntervalMs: 200, signal: follow.signal }).catch(
    (error: unknown) => error,
  );
  const acknowledged: WrittenLine[] = [];
  const writers = ['instance-a', 'instance-b'].map((name, index) =>
    startServiceWriter(RepositoryFactory.getRepositories(), {
      name,
      rate: writesPerSecond,
      seed: index + 1,
      onWrite: (line) => {
        if (line.op !== 'retry' && line.op !== 'failed') acknowledged.push(line);
      },
    }),
  );
  const results: SwitchResult[] = [];
  try {
    for (const target of ['postgresql', 'cosmos'] as const satisfies SwitchTarget[]) {
      await pause(1500, io.signal);
      const result = await runSwitch(services, {
        target,
        signal: io.signal,
        onStep: (event) => {
          if (event.step === 'fenced' || event.step === 'drained' || event.step === 'flipped') io.result(`  ${target}: ${event.step}`);
        },
      });
      results.push(result);
      io.result(describeSwitch(result));
      if (result.outcome !== 'completed') break;
    }
    await pause(1000, io.signal);
  } finally {
    const totals = await Promise.all(writers.map((writer) => writer.stop()));
    follow.abort(new Error('the demo is done switching'));
    io.signal.removeEventListener('abort', onInterrupt);
    await following;
    const held = acknowledged.reduce((longest, line) => Math.max(longest, line.latencyMs ?? 0), 0);
    io.result(
      `  ${formatCount(totals.reduce((sum, total) => sum + total.acknowledged, 0))} writes acknowledged, ` +
        `${formatCount(totals.reduce((sum, total) => sum + total.retried, 0))} asked again after a switch held them too long; ` +
        `the longest write took ${formatCount(held)} ms`,
    );
  }
  if (io.signal.aborted) throw interruptionOf(io.signal);
  await runSync(services, { mode: await syncModeOf(services), once: true });
  io.result(`  ${await describeFound(services, acknowledged)}`);
  return results;
}

function describeSwitch(result: SwitchResult): string {
  if (result.outcome !== 'completed') {
    const failed = result.readiness?.checks.filter((check) => !check.passed) ?? [];
    return `  Not switched (${result.outcome}): ${failed.map((check) => `${check.name}: ${check.figure}`).join('; ')}`;
  }
  return `  Switched ${result.phaseBefore} -> ${result.phaseAfter}: writes held ${formatCount(result.pauseMs ?? 0)} ms`;
}

/** Whether each document's last acknowledged write is what both databases hold now. */
async function describeFound(services: AppContext, acknowledged: readonly WrittenLine[]): Promise<string> {
  const last = new Map<string, WrittenLine>();
  for (const line of acknowledged) if (!line.shared) last.set(`${line.pubkey}/${line.id}`, line);
  let found = 0;
  for (const line of last.values()) {
    const expected = line.op === 'delete' ? undefined : line.hash;
    const type = line.type as DocumentType;
    const [{ resource }, row] = await Promise.all([
      services.cosmos.item(line.id as string, line.pubkey as string).read<Record<string, unknown>>(),
      readRow(services.prisma, type, line.id as string, line.pubkey as string),
    ]);
    const inCosmos = resource ? documentHash(resource) : undefined;
    const inPostgres = row ? documentHash(rowToDocument(type, row)) : undefined;
    if (inCosmos === expected && inPostgres === expected) found += 1;
  }
  const documents = formatCount(last.size);
  return found === last.size
    ? `The last acknowledged write of each of the ${documents} payments the instances wrote is what both databases hold.`
    : `Only ${formatCount(found)} of the ${documents} documents written hold their last acknowledged write in both databases.`;
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  if (signal.aborted) throw interruptionOf(signal);
}
