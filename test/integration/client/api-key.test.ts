/**
 * `burstgate api-key create|list|revoke` against the embedded deployment's table: the key it
 * prints is accepted by the gateway's authorizer with its tenant and scopes, lists show ids and
 * never keys, and a revoked key is refused on its next request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../../helpers/cli';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

let gw: TestGateway;
let table: string[];
beforeAll(async () => {
  gw = await startTestGateway();
  // The SDK signs every request; the local DynamoDB accepts any credentials.
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  table = ['--table', gw.deps.config.jobsTable, '--endpoint', gw.endpoints.dynamodb!];
});
afterAll(async () => {
  await gw?.close();
});

const call = (key: string, path: string, init: RequestInit = {}) =>
  fetch(`${gw.apiUrl}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...init.headers } });

async function create(...flags: string[]): Promise<{ code: number; key: string; cli: CliRun }> {
  const cli = await runCli(['api-key', 'create', ...table, ...flags]);
  return { code: cli.code, key: cli.stdout.trim(), cli };
}

describe('burstgate api-key', () => {
  it('creates a key for a tenant with scopes; the gateway accepts it for what its scopes allow', async () => {
    // Act
    const made = await create(
      '--tenant',
      'team-cli',
      '--scopes',
      'read',
      '--label',
      'ci',
      '--expires',
      '30d',
    );
    const list = await call(made.key, '/offloads');
    const cancel = await call(made.key, '/offloads/job-00000000000000000000000000', { method: 'DELETE' });
    // Assess
    expect(made.code).toBe(0);
    expect(made.key).toMatch(/^bg_[A-Za-z0-9_-]{43}$/);
    expect(made.cli.stderr).toMatch(/API key key-[0-9a-z]{26} for tenant team-cli \(read\), expires 20/);
    expect(made.cli.stderr).toContain('shown only this once');
    expect(list.status).toBe(200);
    expect(cancel.status).toBe(403);
    expect(cancel.headers.get('content-type')).toContain('application/problem+json');
    expect(await cancel.json()).toMatchObject({
      type: 'https://burstgate.dev/problems/scope-missing',
      detail: expect.stringContaining("the scope 'cancel'"),
    });
  });

  it('lists keys with id, tenant, scopes and status, never the key; revoke stops the next request', async () => {
    // Prepare
    const made = await create('--tenant', 'team-revoke', '--scopes', 'read,offload', '--label', 'slurm');
    const keyId = /API key (key-[0-9a-z]{26})/.exec(made.cli.stderr)![1]!;
    expect((await call(made.key, '/offloads')).status).toBe(200);
    // Act
    const listed = await runCli(['api-key', 'list', ...table, '--tenant', 'team-revoke']);
    const revoked = await runCli(['api-key', 'revoke', keyId, ...table]);
    const after = await call(made.key, '/offloads');
    const listedAfter = await runCli(['api-key', 'list', ...table, '--tenant', 'team-revoke', '--json']);
    // Assess
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      new RegExp(`${keyId}\\s+team-revoke\\s+read,offload\\s+slurm\\s+\\S+\\s+-\\s+active`),
    );
    expect(listed.stdout).not.toContain(made.key);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`${keyId} revoked at 20`));
    expect(after.status).toBe(403);
    const records = JSON.parse(listedAfter.stdout) as Array<{ keyId: string; revokedAt?: string }>;
    expect(records).toEqual([expect.objectContaining({ keyId, revokedAt: expect.any(String) })]);
  });

  it('refuses an expired key', async () => {
    // Prepare: a key that expires a second from now, and a clock past that
    const made = await create('--tenant', 'team-expiry', '--scopes', 'read', '--expires', '1h');
    expect((await call(made.key, '/offloads')).status).toBe(200);
    // Act
    gw.clock.advance(2 * 3600 * 1000);
    const after = await call(made.key, '/offloads');
    // Assess
    expect(after.status).toBe(403);
  });

  it('says what is missing or wrong, and changes nothing', async () => {
    // Act
    const noTable = await runCli(['api-key', 'create']);
    const badScope = await create('--tenant', 'team-x', '--scopes', 'read,sudo');
    const badTenant = await create('--tenant', 'Team X', '--scopes', 'read');
    const unknown = await runCli(['api-key', 'revoke', 'key-00000000000000000000000000', ...table]);
    const listed = await runCli(['api-key', 'list', ...table, '--tenant', 'team-x', '--json']);
    // Assess
    expect(noTable.code).toBe(2);
    expect(noTable.stderr).toContain('--table is required');
    expect(badScope.code).toBe(2);
    expect(badScope.cli.stderr).toContain("unknown 'sudo'");
    expect(badScope.key).toBe('');
    expect(badTenant.code).toBe(2);
    expect(badTenant.cli.stderr).toContain('tenant:');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no API key key-00000000000000000000000000');
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });
});
