import { randomBytes, randomUUID } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResponseRecord } from '../../dev/cosmos-double/index.js';
import { createCosmosRepositories } from '../../shared/cosmos/cosmos-repository.js';
import type { ServiceRepositories } from '../../shared/domain/service-repositories.js';
import { createServiceRepositories } from '../../shared/repositories/service/service-repositories.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';

/**
 * What the service's repositories ask Cosmos for, seen from the Cosmos double's side of the wire: a method that
 * knows the user reads that user's partition only (point reads, or queries naming the partition key, which the
 * gateway routes to the one physical partition holding it), and only the methods that span every user fan out
 * to every partition key range. (The SDK asks the gateway for a query plan either way; that reads no documents.)
 */

let cosmos: CosmosTestServer;
let container: Container;
let service: ServiceRepositories;
const requests: ResponseRecord[] = [];

beforeAll(async () => {
  cosmos = await startCosmosServer({ onResponse: (record) => requests.push(record) });
  container = await createTestContainer(cosmos.client);
  service = createServiceRepositories(createCosmosRepositories(container));
});
afterAll(() => cosmos?.stop());

const newPubkey = () => randomBytes(32).toString('hex');

/** The document requests `call` makes (container metadata and routing lookups aside). */
async function requestsOf(call: () => Promise<unknown>): Promise<ResponseRecord[]> {
  const from = requests.length;
  await call();
  return requests.slice(from).filter((record) => !['metadata', 'partitionKeyRanges'].includes(record.operation));
}

async function userWithData(): Promise<{ pubkey: string; deviceKey: string; jobId: string }> {
  const pubkey = newPubkey();
  const deviceKey = `BP${randomBytes(4).toString('hex')}`;
  const jobId = randomUUID();
  await service.account.create({ pubkey, username: `u-${pubkey.slice(0, 6)}`, tier: 'premium', subscription: {}, created: 1 });
  await service.backupJob.createBackupJob({ id: jobId, pubkey, status: 'pending', backupType: 'full', requested: 1 });
  await service.notificationSubscription.createSubscription(pubkey, {
    endpoint: 'https://push.example/1',
    keys: { p256dh: deviceKey, auth: 'a' },
  });
  await service.notificationLog.logNotification(pubkey, { title: 'hi' });
  await service.userSettings.upsertUserSettings(pubkey, {});
  return { pubkey, deviceKey, jobId };
}

describe("methods that know the user stay in the user's partition", () => {
  it('reads by pubkey are point reads of the usual id', async () => {
    const { pubkey, jobId } = await userWithData();
    for (const call of [
      () => service.account.getByPubkey(pubkey),
      () => service.account.hasPremiumSubscription(pubkey),
      () => service.userSettings.getUserSettings(pubkey),
      () => service.backupJob.getBackupJob(jobId, pubkey),
    ]) {
      const seen = await requestsOf(call);
      expect(seen.map(({ operation }) => operation)).toEqual(['read']);
      expect(seen[0]?.partitionKey).toBe(JSON.stringify([pubkey]));
    }
  });

  it('queries of one user name its partition, and no partition key range is visited on its own', async () => {
    const { pubkey, deviceKey } = await userWithData();
    const calls = [
      () => service.backupJob.getUserBackupJobs(pubkey),
      () => service.notificationLog.get24HourNotificationCount(pubkey),
      () => service.notificationLog.getUserNotificationHistory(pubkey, 10),
      () => service.notificationSubscription.getUserSubscriptions(pubkey),
      () => service.notificationSubscription.getSubscriptionByDeviceKey(pubkey, deviceKey),
      () => service.notificationSubscription.deleteSubscription(pubkey, deviceKey),
      () => service.notificationSettings.getSettings(pubkey),
      () => service.account.deleteAccount(pubkey),
    ];
    for (const call of calls) {
      const seen = (await requestsOf(call)).filter(({ operation }) => operation !== 'queryPlan');
      expect(seen.map(({ operation }) => operation)).toContain('query');
      for (const record of seen) {
        expect(record.partitionKey, record.operation).toBe(JSON.stringify([pubkey]));
        expect(record.rangeId, record.operation).toBeUndefined();
      }
    }
  });
});

describe('methods across users fan out', () => {
  it('visit every partition key range', async () => {
    await userWithData();
    for (const call of [
      () => service.account.getAllAccounts(5),
      () => service.account.isUsernameTaken('someone'),
      () => service.backupJob.getPendingBackupJobs(5),
      () => service.notificationSubscription.getAllUserPubkeys(),
    ]) {
      const queries = (await requestsOf(call)).filter(({ operation }) => operation === 'query');
      expect(queries.filter(({ partitionKey }) => partitionKey !== undefined)).toEqual([]);
      const visited = new Set(queries.flatMap(({ rangeId }) => (rangeId === undefined ? [] : [rangeId])));
      expect([...visited].sort()).toEqual(
        cosmos
          .ranges(container.database.id, container.id)
          .map(({ id }) => id)
          .sort(),
      );
    }
  });
});
