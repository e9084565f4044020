import { SwitchInProgressError } from '../../shared/core/errors.js';
import { documentHash } from '../../shared/domain/document-hash.js';
import type { AccountDocument, PaymentDocument } from '../../shared/domain/document-types.js';
import type { Repositories } from '../../shared/domain/repository-contract.js';
import { SeededRandom } from '../sample-data/seeded-random.js';

/**
 * What a Nostria service instance writes, in miniature, for the switch's demo, tests and benchmark: through the
 * repositories `RepositoryFactory` gives, at a steady rate: a write falls due every 1/rate seconds whether or not
 * the ones before it have returned (as requests arrive at a service), and they are performed in order, one at a
 * time, so the instance's own documents keep their order. Each acknowledged write is reported: what was written
 * (its content hash, or a delete), how long the call took (`latencyMs`: a write a switch holds waits inside the
 * call) and how long it waited for the writes before it (`queuedMs`).
 *
 * The writes: creates of the instance's own payments, replaces and deletes of them, and replaces of a few accounts
 * every instance writes (`shared`, the same pubkeys in all of them). A write a switch held for longer than its
 * wait fails with `SwitchInProgressError` (nothing written): reported as `retry`, and asked again.
 */

export interface WrittenLine {
  op: 'create' | 'update' | 'delete' | 'upsert' | 'retry' | 'failed';
  writer: string;
  n: number;
  type?: 'payment' | 'account';
  id?: string;
  pubkey?: string;
  /** `documentHash` of what was written (absent for a delete). */
  hash?: string;
  /** Written to a document every instance writes. */
  shared?: boolean;
  dueAt?: number;
  ackAt?: number;
  /** From the call to its return. */
  latencyMs?: number;
  /** From falling due to the call: the wait behind the instance's earlier writes. */
  queuedMs?: number;
  waitedMs?: number;
  error?: string;
}

export interface WriterOptions {
  name: string;
  /** Writes per second. */
  rate: number;
  seed?: number;
  /** Accounts every instance writes (default 3). */
  shared?: number;
  onWrite: (line: WrittenLine) => void;
}

export interface WriterTotals {
  issued: number;
  acknowledged: number;
  retried: number;
  failed: number;
}

export interface ServiceWriter {
  /** Stops issuing, finishes the writes that fell due, and returns the totals. */
  stop(): Promise<WriterTotals>;
}

export function startServiceWriter(repositories: Repositories, options: WriterOptions): ServiceWriter {
  const { name, onWrite } = options;
  const rng = new SeededRandom(options.seed ?? 1);
  const intervalMs = 1000 / Math.max(1, options.rate);
  const sharedPubkeys = Array.from(
    { length: options.shared ?? 3 },
    (_, index) => `${'5'.repeat(60)}${index.toString(16).padStart(4, '0')}`,
  );
  const tag = Buffer.from(name).toString('hex').slice(0, 4).padStart(4, '0');
  const own: PaymentDocument[] = [];
  const totals: WriterTotals = { issued: 0, acknowledged: 0, retried: 0, failed: 0 };
  let stopped = false;
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const payment = (n: number): PaymentDocument => {
    const created = Date.now();
    return {
      id: `${name}-payment-${n}`,
      type: 'payment',
      pubkey: `${'7'.repeat(56)}${tag}${(n % 5).toString(16).padStart(4, '0')}`,
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
  };

  const account = (pubkey: string, n: number): AccountDocument => ({
    id: `account-${pubkey}`,
    type: 'account',
    pubkey,
    username: `${name}-${n}`,
    tier: 'premium',
    subscription: { tier: 'premium' },
    created: 1_700_000_000_000,
    modified: Date.now(),
  });

  const writeOnce = async (n: number): Promise<Omit<WrittenLine, 'writer' | 'n'>> => {
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
  };

  const write = async (n: number, dueAt: number): Promise<void> => {
    for (;;) {
      const calledAt = Date.now();
      try {
        const done = await writeOnce(n);
        totals.acknowledged += 1;
        const ackAt = Date.now();
        onWrite({ ...done, writer: name, n, dueAt, ackAt, latencyMs: ackAt - calledAt, queuedMs: calledAt - dueAt });
        return;
      } catch (error) {
        if (!(error instanceof SwitchInProgressError)) {
          totals.failed += 1;
          onWrite({ op: 'failed', writer: name, n, error: error instanceof Error ? error.message : String(error) });
          return;
        }
        totals.retried += 1;
        onWrite({ op: 'retry', writer: name, n, waitedMs: error.fields.waitedMs });
      }
    }
  };

  const tick = () => {
    if (stopped) return;
    const n = totals.issued;
    const dueAt = Date.now();
    totals.issued += 1;
    chain = chain.then(() => write(n, dueAt));
    timer = setTimeout(tick, intervalMs);
  };
  tick();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await chain;
      return { ...totals };
    },
  };
}
