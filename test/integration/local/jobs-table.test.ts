/**
 * The embedded jobs table kept in step with the template: a table from before GSI byOwner is
 * rebuilt with the index, every item kept, and its jobs and schedules are written again so a
 * tenant's listing finds them; a rebuild cut short is finished from its spare at the next start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ensureJobsTable } from '../../../infra/local/jobs-table';
import type { TemplateTable } from '../../../infra/local/template';
import { JobStore } from '../../../shared/store/job-store';
import { ScheduleStore } from '../../../shared/store/schedule-store';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

const S = 'S' as const;
const index = (name: string, pk: string, sk: string) => ({
  IndexName: name,
  KeySchema: [
    { AttributeName: pk, KeyType: 'HASH' as const },
    { AttributeName: sk, KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'ALL' as const },
});
const TABLE: TemplateTable = {
  logicalId: 'JobsTable',
  BillingMode: 'PAY_PER_REQUEST',
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'].map((n) => ({
    AttributeName: n,
    AttributeType: S,
  })),
  GlobalSecondaryIndexes: [index('byState', 'gsi1pk', 'gsi1sk'), index('byOwner', 'gsi2pk', 'gsi2sk')],
};
const OLD_TABLE: TemplateTable = {
  ...TABLE,
  AttributeDefinitions: TABLE.AttributeDefinitions.filter((a) => !a.AttributeName?.startsWith('gsi2')),
  GlobalSecondaryIndexes: [index('byState', 'gsi1pk', 'gsi1sk')],
};

let gw: TestGateway;
let ddb: DynamoDBClient;
beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  ddb = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: gw.endpoints.dynamodb!,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});
afterAll(async () => {
  ddb?.destroy();
  await gw?.close();
});

describe('ensureJobsTable', () => {
  it('adds the index an older table lacks and indexes the jobs and schedules it already held', async () => {
    // Prepare: a table as the version before tenants made it, with a job and a schedule in it
    const name = `old-${Date.now()}`;
    await ensureJobsTable(ddb, OLD_TABLE, name);
    const doc = DynamoDBDocumentClient.from(ddb);
    const job = {
      jobId: 'job-old',
      vmName: 'vm',
      state: 'running',
      createdAt: '2026-01-01T00:00:00.000Z',
      version: 3,
    };
    await doc.send(
      new PutCommand({
        TableName: name,
        Item: { pk: 'JOB#job-old', sk: 'JOB', gsi1pk: 'STATE#running', gsi1sk: 'x', version: 3, job },
      }),
    );
    const schedule = { scheduleId: 'sch-old', name: 'nightly', createdAt: '2026-01-01T00:00:00.000Z' };
    await doc.send(
      new PutCommand({
        TableName: name,
        Item: { pk: 'SCHEDULE#sch-old', sk: 'SCHEDULE', version: 1, schedule },
      }),
    );
    await doc.send(
      new PutCommand({ TableName: name, Item: { pk: 'APIKEY#abc', sk: 'APIKEY', label: 'old' } }),
    );
    // Act
    await ensureJobsTable(ddb, TABLE, name);
    await ensureJobsTable(ddb, TABLE, name); // again: nothing left to do
    // Assess
    const jobs = await new JobStore(doc, name).listOwned({ tenant: 'default' });
    const schedules = await new ScheduleStore(doc, name).listOwned({ tenant: 'default' });
    expect(jobs.items.map((j) => j.jobId)).toEqual(['job-old']);
    expect(schedules.items.map((s) => s.scheduleId)).toEqual(['sch-old']);
    const item = await doc.send(new GetCommand({ TableName: name, Key: { pk: 'JOB#job-old', sk: 'JOB' } }));
    expect(item.Item).toMatchObject({ version: 3, job, gsi2pk: 'JOBS#default' }); // rewritten as it was
    const key = await doc.send(new GetCommand({ TableName: name, Key: { pk: 'APIKEY#abc', sk: 'APIKEY' } }));
    expect(key.Item?.label).toBe('old');
    await expect(ddb.send(new DescribeTableCommand({ TableName: `${name}.rebuild` }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    ); // the spare is gone
  });

  it('finishes a rebuild that stopped after the table was dropped, from the spare', async () => {
    // Prepare: the spare holds the items; the table itself is gone
    const name = `cut-${Date.now()}`;
    await ensureJobsTable(ddb, OLD_TABLE, `${name}.rebuild`);
    const doc = DynamoDBDocumentClient.from(ddb);
    const job = { jobId: 'job-cut', vmName: 'vm', state: 'running', createdAt: '2026-01-01T00:00:00.000Z' };
    await doc.send(
      new PutCommand({
        TableName: `${name}.rebuild`,
        Item: { pk: 'JOB#job-cut', sk: 'JOB', version: 1, job },
      }),
    );
    // Act
    await ensureJobsTable(ddb, TABLE, name);
    // Assess
    const jobs = await new JobStore(doc, name).listOwned({ tenant: 'default' });
    expect(jobs.items.map((j) => j.jobId)).toEqual(['job-cut']);
  });
});
