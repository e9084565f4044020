import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the tests that need no service at all, so there is no global setup (no PostgreSQL
 * server, no template database) and nothing to configure. A test under test/unit that reached for a
 * service would fail here: `inject('postgresAdminUrl')` has nothing to give. `npm test` runs these too,
 * with everything else (vitest.config.ts).
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
  },
});
