import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { metricNames, telemetryFieldNames, telemetryPrefix } from '../../shared/telemetry/telemetry.js';

/**
 * The operator workbook (infra/workbook.json, deployed by infra/modules/monitoring.bicep) against the code:
 * every name its KQL reads, metric or field, is read from the query text and must be one the app emits
 * (shared/telemetry/telemetry.ts), and every metric the app emits is charted. docs/telemetry.md shows each
 * query as the workbook runs it.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8');

interface WorkbookItem {
  type: number;
  name: string;
  content: { version?: string; query?: string; title?: string; json?: string };
}

const workbook = JSON.parse(read('infra/workbook.json')) as { version: string; items: WorkbookItem[]; fallbackResourceIds: string[] };
const queries = workbook.items.filter((item) => item.content.version === 'KqlItem/1.0');
const emitted = new Set<string>(Object.values(metricNames));

/** Every `nostria.<name>` string literal in a query. */
const nostriaLiterals = (query: string) => [...query.matchAll(/"(nostria\.[^"]*)"/g)].map((match) => match[1] as string);
/** Every metric a query reads: `t.metrics["<name>"]`. */
const metricsRead = (query: string) => [...query.matchAll(/\bt\.metrics\["([^"]+)"\]/g)].map((match) => match[1] as string);
/** Every field a query reads from the line: `t.<field>`. */
const fieldsRead = (query: string) => [...query.matchAll(/\bt\.([A-Za-z_]+)/g)].map((match) => match[1] as string);

describe('the workbook', () => {
  it('is a workbook definition with chart queries, each titled and run over Application Insights traces in the chosen time range', () => {
    expect(workbook.version).toBe('Notebook/1.0');
    expect(workbook.fallbackResourceIds).toEqual(['__APPLICATION_INSIGHTS_ID__']);
    expect(queries.length).toBeGreaterThan(0);
    for (const item of queries) {
      expect(item.content, item.name).toMatchObject({
        queryType: 0,
        resourceType: 'microsoft.insights/components',
        timeContextFromParameter: 'TimeRange',
        title: expect.any(String),
      });
    }
    const parameters = workbook.items.filter((item) => item.content.version === 'KqlParameterItem/1.0');
    expect(parameters.flatMap((item) => (item.content as { parameters: Array<{ name: string }> }).parameters.map((p) => p.name))).toEqual([
      'TimeRange',
    ]);
    expect(new Set(workbook.items.map((item) => item.name)).size).toBe(workbook.items.length);
  });

  it('reads only telemetry lines, by the prefix the code writes', () => {
    for (const { name, content } of queries) {
      const query = content.query ?? '';
      expect(query, name).toContain(`| where message startswith "${telemetryPrefix}"`);
      expect(query, name).toContain(`parse_json(substring(message, strlen("${telemetryPrefix}")))`);
    }
  });

  it('references only metrics the code emits, and only through t.metrics', () => {
    for (const { name, content } of queries) {
      const query = content.query ?? '';
      const literals = nostriaLiterals(query).filter((literal) => literal !== telemetryPrefix);
      expect(
        literals.filter((literal) => !emitted.has(literal)),
        name,
      ).toEqual([]);
      expect(literals.sort(), name).toEqual(metricsRead(query).sort());
    }
  });

  it('charts every metric the code emits', () => {
    const charted = new Set(queries.flatMap((item) => metricsRead(item.content.query ?? '')));
    expect([...emitted].filter((metric) => !charted.has(metric))).toEqual([]);
  });

  it('reads only fields a telemetry line carries', () => {
    const carried = new Set<string>([...telemetryFieldNames, 'metrics']);
    for (const { name, content } of queries) {
      expect(
        fieldsRead(content.query ?? '').filter((field) => !carried.has(field)),
        name,
      ).toEqual([]);
    }
  });

  it('weights counts by itemCount, so sampled traces still estimate the totals', () => {
    for (const { name, content } of queries) {
      for (const sum of (content.query ?? '').matchAll(/sum\(([^()]*(?:\([^()]*\)[^()]*)*)\)/g)) {
        expect(sum[1], name).toMatch(/itemCount/);
      }
    }
  });
});

describe('docs/telemetry.md', () => {
  it('shows each chart with its query as the workbook runs it', () => {
    const doc = read('docs/telemetry.md');
    for (const { name, content } of queries) {
      expect(doc, name).toContain(content.title);
      expect(doc, name).toContain(content.query);
    }
  });
});
