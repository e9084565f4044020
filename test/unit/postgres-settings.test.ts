import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/env.js';
import { ConfigError } from '../../shared/core/errors.js';
import { createPrismaClient, defaultPostgresTimeouts, timeoutsOf } from '../../shared/postgres/prisma-client.js';

/** The settings that bound how long PostgreSQL may take (issue 9, "outages end cleanly"), read and handed to the client. */

describe('PostgreSQL time limits', () => {
  it('reads each DATABASE_*_SECONDS setting and DELETE_RETENTION_DAYS, in milliseconds and days', () => {
    const config = loadConfig({
      DATABASE_RETRY_WINDOW_SECONDS: '90',
      DATABASE_STATEMENT_TIMEOUT_SECONDS: '30',
      DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: '20',
      DATABASE_QUERY_TIMEOUT_SECONDS: '45',
      DATABASE_CONNECT_TIMEOUT_SECONDS: '5',
      DATABASE_KEEPALIVE_SECONDS: '3',
      DELETE_RETENTION_DAYS: '14',
    });
    expect(config.postgresTimeouts).toEqual({
      retryWindowMs: 90_000,
      statementTimeoutMs: 30_000,
      idleInTransactionTimeoutMs: 20_000,
      queryTimeoutMs: 45_000,
      connectTimeoutMs: 5_000,
      keepAliveInitialDelayMs: 3_000,
    });
    expect(config.deleteRetentionDays).toBe(14);
  });

  it('refuses a query timeout that would not leave the statement timeout time to cancel first, naming both', () => {
    const load = () => loadConfig({ DATABASE_STATEMENT_TIMEOUT_SECONDS: '60', DATABASE_QUERY_TIMEOUT_SECONDS: '60' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      /DATABASE_QUERY_TIMEOUT_SECONDS.*DATABASE_STATEMENT_TIMEOUT_SECONDS|DATABASE_STATEMENT_TIMEOUT_SECONDS.*DATABASE_QUERY_TIMEOUT_SECONDS/s,
    );
  });

  it('refuses a value that is not a whole number of seconds, naming the setting', () => {
    expect(() => loadConfig({ DATABASE_RETRY_WINDOW_SECONDS: '1.5' })).toThrow(/DATABASE_RETRY_WINDOW_SECONDS/);
    expect(() => loadConfig({ DELETE_RETENTION_DAYS: '0' })).toThrow(/DELETE_RETENTION_DAYS/);
  });

  it('keeps the limits a client was created with, for the write path to read; the defaults for any other client', async () => {
    const limits = { ...defaultPostgresTimeouts, retryWindowMs: 1_234 };
    const configured = createPrismaClient('postgresql://nobody@127.0.0.1:1/none', 1, undefined, limits);
    const plain = createPrismaClient('postgresql://nobody@127.0.0.1:1/none', 1);
    try {
      expect(timeoutsOf(configured).retryWindowMs).toBe(1_234);
      expect(timeoutsOf(plain)).toEqual(defaultPostgresTimeouts);
    } finally {
      await Promise.all([configured.$disconnect(), plain.$disconnect()]);
    }
  });
});
