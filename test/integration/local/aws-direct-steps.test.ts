/**
 * The AWS direct domain steps against the AWS simulator, s3rver and dynalite, called one by one
 * as the workflow would (and as Step Functions retries them): a retried step creates nothing
 * twice, a throttled EBS call is retried to success, and a failure leaves no snapshot or AMI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListSnapshotBlocksCommand } from '@aws-sdk/client-ebs';
import {
  awsCheckSnapshot,
  awsFinishSnapshot,
  awsPrepareSnapshot,
  awsPutBlocks,
  awsRegisterImage,
  type PutBlocksResult,
} from '../../../shared/domain/workflow/aws-direct';
import { createGateway, type Gateway } from '../../../shared/domain/gateway';
import { newJobId } from '../../../shared/domain/ids';
import { compensate } from '../../../shared/domain/workflow/lifecycle';
import { inspectImage } from '../../../shared/domain/workflow/inspect';
import { convertImage } from '../../../shared/images';
import { SAMPLE_OVA } from '../../../infra/local/demo';
import { nonZeroBlocks } from '../../helpers/aws-sim';
import { AWS_TARGET, startTestGateway, type TestGateway } from '../../helpers/embedded';

let tg: TestGateway;
let work: string;
let disk: Buffer;

beforeAll(async () => {
  tg = await startTestGateway();
  work = await mkdtemp(join(tmpdir(), 'bg-direct-steps-'));
  const raw = join(work, 'sample.raw');
  await convertImage(SAMPLE_OVA, raw, 'raw');
  disk = await readFile(raw);
});
afterAll(async () => {
  await tg?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A direct-mode job whose raw disk is staged and inspected, as the workflow has it before PrepareSnapshot. */
async function inspectedJob(gw: Gateway, vmName: string): Promise<string> {
  const now = new Date();
  const jobId = newJobId(now);
  const key = `staging/${jobId}/${vmName}.img`;
  await gw.s3.send(new PutObjectCommand({ Bucket: gw.staging.bucket, Key: key, Body: disk }));
  await gw.store.create({
    jobId,
    vmName,
    state: 'inspecting',
    target: { ...AWS_TARGET, mode: 'direct' },
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: 1,
    image: { format: 'raw', bucket: gw.staging.bucket, key, sizeBytes: disk.length },
    resources: [{ type: 's3-object', id: key, location: gw.staging.bucket, createdAt: now.toISOString() }],
    steps: [],
    bytes: { uploaded: disk.length },
    cloud: {},
  });
  const inspected = await inspectImage(gw, jobId);
  expect(inspected.mode).toBe('direct');
  return jobId;
}

/** What the simulator holds now: snapshot and AMI ids. */
function simIds() {
  const r = tg.sim.resources();
  return { snapshots: r.snapshots.map((s) => s.id), images: r.images.map((i) => i.id) };
}

/** Blocks written into a snapshot (ListSnapshotBlocks; the snapshot must be completed). */
async function writtenBlocks(snapshotId: string): Promise<number[]> {
  const ebs = tg.deps.ebsFor('us-east-1');
  const out: number[] = [];
  let token: string | undefined;
  do {
    const page = await ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, NextToken: token }));
    out.push(...(page.Blocks ?? []).map((b) => b.BlockIndex!));
    token = page.NextToken;
  } while (token);
  return out.sort((a, b) => a - b);
}

const died = () => Object.assign(new Error('Task timed out'), { name: 'Sandbox.Timedout' });

async function untilSnapshotCompleted(gw: Gateway, jobId: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await awsCheckSnapshot(gw, jobId)).done) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the snapshot did not complete');
}

describe('AWS direct steps retried', () => {
  it('create one snapshot, put each block once per try, and register one AMI, whatever dies after the cloud acted', async () => {
    // Prepare: a gateway whose StartSnapshot and RegisterImage "die" once after the cloud acted
    const gw = createGateway(tg.deps);
    const jobId = await inspectedJob(gw, 'retried-vm');
    const before = simIds();
    const snapshots = gw.awsSnapshotWriter;
    const start = snapshots.startSnapshot.bind(snapshots);
    const register = snapshots.registerImage.bind(snapshots);
    let firstSnapshot: string | undefined;
    let firstImage: string | undefined;
    snapshots.startSnapshot = async (job, opts) => {
      firstSnapshot = (await start(job, opts)).snapshotId;
      throw died();
    };
    snapshots.registerImage = async (job, opts) => {
      firstImage = await register(job, opts);
      throw died();
    };

    // Act: every step as Step Functions runs it after a timeout — again
    await expect(awsPrepareSnapshot(gw, jobId)).rejects.toThrow('Task timed out');
    snapshots.startSnapshot = start;
    const plan = await awsPrepareSnapshot(gw, jobId);
    const planAgain = await awsPrepareSnapshot(gw, jobId);
    const results: PutBlocksResult[] = [];
    for (const range of plan.ranges) {
      await awsPutBlocks(gw, jobId, range);
      results.push(await awsPutBlocks(gw, jobId, range));
    }
    await awsFinishSnapshot(gw, jobId, results);
    const finishedAgain = await awsFinishSnapshot(gw, jobId, results);
    await untilSnapshotCompleted(gw, jobId);
    await expect(awsRegisterImage(gw, jobId)).rejects.toThrow('Task timed out');
    snapshots.registerImage = register;
    const image = await awsRegisterImage(gw, jobId);
    const imageAgain = await awsRegisterImage(gw, jobId);

    // Assess: one snapshot, the one the first try started; one AMI, the first try's
    const after = simIds();
    const newSnapshots = after.snapshots.filter((s) => !before.snapshots.includes(s));
    const newImages = after.images.filter((i) => !before.images.includes(i));
    expect(newSnapshots).toEqual([firstSnapshot]);
    expect(plan.snapshotId).toBe(firstSnapshot);
    expect(planAgain.snapshotId).toBe(firstSnapshot);
    expect(plan.ranges.length).toBe(4); // 64 MiB in 16 MiB ranges (the embedded chunk size)
    expect(newImages).toEqual([firstImage]);
    expect(image.amiId).toBe(firstImage);
    expect(imageAgain.amiId).toBe(firstImage);
    // the snapshot holds exactly the disk's non-zero blocks, and the job counts each once
    expect(await writtenBlocks(firstSnapshot!)).toEqual(nonZeroBlocks(disk));
    expect(finishedAgain.changedBlocksCount).toBe(nonZeroBlocks(disk).length);
    const job = await gw.store.get(jobId);
    expect(job.bytes.blocksUploaded).toBe(nonZeroBlocks(disk).length);
    expect(job.resources.filter((r) => r.type === 'snapshot' || r.type === 'ami').map((r) => r.id)).toEqual([
      firstSnapshot,
      firstImage,
    ]);
    expect(job.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['inspect', 'succeeded'],
      ['snapshot-upload', 'succeeded'],
      ['register-image', 'succeeded'],
    ]);

    // and a compensation removes both (the job failed before the image cache took them)
    await compensate(gw, jobId, { Error: 'States.Timeout', Cause: 'test' });
    expect(simIds()).toEqual(before);
    expect((await gw.store.get(jobId)).state).toBe('failed');
  });

  it('retries PutSnapshotBlock throttled beyond the SDK retries as a CloudThrottled step error, then succeeds', async () => {
    // Prepare
    const gw = createGateway(tg.deps);
    const jobId = await inspectedJob(gw, 'throttled-vm');
    const plan = await awsPrepareSnapshot(gw, jobId);
    const range = plan.ranges[0]!;
    tg.sim.setFaults({ throttle: { actions: ['PutSnapshotBlock'], count: 10 } });

    // Act
    const first = await awsPutBlocks(gw, jobId, range).catch((e: unknown) => e as Error);
    tg.sim.setFaults({});
    const retried = await awsPutBlocks(gw, jobId, range);

    // Assess: the workflow's Retry matches CloudThrottled; the job records no error for it
    expect(first).toMatchObject({ name: 'CloudThrottled', code: 'RequestThrottledException' });
    expect(retried.blocksPut).toBeGreaterThan(0);
    expect((await gw.store.get(jobId)).error).toBeUndefined();
    await compensate(gw, jobId);
  });

  it('a job that died between StartSnapshot and recording it leaves nothing after compensation', async () => {
    // Prepare: StartSnapshot succeeds in EBS, the Lambda dies, and the workflow gives up
    const gw = createGateway(tg.deps);
    const jobId = await inspectedJob(gw, 'orphan-vm');
    const before = simIds();
    const snapshots = gw.awsSnapshotWriter;
    const start = snapshots.startSnapshot.bind(snapshots);
    snapshots.startSnapshot = async (job, opts) => {
      await start(job, opts);
      throw died();
    };
    await expect(awsPrepareSnapshot(gw, jobId)).rejects.toThrow('Task timed out');
    expect(simIds().snapshots.length).toBe(before.snapshots.length + 1);

    // Act
    await compensate(gw, jobId, { Error: 'Sandbox.Timedout', Cause: 'Task timed out' });

    // Assess: the snapshot tagged with the job was found, recorded and removed
    const job = await gw.store.get(jobId);
    expect(simIds()).toEqual(before);
    expect(job.state).toBe('failed');
    expect(job.resources.filter((r) => r.type === 'snapshot').every((r) => r.removedAt)).toBe(true);
    expect(job.resources.some((r) => r.type === 'snapshot')).toBe(true);
  });
});
