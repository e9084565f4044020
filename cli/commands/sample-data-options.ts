import { valued, wholeNumber } from '../core/options.js';

/** The options of the commands that generate sample data (demo, local), declared once. */
export const sampleDataOptions = {
  users: valued(
    '<n>',
    'Users to generate (default 10000, about 88,000 documents; the Cosmos double reads a page in time proportional to ' +
      'the page, not the container).',
    wholeNumber(1, 1_000_000),
  ),
  seed: valued('<n>', 'Seed of the generated data (default 1): same seed, same documents.', wholeNumber(0, 2 ** 32 - 1)),
};

/** Defaults of the sample data options. */
export const sampleDataDefaults = { users: 10_000, seed: 1 } as const;

/** Said in the help of every command that starts the local services. */
export const localServicesNote =
  'It starts its own databases and never reads DATABASE_URL or any Cosmos setting, so no configured database is touched.';
