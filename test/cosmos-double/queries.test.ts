import { randomBytes } from 'node:crypto';
import type { Container, SqlQuerySpec } from '@azure/cosmos';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CosmosDouble, type ResponseRecord, startCosmosDouble } from '../../dev/cosmos-double/index.js';

/**
 * Queries through the real SDK. Cited: "Query an Azure Cosmos DB container" (learn.microsoft.com/
 * azure/cosmos-db/nosql/how-to-query-container: in-partition vs cross-partition queries, which the
 * SDK fans out per partition key range), "Pagination in Azure Cosmos DB for NoSQL" (…/nosql/query/
 * pagination: continuation tokens), and the query language reference (…/nosql/query/: SELECT, WHERE,
 * IN, logical and comparison operators, ORDER BY, TOP, COUNT, IS_DEFINED, ARRAY_CONTAINS, LOWER,
 * STRINGEQUALS).
 */

interface Doc {
  id: string;
  pubkey: string;
  type?: string;
  name?: string;
  created: number;
  tags?: string[];
  _ts?: number;
}

let double: CosmosDouble;
let container: Container;
const responses: ResponseRecord[] = [];
const types = ['account', 'notification', 'payment', undefined];
const documents: Doc[] = Array.from({ length: 90 }, (_, index) => {
  const document: Doc = {
    id: `doc-${index}`,
    pubkey: `npub-${index % 17}`,
    created: 1_000 + ((index * 37) % 90),
    name: index % 3 === 0 ? `Name${index}` : `name${index}`,
  };
  const type = types[index % types.length];
  if (type !== undefined) document.type = type;
  if (index % 5 === 0) document.tags = ['red', `t${index}`];
  return document;
});

beforeAll(async () => {
  double = await startCosmosDouble({ onResponse: (record) => responses.push(record) });
  const suffix = randomBytes(4).toString('hex');
  const { database } = await double.client.databases.createIfNotExists({ id: `db-${suffix}` });
  ({ container } = await database.containers.create({ id: `c-${suffix}`, partitionKey: { paths: ['/pubkey'] } }));
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the project loads with items.bulk (dev/local-services/load-documents.ts)
  await container.items.bulk(documents.map((resourceBody) => ({ operationType: 'Create' as const, resourceBody: { ...resourceBody } })));
});

afterAll(async () => {
  await double.stop();
});

async function run<T = Doc>(query: string | SqlQuerySpec, partitionKey?: string): Promise<T[]> {
  const { resources } = await container.items.query<T>(query, partitionKey === undefined ? {} : { partitionKey }).fetchAll();
  return resources;
}

const ids = (rows: { id: string }[]) => rows.map(({ id }) => id).sort();
const expectedIds = (keep: (document: Doc) => boolean) =>
  documents
    .filter(keep)
    .map(({ id }) => id)
    .sort();

describe('cross-partition queries (the SDK fans out per partition key range)', () => {
  it('returns every document exactly once across the four ranges, page by page', async () => {
    const since = responses.length;
    const iterator = container.items.query<Doc>('SELECT * FROM c', { maxItemCount: 7 });
    const seen: string[] = [];
    while (iterator.hasMoreResults()) {
      const page = await iterator.fetchNext();
      expect(page.resources.length).toBeLessThanOrEqual(7);
      seen.push(...page.resources.map(({ id }) => id));
    }
    expect(seen).toHaveLength(documents.length);
    expect(seen.sort()).toEqual(expectedIds(() => true));
    const rangeIds = responses.slice(since).filter((record) => record.operation === 'query' && record.rangeId !== undefined);
    expect(new Set(rangeIds.map((record) => record.rangeId)).size).toBe(4);
  });

  // Resuming a cross-partition query in a new iterator needs enableQueryControl in @azure/cosmos 4.x.
  for (const query of ['SELECT * FROM c', 'SELECT * FROM c ORDER BY c.created']) {
    it(`resumes "${query}" page by page from its continuation token in new iterators (enableQueryControl)`, async () => {
      const seen: string[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await container.items.query<Doc>(query, { maxItemCount: 11, continuationToken, enableQueryControl: true }).fetchNext();
        seen.push(...page.resources.map(({ id }) => id));
        continuationToken = page.continuationToken;
      } while (continuationToken);
      expect(seen).toHaveLength(documents.length);
      expect(seen.sort()).toEqual(expectedIds(() => true));
    });
  }

  it('answers the query plan the SDK asks for, so ORDER BY sorts across ranges', async () => {
    const rows = await run<{ id: string; created: number }>('SELECT c.id, c.created FROM c ORDER BY c.created DESC');
    expect(rows.map(({ created }) => created)).toEqual(documents.map(({ created }) => created).sort((a, b) => b - a));
    expect(ids(rows)).toEqual(expectedIds(() => true));
  });

  it('applies TOP across ranges, after ORDER BY', async () => {
    const rows = await run({
      query: 'SELECT TOP 3 * FROM c WHERE c.type = @type ORDER BY c.created',
      parameters: [{ name: '@type', value: 'account' }],
    });
    const expected = documents
      .filter(({ type }) => type === 'account')
      .sort((a, b) => a.created - b.created)
      .slice(0, 3);
    expect(rows.map(({ id }) => id)).toEqual(expected.map(({ id }) => id));
  });

  it('sums COUNT(1) over the ranges', async () => {
    expect(await run<number>('SELECT VALUE COUNT(1) FROM c')).toEqual([documents.length]);
    expect(
      await run<number>({ query: 'SELECT VALUE COUNT(1) FROM c WHERE c._ts >= @since', parameters: [{ name: '@since', value: 0 }] }),
    ).toEqual([documents.length]);
  });

  it('visits only the range holding the partition key a WHERE pins', async () => {
    const since = responses.length;
    const rows = await run({ query: 'SELECT * FROM c WHERE c.pubkey = @pubkey', parameters: [{ name: '@pubkey', value: 'npub-3' }] });
    expect(ids(rows)).toEqual(expectedIds(({ pubkey }) => pubkey === 'npub-3'));
    const ranged = responses.slice(since).filter((record) => record.operation === 'query' && record.rangeId !== undefined);
    expect(new Set(ranged.map((record) => record.rangeId)).size).toBe(1);
  });
});

describe('single-partition queries (the partitionKey option scopes the query to one logical partition)', () => {
  it('returns only that partition even when the query has no filter on the key', async () => {
    expect(ids(await run('SELECT * FROM c', 'npub-5'))).toEqual(expectedIds(({ pubkey }) => pubkey === 'npub-5'));
  });

  it('resumes from a continuation token in a new iterator, with nothing repeated or missing', async () => {
    const seen: string[] = [];
    let continuationToken: string | undefined;
    do {
      const iterator = container.items.query<Doc>('SELECT * FROM c', { partitionKey: 'npub-1', maxItemCount: 2, continuationToken });
      const page = await iterator.fetchNext();
      seen.push(...page.resources.map(({ id }) => id));
      continuationToken = page.continuationToken;
    } while (continuationToken);
    expect(seen).toHaveLength(new Set(seen).size);
    expect(seen.sort()).toEqual(expectedIds(({ pubkey }) => pubkey === 'npub-1'));
  });

  it('sorts, limits and counts within the partition', async () => {
    const inPartition = documents.filter(({ pubkey }) => pubkey === 'npub-2').sort((a, b) => a.created - b.created);
    const rows = await run('SELECT TOP 2 * FROM c ORDER BY c.created', 'npub-2');
    expect(rows.map(({ id }) => id)).toEqual(inPartition.slice(0, 2).map(({ id }) => id));
    expect(await run<number>('SELECT VALUE COUNT(1) FROM c', 'npub-2')).toEqual([inPartition.length]);
  });
});

describe('the query language the project uses (NoSQL query reference)', () => {
  const cases: { name: string; query: SqlQuerySpec; keep: (document: Doc) => boolean }[] = [
    { name: '= on a string', query: { query: 'SELECT * FROM c WHERE c.type = "payment"' }, keep: ({ type }) => type === 'payment' },
    {
      name: 'IN with parameters',
      query: {
        query: 'SELECT * FROM c WHERE c.type IN (@a, @b)',
        parameters: [
          { name: '@a', value: 'account' },
          { name: '@b', value: 'payment' },
        ],
      },
      keep: ({ type }) => type === 'account' || type === 'payment',
    },
    {
      name: 'AND, OR and NOT with an undefined property (NOT of undefined is undefined)',
      query: { query: 'SELECT * FROM c WHERE (c.type = "account" AND c.created >= 1045) OR NOT (c.type = "payment")' },
      keep: ({ type, created }) => (type === 'account' && created >= 1045) || (type !== undefined && type !== 'payment'),
    },
    { name: 'NOT IS_DEFINED', query: { query: 'SELECT * FROM c WHERE NOT IS_DEFINED(c.type)' }, keep: ({ type }) => type === undefined },
    {
      name: 'ARRAY_CONTAINS(@p, c.x)',
      query: {
        query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(@types, c.type)',
        parameters: [{ name: '@types', value: ['notification', 'payment'] }],
      },
      keep: ({ type }) => type === 'notification' || type === 'payment',
    },
    {
      name: 'ARRAY_CONTAINS on a document array',
      query: { query: 'SELECT * FROM c WHERE ARRAY_CONTAINS(c.tags, "red")' },
      keep: ({ tags }) => tags?.includes('red') === true,
    },
    {
      name: 'LOWER',
      query: { query: 'SELECT * FROM c WHERE LOWER(c.name) = @name', parameters: [{ name: '@name', value: 'name3' }] },
      keep: ({ name }) => name?.toLowerCase() === 'name3',
    },
    {
      name: 'STRINGEQUALS ignoring case',
      query: { query: 'SELECT * FROM c WHERE STRINGEQUALS(c.name, @name, true)', parameters: [{ name: '@name', value: 'NAME6' }] },
      keep: ({ name }) => name?.toLowerCase() === 'name6',
    },
    {
      name: 'STRINGEQUALS respecting case',
      query: { query: 'SELECT * FROM c WHERE STRINGEQUALS(c.name, "Name6") OR STRINGEQUALS(c.name, "NAME9")' },
      keep: ({ name }) => name === 'Name6',
    },
  ];
  for (const { name, query, keep } of cases) {
    it(name, async () => {
      const expected = expectedIds(keep);
      expect(expected.length).toBeGreaterThan(0);
      expect(ids(await run(query))).toEqual(expected);
    });
  }

  it('SELECT VALUE c.id and SELECT c.id, c.pubkey, c._ts project as Cosmos does', async () => {
    expect((await run<string>('SELECT VALUE c.id FROM c WHERE c.pubkey = "npub-4"')).sort()).toEqual(
      expectedIds(({ pubkey }) => pubkey === 'npub-4'),
    );
    const rows = await run<Record<string, unknown>>('SELECT c.id, c.pubkey, c._ts FROM c WHERE c.pubkey = "npub-4"');
    for (const row of rows) expect(Object.keys(row).sort()).toEqual(['_ts', 'id', 'pubkey']);
  });

  it('refuses what it does not evaluate (400), never answering it wrongly', async () => {
    await expect(run('SELECT c.type, COUNT(1) FROM c GROUP BY c.type')).rejects.toMatchObject({ code: 400 });
    await expect(run('SELECT * FROM c WHERE UNKNOWN_FUNCTION(c.id)')).rejects.toMatchObject({ code: 400 });
  });
});
