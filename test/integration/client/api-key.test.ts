/** `burstgate api-key create` writes a hashed key that the gateway's authorizer then accepts. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, type Io } from '../../../bin/burstgate';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  // The SDK signs every request; the local DynamoDB accepts any credentials.
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
});
afterAll(async () => {
  await gw?.close();
});

function io(): Io & { output: () => string; errors: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => ((out += s), true) } as unknown as Io['stdout'],
    stderr: { write: (s: string) => ((err += s), true) } as unknown as Io['stderr'],
    env: {},
    output: () => out,
    errors: () => err,
  };
}

describe('burstgate api-key create', () => {
  it('prints a new key once, and the gateway accepts it', async () => {
    // Prepare
    const cli = io();
    // Act
    const code = await main(
      [
        'api-key',
        'create',
        '--table',
        gw.deps.config.jobsTable,
        '--label',
        'ci',
        '--endpoint',
        gw.endpoints.dynamodb!,
      ],
      cli,
    );
    const key = cli.output().trim();
    const res = await fetch(`${gw.apiUrl}/offloads`, { headers: { authorization: `Bearer ${key}` } });
    // Assess
    expect(code).toBe(0);
    expect(key).toMatch(/^bg_[A-Za-z0-9_-]{43}$/);
    expect(cli.errors()).toContain('shown only this once');
    expect(res.status).toBe(200);
  });

  it('says what is missing', async () => {
    const cli = io();
    expect(await main(['api-key', 'create'], cli)).toBe(2);
    expect(cli.errors()).toContain('--table is required');
  });
});
