/**
 * The AWS changed-block return steps, domain level, against the embedded deployment's AWS simulator,
 * S3 and DynamoDB with the real SDK clients: a direct-mode job running (placed by
 * test/helpers/aws-direct-job.ts), the guest writes (sim.writeDisk), then stop → snapshot of the root
 * volume → ListChangedBlocks/GetSnapshotBlock → delta in S3 → cleanup, one step function at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { EBSClient } from '@aws-sdk/client-ebs';
import { DeleteSnapshotCommand, DeregisterImageCommand } from '@aws-sdk/client-ec2';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { SAMPLE_OVA } from '../../../infra/local/demo';
import { LOCAL_CREDENTIALS } from '../../../infra/local/constants';
import {
  awsCheckReturnSnapshot,
  awsPublishChangedBlocks,
  awsSnapshotForReturn,
} from '../../../shared/domain/workflow/aws-return';
import { createGateway, type Gateway } from '../../../shared/domain/gateway';
import type { Job } from '../../../shared/domain/job';
import { checkInstance, cleanupAfterReturn, stopInstance } from '../../../shared/domain/workflow/lifecycle';
import { rebuildFromDelta } from '../../../shared/images';
import { DIRECT_REGION, placeRunningDirectJob } from '../../helpers/aws-direct-job';
import { cancelThroughWorkflow } from '../../helpers/cancel';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';
import { sha256 } from '../../helpers/bytes';

const MiB = 1024 * 1024;
const BLOCK = 512 * 1024;

let tg: TestGateway;
let work: string;
beforeAll(async () => {
  tg = await startTestGateway({ azure: false });
  work = await mkdtemp(join(tmpdir(), 'bg-aws-return-'));
});
afterAll(async () => {
  await tg?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function until<T>(step: () => Promise<T & { done: boolean }>): Promise<T> {
  for (let i = 0; i < 2000; i++) {
    const r = await step();
    if (r.done) return r;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error('never done');
}

/** Stop, wait for stopped, snapshot the root volume, wait for it to complete. */
async function stopAndSnapshot(gw: Gateway, jobId: string): Promise<string> {
  await stopInstance(gw, jobId);
  await until(() => checkInstance(gw, jobId, 'stopped'));
  const { returnSnapshotId } = await awsSnapshotForReturn(gw, jobId);
  await until(() => awsCheckReturnSnapshot(gw, jobId));
  return returnSnapshotId;
}

/** The error a call ends with (a call that succeeds is itself a failure of the test). */
function failureOf(call: Promise<unknown>): Promise<Error> {
  return call.then(
    () => new Error('the call succeeded'),
    (e: unknown) => e as Error,
  );
}

async function download(gw: Gateway, key: string, file: string): Promise<void> {
  const { body } = await gw.staging.read(key);
  await pipeline(Readable.from(body), createWriteStream(file));
}

/** What the sim holds for the job: its instance, AMI and snapshots (retained ones included). */
function simLeftovers(ids: string[]) {
  const r = tg.sim.resources();
  return [...r.instances, ...r.images, ...r.snapshots].filter((x) => ids.includes(x.id));
}

describe('AWS changed-block return (domain steps)', () => {
  it('publishes only the changed blocks as a delta that rebuilds the guest-modified disk', async () => {
    // Prepare: running, the guest writes three ranges (one across a block boundary)
    const { gw, job, original } = await placeRunningDirectJob(tg, { vmName: 'changed' });
    const instanceId = job.cloud.instanceId!;
    const writes: Array<[number, Buffer]> = [
      [3 * MiB + 100, randomBytes(4096)],
      [10 * MiB - 1000, randomBytes(2000)],
      [40 * MiB, randomBytes(BLOCK)],
    ];
    for (const [offset, data] of writes) await tg.sim.writeDisk(instanceId, offset, data);
    const expected = Buffer.from(original);
    for (const [offset, data] of writes) data.copy(expected, offset);

    // Act
    const returnSnapshotId = await stopAndSnapshot(gw, job.jobId);
    const published = await awsPublishChangedBlocks(gw, job.jobId);
    const deltaFile = join(work, 'changed.bgdelta');
    await download(gw, published.key, deltaFile);
    const rebuilt = await rebuildFromDelta({
      base: SAMPLE_OVA,
      delta: deltaFile,
      out: join(work, 'changed.raw'),
      to: 'raw',
    });
    const cleaned = await cleanupAfterReturn(gw, job.jobId);
    const after = await gw.store.get(job.jobId);

    // Assess: four blocks changed (one write spans two), only those read, the disk rebuilt bit for bit
    expect(published).toMatchObject({ full: false, matchesOriginal: false, diskSha256: sha256(expected) });
    expect(published.changedBytes).toBe(4 * BLOCK);
    expect(published.readBytes).toBe(4 * BLOCK);
    expect(rebuilt.sha256).toBe(sha256(expected));
    expect((await stat(deltaFile)).size).toBe(published.sizeBytes);
    expect(after.returned).toMatchObject({
      format: 'delta',
      baseDiskSha256: sha256(original),
      diskSha256: sha256(expected),
      matchesOriginal: false,
    });
    expect(after.bytes).toMatchObject({ exported: 4 * BLOCK, changed: 4 * BLOCK });
    expect(after.cloud.returnSnapshotId).toBe(returnSnapshotId);
    expect(after.steps.map((s) => s.name)).toEqual(['inspect', 'stop', 'snapshot', 'publish', 'cleanup']);
    // Assess: instance, AMI, both snapshots and the staged image are gone; the delta is kept
    expect(cleaned.removed).toBe(5);
    expect(after.resources.filter((r) => !r.removedAt)).toEqual([
      expect.objectContaining({ type: 's3-object', id: published.key, retained: true }),
    ]);
    expect(
      simLeftovers([instanceId, job.cloud.amiId!, job.cloud.baseSnapshotId!, returnSnapshotId]).filter(
        (x) => x.state !== 'terminated',
      ),
    ).toEqual([]);
  });

  it('creates one snapshot however often the step is retried, also after a crash before recording it', async () => {
    // Prepare
    const { gw, job } = await placeRunningDirectJob(tg, { vmName: 'retried' });
    await stopInstance(gw, job.jobId);
    await until(() => checkInstance(gw, job.jobId, 'stopped'));
    const before = tg.sim.resources().snapshots.length;

    // Act: the step, a plain retry, and a retry after a crash that lost the record
    const first = await awsSnapshotForReturn(gw, job.jobId);
    const retried = await awsSnapshotForReturn(gw, job.jobId);
    await gw.store.update(job.jobId, (j) => {
      delete j.cloud.returnSnapshotId;
      j.resources = j.resources.filter((r) => r.id !== first.returnSnapshotId);
    });
    const afterCrash = await awsSnapshotForReturn(gw, job.jobId);

    // Assess
    expect(retried.returnSnapshotId).toBe(first.returnSnapshotId);
    expect(afterCrash.returnSnapshotId).toBe(first.returnSnapshotId);
    expect(tg.sim.resources().snapshots.length).toBe(before + 1);
    const recorded = (await gw.store.get(job.jobId)).resources.filter((r) => r.id === first.returnSnapshotId);
    expect(recorded).toHaveLength(1);
    await until(() => awsCheckReturnSnapshot(gw, job.jobId));
    await cleanupAfterReturn(gw, job.jobId);
  });

  it('finds a snapshot a crashed step never recorded: the next attempt records it, a cancel removes it', async () => {
    // Prepare: attempt 1 snapshots, then dies before recording (the record is dropped)
    const { gw, job } = await placeRunningDirectJob(tg, { vmName: 'crashed' });
    await stopInstance(gw, job.jobId);
    await until(() => checkInstance(gw, job.jobId, 'stopped'));
    const lost = await awsSnapshotForReturn(gw, job.jobId);
    const forget = (j: Job) => {
      delete j.cloud.returnSnapshotId;
      j.resources = j.resources.filter((r) => r.id !== lost.returnSnapshotId);
    };
    await gw.store.update(job.jobId, forget);

    // Act: a second return attempt, then (after forgetting both) a cancel
    await gw.store.update(job.jobId, (j) => {
      j.execution = { ...j.execution, returnAttempts: 2 };
    });
    const second = await awsSnapshotForReturn(gw, job.jobId);
    const recorded = (await gw.store.get(job.jobId)).resources.map((r) => r.id);
    await gw.store.update(job.jobId, (j) => {
      forget(j);
      j.resources = j.resources.filter((r) => r.id !== second.returnSnapshotId);
    });
    const cancelled = await cancelThroughWorkflow(tg, gw, job.jobId);

    // Assess
    expect(second.returnSnapshotId).not.toBe(lost.returnSnapshotId);
    expect(recorded).toEqual(expect.arrayContaining([lost.returnSnapshotId, second.returnSnapshotId]));
    expect(cancelled.state).toBe('cancelled');
    expect(simLeftovers([lost.returnSnapshotId, second.returnSnapshotId, job.cloud.amiId!])).toEqual([]);
  });

  it('returns an unchanged VM as an empty delta, and keeps the cache-retained snapshot and AMI', async () => {
    // Prepare: the snapshot and AMI belong to the image cache
    const { gw, job, original } = await placeRunningDirectJob(tg, { vmName: 'unchanged', cached: true });

    // Act
    const returnSnapshotId = await stopAndSnapshot(gw, job.jobId);
    const published = await awsPublishChangedBlocks(gw, job.jobId);
    await cleanupAfterReturn(gw, job.jobId);
    const after = await gw.store.get(job.jobId);

    // Assess: header + trailer only, nothing read from EBS
    expect(published).toMatchObject({ matchesOriginal: true, diskSha256: sha256(original), readBytes: 0 });
    expect(published.sizeBytes).toBe(144);
    const left = simLeftovers([
      job.cloud.instanceId!,
      job.cloud.amiId!,
      job.cloud.baseSnapshotId!,
      returnSnapshotId,
    ])
      .filter((x) => x.state !== 'terminated')
      .map((x) => x.id)
      .sort();
    expect(left).toEqual([job.cloud.amiId!, job.cloud.baseSnapshotId!].sort());
    expect(
      after.resources
        .filter((r) => !r.removedAt)
        .map((r) => r.type)
        .sort(),
    ).toEqual(['ami', 's3-object', 'snapshot']);
    // The cache owns them: remove them here so the simulator ends empty
    const ec2 = tg.deps.ec2For(DIRECT_REGION);
    await ec2.send(new DeregisterImageCommand({ ImageId: job.cloud.amiId! }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: job.cloud.baseSnapshotId! }));
  });

  it('leaves a throttled read to the workflow retry, then publishes', async () => {
    // Prepare: every GetSnapshotBlock throttled (beyond the SDK's own retries)
    const { gw, job } = await placeRunningDirectJob(tg, { vmName: 'throttled' });
    await tg.sim.writeDisk(job.cloud.instanceId!, 5 * MiB, randomBytes(1000));
    await stopAndSnapshot(gw, job.jobId);
    tg.sim.setFaults({ throttle: { actions: ['GetSnapshotBlock'] } });

    // Act
    const throttled = await failureOf(awsPublishChangedBlocks(gw, job.jobId));
    const between = await gw.store.get(job.jobId);
    tg.sim.setFaults({});
    const published = await awsPublishChangedBlocks(gw, job.jobId);

    // Assess: the first try is retryable and recorded nothing; the retry publishes
    expect(throttled).toMatchObject({ name: 'CloudThrottled', code: 'RequestThrottledException' });
    expect(between.error).toBeUndefined();
    expect(between.returned).toBeUndefined();
    expect(published.readBytes).toBe(BLOCK);
    await cleanupAfterReturn(gw, job.jobId);
  });

  it('falls back to a full copy when the base snapshot was deleted outside burstgate', async () => {
    // Prepare: the guest writes; someone deregisters the AMI and deletes the uploaded snapshot
    const { gw, job, original } = await placeRunningDirectJob(tg, { vmName: 'no-base' });
    const write = randomBytes(100_000);
    await tg.sim.writeDisk(job.cloud.instanceId!, 20 * MiB + 7, write);
    const expected = Buffer.from(original);
    write.copy(expected, 20 * MiB + 7);
    const ec2 = tg.deps.ec2For(DIRECT_REGION);
    await ec2.send(new DeregisterImageCommand({ ImageId: job.cloud.amiId! }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: job.cloud.baseSnapshotId! }));

    // Act
    await stopAndSnapshot(gw, job.jobId);
    const published = await awsPublishChangedBlocks(gw, job.jobId);
    const deltaFile = join(work, 'full.bgdelta');
    await download(gw, published.key, deltaFile);
    const rebuilt = await rebuildFromDelta({
      base: SAMPLE_OVA,
      delta: deltaFile,
      out: join(work, 'full.raw'),
      to: 'raw',
    });
    await cleanupAfterReturn(gw, job.jobId);
    const after = await gw.store.get(job.jobId);

    // Assess: a delta naming no base, which rebuilds to the modified disk
    expect(published.full).toBe(true);
    expect(after.returned?.baseDiskSha256).toBeUndefined();
    expect(after.steps.find((s) => s.name === 'publish')?.detail).toMatch(/^full copy/);
    expect(rebuilt.sha256).toBe(sha256(expected));
    expect(published.diskSha256).toBe(sha256(expected));
    expect(after.resources.filter((r) => !r.removedAt).map((r) => r.type)).toEqual(['s3-object']);
  });

  it('grows the returned disk to the volume size when the guest wrote past the disk capacity', async () => {
    // Prepare: the sample disk is 64 MiB on a 1 GiB volume; the guest writes at 100 MiB
    const { gw, job, original } = await placeRunningDirectJob(tg, { vmName: 'grown' });
    const write = randomBytes(3000);
    const at = 100 * MiB + 5;
    await tg.sim.writeDisk(job.cloud.instanceId!, at, write);
    const GiB = 1024 * MiB;
    const expected = createHash('sha256').update(original);
    const zeroMiB = Buffer.alloc(MiB);
    for (let pos = original.length; pos < at;) {
      const n = Math.min(MiB, at - pos);
      expected.update(zeroMiB.subarray(0, n));
      pos += n;
    }
    expected.update(write);
    for (let pos = at + write.length; pos < GiB;) {
      const n = Math.min(MiB, GiB - pos);
      expected.update(zeroMiB.subarray(0, n));
      pos += n;
    }
    const expectedSha = expected.digest('hex');

    // Act
    await stopAndSnapshot(gw, job.jobId);
    const published = await awsPublishChangedBlocks(gw, job.jobId);
    const deltaFile = join(work, 'grown.bgdelta');
    await download(gw, published.key, deltaFile);
    const rebuilt = await rebuildFromDelta({
      base: SAMPLE_OVA,
      delta: deltaFile,
      out: join(work, 'grown.raw'),
      to: 'raw',
    });
    await cleanupAfterReturn(gw, job.jobId);

    // Assess: no byte lost; the one changed block read once to find it, once to publish it
    expect(published.diskSha256).toBe(expectedSha);
    expect(rebuilt.sha256).toBe(expectedSha);
    expect((await stat(join(work, 'grown.raw'))).size).toBe(GiB);
    expect(published.changedBytes).toBe(BLOCK);
    expect(published.readBytes).toBe(2 * BLOCK);
    await rm(join(work, 'grown.raw'));
  });

  it('fails clearly on a block whose checksum does not match, publishing nothing', async () => {
    // Prepare: an EBS client whose answers are damaged on the way (the Checksum header altered)
    const { job } = await placeRunningDirectJob(tg, { vmName: 'damaged' });
    await tg.sim.writeDisk(job.cloud.instanceId!, 6 * MiB, randomBytes(10_000));
    const damaged = new EBSClient({
      endpoint: tg.sim.url,
      region: DIRECT_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    damaged.middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'GetSnapshotBlockCommand') {
          (out.output as { Checksum?: string }).Checksum = createHash('sha256')
            .update('other')
            .digest('base64');
        }
        return out;
      },
      { step: 'initialize', name: 'damageChecksum' },
    );
    const gw = createGateway({ ...tg.deps, ebsFor: () => damaged });
    await stopAndSnapshot(gw, job.jobId);

    // Act
    const failure = await failureOf(awsPublishChangedBlocks(gw, job.jobId));
    const after = await gw.store.get(job.jobId);
    const objects = await gw.s3.send(
      new ListObjectsV2Command({ Bucket: gw.staging.bucket, Prefix: `returns/${job.jobId}/` }),
    );

    // Assess
    expect(failure).toMatchObject({ name: 'ExportFailed', code: 'ChecksumMismatch' });
    expect(failure.message).toMatch(/SHA-256 .* but EBS announced/);
    expect(after.error).toMatchObject({ type: 'export-failed', step: 'publish' });
    expect(after.returned).toBeUndefined();
    expect(objects.Contents ?? []).toEqual([]);
    damaged.destroy();
    await cleanupAfterReturn(createGateway(tg.deps), job.jobId);
  });
});
