import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { scaleGroups } from '../../scripts/preprovision.mjs';
import { envSchema } from '../../shared/config/env.js';
import { type CapturedRegistration, loadFunctionApp } from '../support/functions-core/load-function-app.js';
import { repoRoot } from '../support/infra-fixture.js';

/*
 * The runbook (docs/deploy.md) as an operator runs it: its shell commands, read out of the document. What
 * can be checked without Azure: that every psql command can verify the server's certificate (libpq's
 * verify-full needs a root certificate source; `sslrootcert=system` only from libpq 16), that the roots the
 * runbook downloads are the ones Node itself trusts (and so the ones `db:migrate` verifies with), that `az`
 * works on azd's subscription, and that the connection budget counts the app's real scale groups.
 */

const runbook = readFileSync(join(repoRoot, 'docs', 'deploy.md'), 'utf8');

/** Every command line of the runbook's bash blocks, continuation lines joined, comments dropped. */
function commands(): string[] {
  const blocks = [...runbook.matchAll(/```bash\n([\s\S]*?)```/g)].map((match) => match[1] as string);
  return blocks.flatMap((block) =>
    block
      .replace(/\\\n\s*/g, ' ')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
}

/** The section of the runbook under a heading (## or ###), up to the next heading of any level. */
function section(heading: string): string {
  const start = runbook.indexOf(`${heading}\n`);
  if (start < 0) throw new Error(`docs/deploy.md has no "${heading}"`);
  const rest = runbook.slice(start + heading.length);
  const end = rest.search(/^#{2,3} /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The roots Node trusts, by subject common name: what node-postgres verifies `sslmode=verify-full` with. */
function nodeRoot(commonName: string): X509Certificate | undefined {
  return rootCertificates
    .map((pem) => new X509Certificate(pem))
    .find((certificate) => certificate.subject.split('\n').includes(`CN=${commonName}`));
}

describe('psql in the runbook', () => {
  const psqlCommands = () => commands().filter((command) => /(^|[\s;&|(])psql\s/.test(command));

  it('names a root certificate source in every command that connects, with verify-full', () => {
    const found = psqlCommands();
    expect(found.length).toBeGreaterThanOrEqual(2);
    for (const command of found) {
      const conninfo = /psql\s+"([^"]*)"/.exec(command)?.[1] ?? '';
      expect(conninfo, command).toMatch(/\bsslmode=verify-full\b/);
      // A variable the shell refuses to leave empty, or the system store: never libpq's ~/.postgresql/root.crt.
      expect(conninfo, command).toMatch(/\bsslrootcert=(system\b|\$\{PGSSLROOTCERT:\?[^}]+\})/);
    }
  });

  it('sets that source to system only for libpq 16 or later, and otherwise to a file it builds from the downloaded roots', () => {
    const roots = section('### Root certificates for psql');
    const assignments = [...roots.matchAll(/^\s*export PGSSLROOTCERT=(\S+)/gm)].map((match) => match[1] as string);
    expect(assignments).toHaveLength(2);
    expect(assignments[0]).toBe('system');
    expect(roots).toMatch(/16 or later/);
    // The file: written by the block that downloads both roots from their publishers.
    const file = assignments[1] as string;
    expect(roots).toContain(`> ${file}`);
    expect(roots).toContain('https://cacerts.digicert.com/DigiCertGlobalRootG2.crt.pem');
    expect(roots).toContain('https://www.microsoft.com/pkiops/certs/Microsoft%20RSA%20Root%20Certificate%20Authority%202017.crt');
  });

  it("gives fingerprints to check the downloads against that are Node's own roots of the same names", () => {
    const roots = section('### Root certificates for psql');
    const fingerprints = [...roots.matchAll(/Fingerprint=([0-9A-F:]{95})/g)].map((match) => match[1]);
    const digicert = nodeRoot('DigiCert Global Root G2');
    const microsoft = nodeRoot('Microsoft RSA Root Certificate Authority 2017');
    expect(digicert, 'Node trusts DigiCert Global Root G2: db:migrate verifies the server with it').toBeDefined();
    expect(microsoft, 'Node trusts Microsoft RSA Root Certificate Authority 2017').toBeDefined();
    expect(fingerprints).toEqual([digicert?.fingerprint256, microsoft?.fingerprint256]);
  });
});

describe('az in the runbook', () => {
  it("works on the subscription azd deployed to before it reaches the app's resources", () => {
    const all = commands();
    const pinned = all.findIndex((command) => command === 'az account set --subscription "$(azd env get-value AZURE_SUBSCRIPTION_ID)"');
    expect(pinned).toBeGreaterThanOrEqual(0);
    const firstOnResources = all.findIndex((command) => /\baz (functionapp|postgres|storage|resource|monitor|keyvault)\b/.test(command));
    expect(firstOnResources).toBeGreaterThan(pinned);
  });
});

describe('the connection budget', () => {
  let registrations: Map<string, CapturedRegistration>;

  beforeAll(async () => {
    for (const name of Object.keys(envSchema.shape)) vi.stubEnv(name, undefined);
    try {
      ({ registrations } = await loadFunctionApp());
    } finally {
      vi.unstubAllEnvs();
    }
  });

  /**
   * Flex Consumption's per-function scale groups (Microsoft Learn, "Flex Consumption plan"): the HTTP
   * functions together, Blob (Event Grid) together, Durable together, every other function alone.
   */
  function groupsOf(all: Iterable<CapturedRegistration>): Set<string> {
    const groups = new Set<string>();
    for (const registration of all) {
      const trigger = Object.values(registration.metadata.bindings).find(
        (binding) => binding.direction === 'in' && binding.type.endsWith('Trigger'),
      );
      const type = trigger?.type ?? '';
      if (type === 'httpTrigger') groups.add('http');
      else if (/^(orchestration|activity|entity)Trigger$/.test(type)) groups.add('durable');
      else if (type === 'blobTrigger' && trigger?.source === 'EventGrid') groups.add('blob');
      else groups.add(`function:${registration.metadata.name}`);
    }
    return groups;
  }

  it("counts the app's scale groups, in the preprovision check and in the runbook", () => {
    const groups = groupsOf(registrations.values());
    expect([...groups].sort()).toEqual(['function:backlogTelemetry', 'function:cosmosSync', 'function:migrationQueue', 'http']);
    expect(scaleGroups).toBe(groups.size);
    const formula = /clients = (\d+) scale groups × maximumInstanceCount × DATABASE_POOL_SIZE = (\d+) × (\d+) × (\d+) = (\d+)/.exec(
      section('## Connections'),
    );
    expect(formula).not.toBeNull();
    const [, groupsInDoc, again, instances, pool, clients] = (formula as RegExpExecArray).map(Number);
    expect([groupsInDoc, again]).toEqual([groups.size, groups.size]);
    expect([instances, pool]).toEqual([40, 5]);
    expect(clients).toBe(groups.size * 40 * 5);
  });
});
