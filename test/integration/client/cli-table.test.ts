/**
 * `burstgate table backfill` against the embedded deployment's table: a job written before tenants
 * (no owner index attributes) is invisible to GET /offloads until the backfill writes it again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { runCli } from '../../helpers/cli';
import { callApi, startTestGateway, type TestGateway } from '../../helpers/embedded';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  // The SDK signs every request; the local DynamoDB accepts any credentials.
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
});
afterAll(async () => {
  await gw?.close();
});

describe('burstgate table backfill', () => {
  it('indexes a job from before tenants so its tenant lists it, once', async () => {
    // Prepare: a job item as the version before tenants wrote it
    const job = {
      jobId: 'job-01old0000000000000000000000',
      vmName: 'old-vm',
      state: 'running',
      target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
      createdAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-01T00:00:00.000Z',
      version: 4,
      image: { format: 'ova', bucket: 'b', key: 'k', sizeBytes: 1 },
      resources: [],
      steps: [],
      bytes: { uploaded: 1 },
      cloud: {},
    };
    await gw.deps.ddb.send(
      new PutCommand({
        TableName: gw.deps.config.jobsTable,
        Item: { pk: `JOB#${job.jobId}`, sk: 'JOB', gsi1pk: 'STATE#running', gsi1sk: 'x', version: 4, job },
      }),
    );
    const before = await callApi(gw, 'GET', '/offloads');
    const table = ['--table', gw.deps.config.jobsTable, '--endpoint', gw.endpoints.dynamodb!];
    // Act
    const first = await runCli(['table', 'backfill', ...table]);
    const again = await runCli(['table', 'backfill', ...table]);
    const after = await callApi(gw, 'GET', '/offloads');
    // Assess
    expect(before.body.items.map((j: { jobId: string }) => j.jobId)).not.toContain(job.jobId);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('indexed 1 jobs and 0 schedules');
    expect(again.stdout).toContain('indexed 0 jobs and 0 schedules');
    expect(after.body.items.map((j: { jobId: string }) => j.jobId)).toContain(job.jobId);
  });

  it('says what is missing', async () => {
    const cli = await runCli(['table', 'backfill']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('--table is required');
  });
});
