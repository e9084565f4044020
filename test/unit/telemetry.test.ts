import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/env.js';
import { secretsOf } from '../../shared/config/secrets.js';
import { emitTelemetry, type TelemetryEvent, telemetryLine, telemetryPrefix } from '../../shared/telemetry/telemetry.js';

/** The JSON a telemetry line carries after its prefix, as KQL's parse_json reads it. */
function payloadOf(line: string): Record<string, unknown> {
  expect(line.startsWith(telemetryPrefix)).toBe(true);
  return JSON.parse(line.slice(telemetryPrefix.length)) as Record<string, unknown>;
}

describe('a telemetry line', () => {
  it('carries the fields and the metrics by name, as JSON after the prefix, on one line', () => {
    const line = telemetryLine({
      event: 'migration.page',
      runId: '6f1c2d9e-4b10-4c55-9b7a-8d3c7a522f0e',
      feedRange: '-7FFFFFFFFFFFFFFF',
      documents: 100,
      dryRun: false,
      metrics: { 'nostria.documents.written': 97, 'nostria.documents.quarantined': 3, 'nostria.cosmos.request_units': 412.5 },
    });
    expect(line).not.toContain('\n');
    expect(payloadOf(line)).toEqual({
      event: 'migration.page',
      runId: '6f1c2d9e-4b10-4c55-9b7a-8d3c7a522f0e',
      feedRange: '-7FFFFFFFFFFFFFFF',
      documents: 100,
      dryRun: false,
      metrics: { 'nostria.documents.written': 97, 'nostria.documents.quarantined': 3, 'nostria.cosmos.request_units': 412.5 },
    });
  });

  it('leaves out a field or a metric of the wrong shape and names it, rather than fail the work it reports on', () => {
    const payload = payloadOf(
      telemetryLine({
        event: 'sync.batch',
        documentType: 'account settings; drop',
        documents: -1,
        metrics: { 'nostria.documents.written': Number.NaN, 'nostria.sync.lag_seconds': 4 },
      }),
    );
    expect(payload).toEqual({
      event: 'sync.batch',
      metrics: { 'nostria.sync.lag_seconds': 4 },
      invalid: ['documentType', 'documents', 'nostria.documents.written'],
    });
  });

  it('never carries a secret: the DATABASE_URL password and the Cosmos key stay out, whatever a caller passes', () => {
    const password = 'pa55-w0rd-that-must-not-leak';
    const accountKey = 'c2VjcmV0LWNvc21vcy1rZXktdGhhdC1tdXN0LW5vdC1sZWFr';
    const config = loadConfig({
      DATABASE_URL: `postgresql://migrator:${password}@psql.example.postgres.database.azure.com:5432/nostria?sslmode=verify-full`,
      AZURE_COSMOSDB_CONNECTION_STRING: `AccountEndpoint=https://nostria.documents.azure.com:443/;AccountKey=${accountKey};`,
    });
    expect(secretsOf(config)).toEqual([password, accountKey]);
    // A careless caller: the settings in fields meant for ids, and as fields no event has.
    const event = {
      event: 'migration.user',
      runId: config.databaseUrl,
      documentType: password,
      feedRange: accountKey,
      metrics: { 'nostria.documents.written': 1 },
      databaseUrl: config.databaseUrl,
      error: `connect to ${config.databaseUrl} failed`,
    } as unknown as TelemetryEvent;
    const lines: string[] = [];
    emitTelemetry((line) => lines.push(line), event);
    expect(lines).toHaveLength(1);
    for (const secret of secretsOf(config)) expect(lines[0]).not.toContain(secret);
    expect(payloadOf(lines[0] as string)).toEqual({
      event: 'migration.user',
      metrics: { 'nostria.documents.written': 1 },
      invalid: ['runId', 'documentType', 'feedRange'],
    });
  });
});
