/**
 * The fakes the step tests run on keep the few rules the stores rely on, and refuse to make a
 * test pass by accident.
 */
import { describe, expect, it } from 'vitest';
import { PutSnapshotBlockCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { createGateway } from '../../../shared/domain/gateway';
import { FAKE_AZURE_CONFIG, fakeDeps } from '../../helpers/fake-deps';
import { EBS_BLOCK, fakeSnapshots } from '../../helpers/fake-snapshots';
import { placeJob, stepTest } from './fixtures';

describe('fake DynamoDB', () => {
  it('refuses a write on a stale version, so a JobStore update retries and loses no change', async () => {
    // Prepare: another writer changes the job between this update's read and its write
    const t = stepTest();
    const job = await placeJob(t, 'running');
    const other = createGateway(t.fake.deps).store;
    const read = t.gw.store.get.bind(t.gw.store);
    let reads = 0;
    t.gw.store.get = async (id) => {
      const current = await read(id);
      if (reads++ === 0) await other.update(id, (o) => void (o.bytes.imported = 2));
      return current;
    };
    // Act
    await t.gw.store.update(job.jobId, (j) => {
      j.bytes.exported = 1;
    });
    // Assess: read, refused, read again, written
    expect(reads).toBe(2);
    const after = await read(job.jobId);
    expect(after.bytes).toMatchObject({ imported: 2, exported: 1 });
    expect(after.version).toBe(3);
  });

  it('refuses an expression it does not understand instead of guessing', async () => {
    // Prepare
    const fake = fakeDeps();
    // Act
    const err = await fake.deps.ddb
      .send(
        new DeleteCommand({
          TableName: fake.deps.config.jobsTable,
          Key: { pk: 'a', sk: 'b' },
          ConditionExpression: 'begins_with(pk, :p)',
          ExpressionAttributeValues: { ':p': 'a' },
        }),
      )
      .catch((e: Error) => e);
    // Assess
    expect((err as Error).message).toMatch(/not one the fake understands/);
  });
});

describe('fake S3', () => {
  it('serves ranged GETs of the real bytes and refuses a range past the end', async () => {
    // Prepare
    const fake = fakeDeps();
    fake.bucket.put('k', Buffer.from('0123456789'));
    const get = (Range: string) =>
      fake.deps.s3.send(new GetObjectCommand({ Bucket: fake.deps.config.stagingBucket, Key: 'k', Range }));
    // Act
    const middle = await (await get('bytes=2-4')).Body!.transformToByteArray();
    const clamped = await (await get('bytes=8-100')).Body!.transformToByteArray();
    const past = await get('bytes=10-12').catch((e: Error) => e.name);
    // Assess
    expect(Buffer.from(middle).toString()).toBe('234');
    expect(Buffer.from(clamped).toString()).toBe('89');
    expect(past).toBe('InvalidRange');
  });
});

describe('scripted EC2', () => {
  it('throws on an unscripted command and remembers it for assertNoUnscriptedCalls', async () => {
    // Prepare
    const fake = fakeDeps();
    // Act
    const err = await fake.deps
      .ec2For('eu-west-1')
      .send(new DescribeInstancesCommand({ InstanceIds: ['i-1'] }))
      .catch((e: Error) => e);
    // Assess
    expect((err as Error).name).toBe('UnscriptedFakeCall');
    expect(() => fake.assertNoUnscriptedCalls()).toThrow(/DescribeInstancesCommand in eu-west-1/);
  });
});

describe('scripted EBS snapshots', () => {
  it('gives a repeated StartSnapshot its first snapshot, and refuses a block whose checksum is not its SHA-256', async () => {
    // Prepare
    const fake = fakeDeps();
    fakeSnapshots(fake).startable().acceptsBlocks();
    const ebs = fake.deps.ebsFor('us-east-1');
    const start = () => ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ClientToken: 'job-1-offload' }));
    // Act
    const [first, again] = [await start(), await start()];
    const refused = await ebs
      .send(
        new PutSnapshotBlockCommand({
          SnapshotId: first.SnapshotId,
          BlockIndex: 0,
          BlockData: Buffer.alloc(EBS_BLOCK, 1),
          DataLength: EBS_BLOCK,
          Checksum: Buffer.alloc(32).toString('base64'),
          ChecksumAlgorithm: 'SHA256',
        }),
      )
      .catch((e: Error) => e);
    // Assess
    expect(again.SnapshotId).toBe(first.SnapshotId);
    expect(refused).toMatchObject({ name: 'ValidationException' });
  });
});

describe('scripted Azure', () => {
  it('throws on an unscripted operation and remembers it for assertNoUnscriptedCalls', async () => {
    // Prepare
    const fake = fakeDeps({ config: { azure: FAKE_AZURE_CONFIG } });
    const clients = await fake.deps.azureClients!();
    // Act
    const err = await clients.compute.disks.get('rg', 'disk-1').catch((e: Error) => e);
    // Assess
    expect((err as Error).name).toBe('UnscriptedFakeCall');
    expect(() => fake.assertNoUnscriptedCalls()).toThrow(/Azure: disks.get\("rg", "disk-1"\)/);
  });
});
