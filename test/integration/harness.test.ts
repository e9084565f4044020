import type { ErrorResponse } from '@azure/cosmos';
import { QueueClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AzuriteTestServer, startAzurite } from '../support/azurite.js';
import { type CosmosTestServer, createTestContainer, startCosmosServer } from '../support/cosmos.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('PostgreSQL test database', () => {
  let db: TestDatabase;
  let other: TestDatabase;
  beforeAll(async () => {
    [db, other] = await Promise.all([createTestDatabase(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([db?.drop(), other?.drop()]);
  });

  it('is a fresh database with the migrated tables, reachable through pg and Prisma', async () => {
    const { rows } = await db.pool.query<{ name: string }>('SELECT current_database() AS name');
    expect(db.url).toContain(`/${rows[0]?.name}`);
    expect(await db.prisma.account.count()).toBe(0);
    const migrations = await db.pool.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL');
    expect(migrations.rowCount).toBeGreaterThan(0);
  });

  it('is isolated from the database another caller got', async () => {
    await db.pool.query('CREATE TABLE harness_probe (n integer)');
    const elsewhere = await other.pool.query<{ found: string | null }>("SELECT to_regclass('harness_probe')::text AS found");
    expect(elsewhere.rows[0]?.found).toBeNull();
  });
});

describe('Cosmos stand-in over TLS', () => {
  let cosmos: CosmosTestServer;
  beforeAll(async () => {
    cosmos = await startCosmosServer();
  });
  afterAll(() => cosmos?.stop());

  it('creates and reads an item, and answers 409 to a duplicate create', async () => {
    const container = await createTestContainer(cosmos.client);
    const item = { id: 'doc-1', pubkey: 'pk-1', type: 'probe', value: 42 };
    const created = await container.items.create(item);
    expect(created.statusCode).toBe(201);

    const { resource } = await container.item('doc-1', 'pk-1').read<typeof item>();
    expect(resource).toMatchObject(item);
    expect(typeof resource?._etag).toBe('string');

    const duplicate = await container.items.create(item).then(
      () => undefined,
      (error: unknown) => error as ErrorResponse,
    );
    expect(duplicate?.code).toBe(409);
  });

  it('is not trusted by a client without the throwaway CA', async () => {
    const response = await fetch(cosmos.endpoint).then(
      () => 'connected',
      (error: unknown) => {
        const failure = error as Error & { cause?: { code?: string } };
        return failure.cause?.code ?? failure.message;
      },
    );
    expect(response).toMatch(/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/);
  });
});

describe('Azurite queue service', () => {
  let azurite: AzuriteTestServer;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(() => azurite?.stop());

  it('sends a message and receives it back with a dequeue count', async () => {
    const queue = new QueueClient(azurite.connectionString, 'harness-probe');
    await queue.create();
    await queue.sendMessage('hello');
    const received = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 30 });
    expect(received.receivedMessageItems).toHaveLength(1);
    expect(received.receivedMessageItems[0]?.messageText).toBe('hello');
    expect(received.receivedMessageItems[0]?.dequeueCount).toBe(1);
  });
});
