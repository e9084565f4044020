import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * `npm run demo` as a user runs it: a child process with nothing configured that starts its own
 * embedded PostgreSQL and Cosmos-protocol server. The environment *does* name a database and a Cosmos
 * account here, on addresses nothing listens on: the demo must not read them, or it would fail.
 */

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

function runDemo(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/demo.ts', ...args], {
      cwd: projectRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function environment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'SYSTEMROOT']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return {
    ...env,
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so a demo that used these would fail, not touch anything.
    DATABASE_URL: 'postgresql://someone:secret@192.0.2.1:5432/production',
    AZURE_COSMOSDB_CONNECTION_STRING: 'AccountEndpoint=https://192.0.2.1:8081/;AccountKey=c2VjcmV0;',
    MIGRATION_MODE: 'false',
  };
}

describe('npm run demo', () => {
  it('migrates a generated dataset on embedded services, verifies it and prints the stats', async () => {
    const result = await runDemo(['--users', '50'], environment());

    expect(result.stderr).not.toMatch(/demo: failed/);
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain('=== Full migration ===');
    expect(out).toContain('Result: CONSISTENT');
    // The guide's stats layout: the three sections, every type in each, then the quarantine.
    const stats = out.slice(out.indexOf('=== Migration Statistics ==='));
    expect(stats).toMatch(/^=== Migration Statistics ===\nCosmosDB:\n/);
    for (const section of ['CosmosDB:', 'PostgreSQL:', 'Migration Progress:']) expect(stats).toContain(`\n${section}\n`);
    for (const label of [
      'Accounts',
      'Account Settings',
      'Backup Jobs',
      'Payments',
      'Notification Subscriptions',
      'Notification Settings',
      'Notification Logs',
    ]) {
      expect(stats).toContain(`  ${label}: 100.0%`);
    }
    // The deliberately broken documents are accounted for in the quarantine, not dropped.
    expect(stats).toMatch(/\nQuarantined: [1-9]/);
    expect(out).toContain('Local services stopped');
    expect(out).not.toContain('192.0.2.1');
  }, 90_000);

  it('rejects a bad option with exit code 2 before starting anything', async () => {
    const result = await runDemo(['--users', 'many'], environment());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--users');
    expect(result.stdout).not.toContain('Starting');
  });
});
