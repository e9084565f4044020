import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Node } from 'web-tree-sitter';
import { metricNames, telemetryEventNames, telemetryFieldNames, telemetryPrefix } from '../../shared/telemetry/telemetry.js';
import { bodyObject, declarations, declaredName, literalString, propertyPath, propertyValue, resourceType } from '../support/bicep.js';
import { type BicepValue, evaluate, evaluateString, isDeployed, moduleScope, type Scope } from '../support/bicep-evaluate.js';
import { type Infra, loadInfra, repoRoot } from '../support/infra-fixture.js';

/*
 * The alerts `azd up` deploys (infra/modules/alerts.bicep), evaluated as main.bicep deploys them with its
 * default parameters: an action group, log search alerts on the app's telemetry lines, metric alerts on the
 * PostgreSQL server. Every query is checked against the names the code emits (shared/telemetry/telemetry.ts)
 * and the events that carry them (docs/telemetry.md). No KQL engine runs here: whether Azure Monitor accepts
 * a query and fires on it needs a first deployment (docs/deploy.md says so).
 */

const alertsFile = 'modules/alerts.bicep';

let infra: Infra;
let alerts: Scope;

beforeAll(async () => {
  infra = await loadInfra();
  alerts = moduleScope(infra.module('alerts'), infra.main());
});

function resources(type: string): Node[] {
  return declarations(infra.file(alertsFile).root, 'resource_declaration').filter((r) => resourceType(r).startsWith(`${type}@`));
}

const logAlerts = () => resources('Microsoft.Insights/scheduledQueryRules');
const metricAlerts = () => resources('Microsoft.Insights/metricAlerts');

interface Criterion {
  query?: string;
  metricMeasureColumn?: string;
  timeAggregation?: string;
  dimensions?: Array<{ name: string }>;
  failingPeriods?: { numberOfEvaluationPeriods: number; minFailingPeriodsToAlert: number };
  threshold?: number;
}

function criteria(rule: Node, scope: Scope = alerts): Criterion[] {
  return evaluate(propertyPath(bodyObject(rule), 'properties.criteria.allOf') as Node, scope) as unknown as Criterion[];
}

/** The rows of docs/telemetry.md's event table: event → the metrics its lines carry. */
function metricsByEvent(): Map<string, string[]> {
  const doc = readFileSync(join(repoRoot, 'docs', 'telemetry.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([a-z.-]+)` \|[^|]*\|[^|]*\|([^|]*)\|$/gm)];
  return new Map(rows.map((row) => [row[1] as string, [...(row[2] ?? '').matchAll(/`(nostria\.[^`]+)`/g)].map((m) => m[1] as string)]));
}

describe('alerts deployed by azd up', () => {
  it('are deployed with the default parameters: the action group, every rule, each sending to the group', () => {
    expect(isDeployed(infra.module('alerts'), infra.main())).toBe(true);
    const rules = [...logAlerts(), ...metricAlerts()];
    expect(rules.map(declaredName).sort()).toEqual(
      ['functionFailed', 'pendingSyncAge', 'poisonQueue', 'postgresConnections', 'postgresStorage', 'quarantineGrew', 'syncLag'].sort(),
    );
    for (const rule of rules) {
      expect(isDeployed(rule, alerts), declaredName(rule)).toBe(true);
      expect(evaluate(propertyPath(bodyObject(rule), 'properties.enabled') as Node, alerts), declaredName(rule)).toBe(true);
      const actions = propertyPath(bodyObject(rule), 'properties.actions');
      expect(actions?.text.replace(/\s+/g, ' '), declaredName(rule)).toMatch(/actionGroup\.id/);
    }
    const [group] = resources('Microsoft.Insights/actionGroups');
    expect(group && isDeployed(group, alerts)).toBe(true);
    expect(evaluateString(propertyPath(bodyObject(group as Node), 'properties.groupShortName') as Node, alerts).length).toBeLessThanOrEqual(
      12,
    );
  });

  it('e-mail the address given, and have no receiver when it is empty', () => {
    const [group] = resources('Microsoft.Insights/actionGroups');
    const receivers = (email: string) =>
      evaluate(
        propertyPath(bodyObject(group as Node), 'properties.emailReceivers') as Node,
        moduleScope(infra.module('alerts'), infra.main({ alertEmail: email })),
      );
    expect(receivers('')).toEqual([]);
    expect(receivers('ops@example.com')).toEqual([{ name: 'operator', emailAddress: 'ops@example.com', useCommonAlertSchema: true }]);
  });

  it('take every threshold from a parameter of main.bicep, mapped to an azd value with the same default', () => {
    const parameters = JSON.parse(readFileSync(join(repoRoot, 'infra', 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    const mainParams = declarations(infra.file('main.bicep').root, 'parameter_declaration');
    const alertParams = mainParams.map(declaredName).filter((name) => name.startsWith('alert'));
    expect(alertParams.sort()).toEqual(
      [
        'alertEmail',
        'alertFunctionFailures',
        'alertPendingSyncAgeMinutes',
        'alertPoisonMessages',
        'alertPostgresConnectionsPercent',
        'alertPostgresStoragePercent',
        'alertQuarantineGrowth',
        'alertSyncLagMinutes',
        'alertSyncLagSeconds',
      ].sort(),
    );
    const passed = propertyValue(bodyObject(infra.module('alerts')), 'params');
    const deployMd = readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8');
    const alertsSection = deployMd.split(/^## /m).find((section) => section.startsWith('Alerts')) ?? '';
    for (const name of alertParams) {
      expect(passed?.text, name).toContain(`: ${name}`);
      const mapping = /^\$\{([A-Z_]+)(?:=([^}]*))?\}$/.exec(parameters.parameters[name]?.value ?? '');
      expect(mapping, name).not.toBeNull();
      const declaration = mainParams.find((p) => declaredName(p) === name) as Node;
      const fallback =
        declaration.lastNamedChild?.type === 'number' ? declaration.lastNamedChild.text : literalString(declaration.lastNamedChild);
      expect(mapping?.[2] ?? '', name).toBe(fallback);
      // The runbook names the azd value and its default.
      if (name !== 'alertEmail') expect(alertsSection, name).toContain(`\`${mapping?.[1]}\` ${mapping?.[2]}`);
    }
    // The switch's readiness checks use the same two figures (plainly named).
    expect(alertParams).toEqual(expect.arrayContaining(['alertSyncLagSeconds', 'alertPendingSyncAgeMinutes']));
  });

  it('hold the sync lag above its bound for the minutes given, in five-minute windows', () => {
    const rule = logAlerts().find((r) => declaredName(r) === 'syncLag') as Node;
    for (const minutes of [5, 15, 30]) {
      const scope = moduleScope(infra.module('alerts'), infra.main({ alertSyncLagMinutes: minutes, alertSyncLagSeconds: 120 }));
      const [criterion] = criteria(rule, scope);
      expect(evaluate(propertyPath(bodyObject(rule), 'properties.windowSize') as Node, scope)).toBe('PT5M');
      expect(criterion?.failingPeriods).toEqual({ numberOfEvaluationPeriods: minutes / 5, minFailingPeriodsToAlert: minutes / 5 });
      expect(criterion?.threshold).toBe(120);
    }
  });

  it("count PostgreSQL connections against the size's max_connections, or the figure given", () => {
    const rule = metricAlerts().find((r) => declaredName(r) === 'postgresConnections') as Node;
    const threshold = (params: Record<string, BicepValue>) => {
      const scope = moduleScope(infra.module('alerts'), infra.main(params));
      return isDeployed(rule, scope) ? (criteria(rule, scope)[0]?.threshold ?? null) : 'not deployed';
    };
    // Microsoft Learn, "Limits in Azure Database for PostgreSQL": 859 for D2ds_v5, 429 for B2s; 80 % by default.
    expect(threshold({})).toBe(687);
    expect(threshold({ postgresSkuName: 'Standard_B2s', postgresSkuTier: 'Burstable' })).toBe(343);
    expect(threshold({ postgresSkuName: 'Standard_Z9', postgresMaxConnections: 1000, alertPostgresConnectionsPercent: 90 })).toBe(900);
    // An unknown size without the figure: no rule (the preprovision hook refuses this before it gets here).
    expect(threshold({ postgresSkuName: 'Standard_Z9' })).toBe('not deployed');
  });
});

describe("the alerts' queries against the telemetry the code emits", () => {
  const emitted = new Set<string>(Object.values(metricNames));
  const events = new Set<string>(telemetryEventNames);
  const fields = new Set<string>([...telemetryFieldNames, 'metrics']);

  it('read telemetry lines by the prefix the code writes, and only metrics, events and fields it emits', () => {
    const byEvent = metricsByEvent();
    const traceRules = logAlerts().filter((rule) => criteria(rule).some((c) => c.query?.trimStart().startsWith('traces')));
    expect(traceRules.length).toBe(4);
    for (const rule of traceRules) {
      const name = declaredName(rule);
      for (const { query = '' } of criteria(rule)) {
        expect(query, name).toContain(`| where message startswith "${telemetryPrefix}"`);
        expect(query, name).toContain(`parse_json(substring(message, strlen("${telemetryPrefix}")))`);
        const metricsRead = [...query.matchAll(/\bt\.metrics\["([^"]+)"\]/g)].map((m) => m[1] as string);
        const eventsRead = [...query.matchAll(/tostring\(t\.event\) == "([^"]+)"/g)].map((m) => m[1] as string);
        const fieldsRead = [...query.matchAll(/\bt\.([A-Za-z_]+)/g)].map((m) => m[1] as string);
        expect(metricsRead.length, name).toBeGreaterThan(0);
        expect(
          metricsRead.filter((metric) => !emitted.has(metric)),
          name,
        ).toEqual([]);
        expect(eventsRead.length, name).toBe(1);
        expect(
          eventsRead.filter((event) => !events.has(event)),
          name,
        ).toEqual([]);
        expect(
          fieldsRead.filter((field) => !fields.has(field)),
          name,
        ).toEqual([]);
        // Every nostria.* literal is a metric read through t.metrics, or the prefix.
        const literals = [...query.matchAll(/"(nostria\.[^"]*)"/g)].map((m) => m[1] as string).filter((l) => l !== telemetryPrefix);
        expect(literals.sort(), name).toEqual([...metricsRead].sort());
        // The event filtered on carries the metric read (docs/telemetry.md's table of lines).
        for (const metric of metricsRead) expect(byEvent.get(eventsRead[0] as string), `${name}: ${metric}`).toContain(metric);
      }
    }
  });

  it('measure a column the query projects, beside the timestamp the rule bins by', () => {
    for (const rule of logAlerts()) {
      for (const criterion of criteria(rule)) {
        const projected = /\| project ([^\n]+)\s*$/.exec(criterion.query?.trimEnd() ?? '')?.[1] ?? '';
        const columns = projected.split(',').map((column) => column.split('=')[0]?.trim());
        expect(columns[0], declaredName(rule)).toBe('timestamp');
        if (criterion.timeAggregation === 'Count') expect(criterion.metricMeasureColumn, declaredName(rule)).toBeUndefined();
        else expect(columns, declaredName(rule)).toContain(criterion.metricMeasureColumn);
        for (const dimension of criterion.dimensions ?? []) expect(columns, declaredName(rule)).toContain(dimension.name);
        // Balanced brackets and quotes: what a typo breaks first.
        const query = criterion.query ?? '';
        expect(query.split('(').length, declaredName(rule)).toBe(query.split(')').length);
        expect(query.split('[').length, declaredName(rule)).toBe(query.split(']').length);
        expect((query.match(/"/g) ?? []).length % 2, declaredName(rule)).toBe(0);
      }
    }
  });

  it('count failed executions from requests, which are never sampled', () => {
    const rule = logAlerts().find((r) => declaredName(r) === 'functionFailed') as Node;
    const [criterion] = criteria(rule);
    expect(criterion?.query?.trim().split('\n')[0]).toBe('requests');
    expect(criterion?.query).toContain('success == false');
    const host = JSON.parse(readFileSync(join(repoRoot, 'host.json'), 'utf8')) as {
      logging: { applicationInsights: { samplingSettings: { excludedTypes: string } } };
    };
    expect(host.logging.applicationInsights.samplingSettings.excludedTypes.split(';')).toEqual(
      expect.arrayContaining(['Request', 'Trace']),
    );
  });

  it('watch every backlog figure the timer emits for them', () => {
    const read = new Set(
      logAlerts().flatMap((rule) =>
        criteria(rule).flatMap(({ query = '' }) => [...query.matchAll(/\bt\.metrics\["([^"]+)"\]/g)].map((m) => m[1])),
      ),
    );
    for (const metric of [
      metricNames.syncLagSeconds,
      metricNames.poisonQueueMessages,
      metricNames.quarantineSize,
      metricNames.pendingSyncOldestAgeSeconds,
    ]) {
      expect([...read]).toContain(metric);
    }
  });
});

describe('the runbook lists every alert', () => {
  it('by its rule name, with what to do', () => {
    const deployMd = readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8');
    const alertsSection = deployMd.split(/^## /m).find((section) => section.startsWith('Alerts')) ?? '';
    const rows = [...alertsSection.matchAll(/^\| `([a-z-]+)` \|([^|]*)\|([^|]*)\|([^|]*)\|$/gm)];
    const names = [...logAlerts(), ...metricAlerts()].map((rule) =>
      evaluateString(propertyValue(bodyObject(rule), 'name') as Node, alerts)
        .replace(/^nostria-migrate-/, '')
        .replace(/-test$/, ''),
    );
    expect(rows.map((row) => row[1]).sort()).toEqual(names.sort());
    for (const row of rows) expect(row[4]?.trim().length, row[1]).toBeGreaterThan(20);
  });
});
