/**
 * Offload · Inspect (shared/domain/workflow/inspect.ts) on small images generated in memory: what
 * it records for an image it accepts, and the images it rejects before anything is created in a
 * cloud, each with its reason on the job.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../shared/domain/job';
import { inspectImage } from '../../../shared/domain/workflow/inspect';
import { compensate } from '../../../shared/domain/workflow/lifecycle';
import {
  AZURE,
  MiB,
  failureOf,
  fixedVhdOf,
  mbrDisk,
  ovaOf,
  placeJob,
  sha256,
  stagedJob,
  stepTest,
  streamVmdkOf,
  unpartitionedDisk,
  type StepTest,
} from './fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest();
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

/** Inspect failed: the job says why, and nothing but the staged upload is recorded. */
async function expectRejected(job: Job, detail: string | RegExp, title = 'The image was rejected') {
  const err = await failureOf(inspectImage(t.gw, job.jobId));
  const after = await t.gw.store.get(job.jobId);
  expect(err.name).toBe('ImageRejected');
  expect(after.error).toEqual({
    type: 'image-rejected',
    title,
    detail: typeof detail === 'string' ? detail : expect.stringMatching(detail),
    step: 'inspect',
  });
  expect(after.steps.at(-1)).toMatchObject({ name: 'inspect', outcome: 'failed' });
  expect(after.resources.map((r) => r.type)).toEqual(['s3-object']);
  expect(after.cloud).toEqual({});
  expect(t.fake.ec2.calls).toEqual([]);
  expect(t.fake.ebs.calls).toEqual([]);
  return after;
}

describe('an image inspect accepts', () => {
  it('raw: records the file and disk SHA-256, capacity, partition table and where the disk lies', async () => {
    // Prepare
    const disk = mbrDisk(4 * MiB);
    const job = await stagedJob(t, disk, { format: 'raw' });
    // Act
    const out = await inspectImage(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ diskSha256: sha256(disk), format: 'raw', mode: 'import' });
    expect(after.image).toMatchObject({
      sha256: sha256(disk),
      diskSha256: sha256(disk),
      diskCapacityBytes: 4 * MiB,
      partitionTable: 'mbr',
      disk: { offset: 0, size: disk.length, format: 'raw' },
    });
    // a bare disk says nothing about its guest: VM Import, which checks it and injects drivers
    expect(after.target).toMatchObject({ mode: 'import', modeReason: expect.stringMatching(/no OVF/) });
    expect(after.steps.at(-1)).toMatchObject({ name: 'inspect', outcome: 'succeeded' });
    expect(after.activeStep).toBeUndefined();
  });

  it('OVA: reads the hardware from the OVF and picks direct for a guest that boots on EC2 as it is', async () => {
    // Prepare
    const disk = mbrDisk(4 * MiB);
    const ova = await ovaOf(disk, { osType: 'ubuntu64Guest', firmware: 'efi' });
    const job = await stagedJob(t, ova, { format: 'ova' });
    // Act
    const out = await inspectImage(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ diskSha256: sha256(disk), format: 'ova/vmdk-stream-optimized', mode: 'direct' });
    expect(after.hardware).toMatchObject({
      vcpus: 2,
      memoryMiB: 2048,
      firmware: 'efi',
      osType: 'ubuntu64Guest',
      disks: [{ name: 'vm-01-disk1.vmdk', capacityBytes: 4 * MiB }],
    });
    expect(after.image.sha256).toBe(sha256(ova));
    // the disk entry lies inside the OVA: later steps read it there by ranged GETs
    expect(after.image.disk?.offset).toBeGreaterThan(0);
    expect(after.image.disk?.format).toBe('vmdk-stream-optimized');
  });

  it.each([
    ['vhd', fixedVhdOf],
    ['vmdk', streamVmdkOf],
  ] as const)('%s: measures the disk content, not the file', async (format, write) => {
    // Prepare
    const disk = mbrDisk(4 * MiB, 3);
    const file = await write(disk);
    const job = await stagedJob(t, file, { format, sha256: sha256(file) });
    // Act
    const out = await inspectImage(t.gw, job.jobId);
    // Assess
    expect(out.diskSha256).toBe(sha256(disk));
    expect((await t.gw.store.get(job.jobId)).image).toMatchObject({
      sha256: sha256(file),
      diskCapacityBytes: 4 * MiB,
    });
  });

  it('keeps the AWS mode a resumed workflow resolved before', async () => {
    // Prepare: an earlier inspect chose direct; the workflow was resumed
    const disk = mbrDisk(4 * MiB);
    const job = await stagedJob(t, disk, {
      format: 'raw',
      target: {
        cloud: 'aws',
        region: 'us-east-1',
        instanceType: 't3.medium',
        mode: 'direct',
        modeReason: 'asked',
      },
    });
    // Act
    const out = await inspectImage(t.gw, job.jobId);
    // Assess
    expect(out.mode).toBe('direct');
    expect((await t.gw.store.get(job.jobId)).target).toMatchObject({ mode: 'direct', modeReason: 'asked' });
  });

  it('Azure: a disk of exactly 20 MiB, with no AWS mode', async () => {
    // Prepare
    const job = await stagedJob(t, mbrDisk(20 * MiB), { format: 'raw', target: AZURE });
    // Act
    const out = await inspectImage(t.gw, job.jobId);
    // Assess
    expect(out.mode).toBeUndefined();
    expect((await t.gw.store.get(job.jobId)).target).toEqual(AZURE);
  });
});

describe('an image inspect rejects, before anything is created', () => {
  it('a file that is not the declared format', async () => {
    // Prepare
    const job = await stagedJob(t, mbrDisk(4 * MiB), { format: 'vhd' });
    // Act + Assess
    await expectRejected(job, "the offload declared imageFormat 'vhd' but the file is raw");
  });

  it('a VMDK that VM Import cannot take, saying which ones it takes', async () => {
    // Prepare: a monolithic sparse VMDK's header (magic "KDMV", no stream markers)
    const header = Buffer.alloc(64 * 1024);
    header.writeUInt32LE(0x564d444b, 0);
    const job = await stagedJob(t, header, { format: 'vmdk' });
    // Act + Assess
    await expectRejected(
      job,
      "the offload declared imageFormat 'vmdk' but the file is vmdk-monolithic-sparse (AWS VM Import takes only streamOptimized VMDKs)",
    );
  });

  it('a truncated image, with the image error code first', async () => {
    // Prepare
    const vmdk = await streamVmdkOf(mbrDisk(4 * MiB));
    const job = await stagedJob(t, vmdk.subarray(0, Math.floor(vmdk.length / 2)), { format: 'vmdk' });
    // Act + Assess
    await expectRejected(job, /^BG_[A-Z0-9_]+: /);
  });

  it('AWS: a disk with no partition table, as VM Import would ("No valid partitions")', async () => {
    // Prepare
    const job = await stagedJob(t, unpartitionedDisk(4 * MiB), { format: 'raw' });
    // Act + Assess
    await expectRejected(
      job,
      /no MBR or GPT partition table; AWS VM Import rejects such disks \("No valid partitions"\)/,
    );
  });

  it('Azure: a disk with no partition table, which an Azure VM cannot boot', async () => {
    // Prepare
    const job = await stagedJob(t, unpartitionedDisk(20 * MiB), { format: 'raw', target: AZURE });
    // Act + Assess
    await expectRejected(job, /no MBR or GPT partition table, so an Azure VM cannot boot from it/);
  });

  it('a file whose SHA-256 is not the one the client declared', async () => {
    // Prepare
    const disk = mbrDisk(4 * MiB);
    const declared = sha256(Buffer.from('another file'));
    const job = await stagedJob(t, disk, { format: 'raw', sha256: declared });
    // Act
    const after = await expectRejected(
      job,
      `the uploaded file's SHA-256 is ${sha256(disk)}, but the client declared ${declared}`,
      'The upload was corrupted',
    );
    // Assess
    expect(after.image.sha256).toBe(declared);
    expect(after.image.diskSha256).toBeUndefined();
  });

  it('a delta for Azure', async () => {
    // Prepare
    const job = await stagedJob(t, Buffer.from('BGDELTA\n'), { format: 'delta', target: AZURE });
    // Act + Assess
    await expectRejected(job, 'a delta upload needs an AWS direct offload');
  });

  it('Azure: a disk under 20 MiB, with Azure’s rule', async () => {
    // Prepare
    const job = await stagedJob(t, mbrDisk(16 * MiB), { format: 'raw', target: AZURE });
    // Act + Assess
    await expectRejected(
      job,
      /^the disk holds 16777216 bytes .* Azure uploads managed disks of at least 20971520 bytes \(20 MiB\)/,
      'Azure would reject the image',
    );
  });
});

describe('inspect refuses to run', () => {
  it('for a cancelled job, reading nothing', async () => {
    // Prepare
    const job = await stagedJob(t, mbrDisk(4 * MiB), { format: 'raw' });
    await t.gw.store.update(job.jobId, (j) => {
      j.state = 'cancelling';
    });
    const before = t.fake.bucket.commands.length;
    // Act
    const err = await failureOf(inspectImage(t.gw, job.jobId));
    // Assess
    expect(err.code).toBe('JobCancelled');
    expect(t.fake.bucket.commands.length).toBe(before);
    expect((await t.gw.store.get(job.jobId)).state).toBe('cancelling');
  });

  it('when the upload is missing, and the job says so (upload-missing) after compensation', async () => {
    // Prepare: the job says the upload completed, but no object is staged
    const job = await placeJob(t, 'inspecting', (j) => {
      j.uploadCompletedAt = t.gw.now().toISOString();
    });
    // Act: inspect fails; the workflow's Catch hands Lambda's error to Compensate
    const err = await failureOf(inspectImage(t.gw, job.jobId));
    await compensate(t.gw, job.jobId, {
      Error: err.name,
      Cause: JSON.stringify({ errorType: err.name, errorMessage: err.message }),
    });
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err.name).toBe('UploadMissing');
    expect(after.state).toBe('failed');
    expect(after.error).toEqual({
      type: 'upload-missing',
      title: 'The uploaded image is missing',
      detail: `s3://${job.image.bucket}/${job.image.key} does not exist; the upload was not completed`,
      step: 'inspect',
    });
  });
});
