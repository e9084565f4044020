import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SwitchInProgressError } from '../../shared/core/errors.js';
import { documentHash } from '../../shared/domain/document-hash.js';
import type { AccountDocument, PaymentDocument } from '../../shared/domain/document-types.js';
import RepositoryFactory from '../../shared/repositories/repository-factory.js';
import { SeededRandom } from '../sample-data/seeded-random.js';

/**
 * A Nostria service instance in miniature, for the switch's tests and benchmark: it writes through
 * `RepositoryFactory`, as the service does, at a steady rate: a write falls due every 1/rate seconds whether or
 * not the ones before it have returned (as requests arrive at a service), and the instance performs them in
 * order, one at a time, so its own documents' writes keep their order. Every acknowledged write is printed as a
 * JSON line on stdout: what was written (its content hash, or a delete), when it fell due and when it returned,
 * so `latencyMs` includes any wait behind a write held by a switch. It runs until stdin closes or SIGTERM, then
 * finishes the writes that fell due and prints `done`.
 *
 *   node --import tsx dev/service-writer/service-writer.ts --name a --rate 60 [--seed 1] [--shared 3]
 *
 * Writes: creates of its own payments, replaces and deletes of them, and replaces of a few accounts every
 * instance writes (`--shared`, the same pubkeys in all of them). A write held by a switch for longer than its
 * wait fails with `SwitchInProgressError` (nothing written): printed as `retry`, and asked again.
 */

const { values } = parseArgs({
  options: {
    name: { type: 'string' },
    rate: { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    shared: { type: 'string', default: '3' },
  },
});
const name = values.name ?? 'writer';
const intervalMs = 1000 / Math.max(1, Number(values.rate));
const rng = new SeededRandom(Number(values.seed));
const sharedPubkeys = Array.from(
  { length: Number(values.shared) },
  (_, index) => `${'5'.repeat(60)}${index.toString(16).padStart(4, '0')}`,
);
const ownPubkey = (index: number) =>
  `${'7'.repeat(56)}${Buffer.from(name).toString('hex').slice(0, 4).padStart(4, '0')}${index.toString(16).padStart(4, '0')}`;

const repositories = RepositoryFactory.getRepositories();
const own: PaymentDocument[] = [];
let issued = 0;
let stopping = false;
const underWay = new Set<Promise<void>>();
const counts = { acknowledged: 0, retried: 0, failed: 0 };

function print(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function payment(n: number): PaymentDocument {
  const created = Date.now();
  return {
    id: `${name}-payment-${n}`,
    type: 'payment',
    pubkey: ownPubkey(n % 5),
    paymentType: 'ln',
    lnHash: `hash-${name}-${n}`,
    lnInvoice: `lnbc${n}`,
    lnAmountSat: 21_000,
    tier: 'premium',
    billingCycle: 'monthly',
    priceCents: 999,
    isPaid: false,
    expires: created + 30 * 86_400_000,
    created,
    modified: created,
  };
}

function account(pubkey: string, n: number): AccountDocument {
  return {
    id: `account-${pubkey}`,
    type: 'account',
    pubkey,
    username: `${name}-${n}`,
    tier: 'premium',
    subscription: { tier: 'premium' },
    created: 1_700_000_000_000,
    modified: Date.now(),
  };
}

/** One write, picked by the seeded mix; the document it concerns and what it did. */
async function writeOnce(n: number): Promise<Record<string, unknown>> {
  const roll = rng.next();
  if (roll < 0.4 || own.length === 0) {
    const written = await repositories.payment.create(payment(n));
    own.push(written);
    return { op: 'create', type: 'payment', id: written.id, pubkey: written.pubkey, hash: documentHash(written) };
  }
  if (roll < 0.65) {
    const at = rng.int(0, own.length - 1);
    const current = own[at] as PaymentDocument;
    const written = await repositories.payment.update({ ...current, isPaid: !current.isPaid, modified: Date.now() });
    own[at] = written;
    return { op: 'update', type: 'payment', id: written.id, pubkey: written.pubkey, hash: documentHash(written) };
  }
  if (roll < 0.75) {
    const [gone] = own.splice(rng.int(0, own.length - 1), 1) as [PaymentDocument];
    await repositories.payment.delete(gone.id, gone.pubkey);
    return { op: 'delete', type: 'payment', id: gone.id, pubkey: gone.pubkey };
  }
  const pubkey = sharedPubkeys[rng.int(0, sharedPubkeys.length - 1)] as string;
  const written = await repositories.account.upsert(account(pubkey, n));
  return { op: 'upsert', type: 'account', id: written.id, pubkey, hash: documentHash(written), shared: true };
}

async function write(n: number, dueAt: number): Promise<void> {
  for (;;) {
    try {
      const done = await writeOnce(n);
      counts.acknowledged += 1;
      print({ ...done, writer: name, n, dueAt, ackAt: Date.now(), latencyMs: Date.now() - dueAt });
      return;
    } catch (error) {
      if (!(error instanceof SwitchInProgressError)) {
        counts.failed += 1;
        print({ op: 'failed', writer: name, n, error: error instanceof Error ? error.message : String(error) });
        return;
      }
      counts.retried += 1;
      print({ op: 'retry', writer: name, n, waitedMs: error.fields.waitedMs });
    }
  }
}

function tick(): void {
  if (stopping) return;
  const n = issued;
  const dueAt = Date.now();
  issued += 1;
  const previous = [...underWay].at(-1) ?? Promise.resolve();
  const next = previous.then(() => write(n, dueAt));
  underWay.add(next);
  void next.finally(() => underWay.delete(next));
  setTimeout(tick, intervalMs);
}

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all([...underWay]);
  print({ op: 'done', writer: name, issued, ...counts });
  await RepositoryFactory.disconnect();
  process.exit(0);
}

process.on('SIGTERM', () => void stop());
createInterface({ input: process.stdin }).on('close', () => void stop());
tick();
