/**
 * The AWS direct offload over HTTP on the embedded deployment: the staged disk's blocks go into an
 * EBS snapshot through the EBS direct APIs (the AWS simulator keeps real bytes), an AMI is
 * registered from it and launched; the image cache makes a changed re-offload move only the changed
 * blocks and an identical one move nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelOverHttp } from '../helpers/cancel';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { uploadImage } from '../../shared/client/upload';
import type { JobView } from '../../shared/domain/view';
import { DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';
import { convertImage, writeOva } from '../../shared/images';
import { diskFromBuffer } from '../../shared/images/extents';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { blockOf, callsSince, EBS_BLOCK, nonZeroBlocks } from '../helpers/aws-sim';
import { collect } from '../helpers/images/fixtures';
import { AWS_TARGET, startTestGateway, type TestGateway } from '../helpers/embedded';

const DIRECT = { ...AWS_TARGET, mode: 'direct' as const };
const SETTLED = ['running', 'failed', 'cancelled'];

let gw: TestGateway;
let client: GatewayClient;
let work: string;
/** The sample VM's 64 MiB disk, raw. */
let sampleDisk: Buffer;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-direct-'));
  const raw = join(work, 'sample.raw');
  await convertImage(SAMPLE_OVA, raw, 'raw');
  sampleDisk = await readFile(raw);
});
afterAll(async () => {
  await gw?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function offload(
  file: string,
  vmName: string,
  imageFormat: 'ova' | 'raw',
  target: Record<string, unknown> = DIRECT,
): Promise<string> {
  const created = await client.createOffload(
    { vmName, imageFormat, imageSizeBytes: (await stat(file)).size, target: target as typeof DIRECT },
    randomUUID(),
  );
  await client.completeUpload(created.jobId, await uploadImage(file, created.upload));
  return created.jobId;
}

const settle = (jobId: string): Promise<JobView> =>
  followJob(client, jobId, { until: (j) => SETTLED.includes(j.state), intervalMs: 20 });

/**
 * Where the instance's root volume differs from `expected` followed by zeros (undefined: equal).
 * Read extent by extent; zero extents are checked against `expected` without allocating them.
 */
async function instanceDiskMismatch(instanceId: string, expected: Buffer): Promise<string | undefined> {
  const disk = await gw.sim.readDisk('instance', instanceId);
  for await (const e of disk.extents) {
    const length = e.kind === 'data' ? e.data.length : e.length;
    const end = Math.min(e.offset + length, expected.length);
    const want = e.offset < expected.length ? expected.subarray(e.offset, end) : Buffer.alloc(0);
    if (e.kind === 'data') {
      if (!e.data.subarray(0, want.length).equals(want)) return `data at ${e.offset} (+${length}) differs`;
      if (e.data.subarray(want.length).some((b) => b !== 0)) return `data past the disk at ${e.offset}`;
    } else if (want.some((b) => b !== 0)) {
      return `zero extent at ${e.offset} (+${length}) where the image holds data`;
    }
  }
  return undefined;
}

/** A copy of `disk` with these blocks overwritten by a pattern (or zeroed). */
function withBlocks(disk: Buffer, changes: Array<{ index: number; fill: number | 'zero' }>): Buffer {
  const out = Buffer.from(disk);
  for (const c of changes) {
    const at = c.index * EBS_BLOCK;
    if (c.fill === 'zero') out.fill(0, at, at + EBS_BLOCK);
    else for (let i = 0; i < EBS_BLOCK; i += 4096) out.fill(c.fill + (i % 251), at + i, at + i + 4096);
  }
  return out;
}

describe('AWS direct offload over HTTP', () => {
  let first: JobView;
  let changedDisk: Buffer;
  let changedJob: JobView;
  let identicalJob: JobView;

  it('puts the non-zero blocks into an EBS snapshot, registers an AMI and runs an instance whose disk is the image', async () => {
    // Prepare
    const before = gw.sim.calls.length;
    const dataBlocks = nonZeroBlocks(sampleDisk);

    // Act
    first = await settle(await offload(SAMPLE_OVA, 'direct-vm', 'ova'));

    // Assess: running, by the direct path (no VM Import), with every resource recorded
    expect(first.state, first.error?.detail).toBe('running');
    expect(first.target).toMatchObject({ mode: 'direct' });
    expect(first.target.cloud === 'aws' && first.target.modeReason).toMatch(/requested/);
    expect(first.steps.map((s) => s.name)).toEqual([
      'upload',
      'inspect',
      'snapshot-upload',
      'register-image',
      'launch',
    ]);
    expect(first.resources.map((r) => r.type).sort()).toEqual(
      ['ami', 'instance', 'multipart-upload', 's3-object', 's3-object', 'snapshot'].sort(),
    );
    expect(callsSince(gw.sim, before, 'ImportImage')).toBe(0);
    expect(first.cloud.imageCache).toEqual({ outcome: 'full' });
    expect(first.cloud.baseSnapshotId).toMatch(/^snap-/);
    expect(first.cloud.amiId).toMatch(/^ami-/);
    // exactly the non-zero blocks moved, once each
    expect(first.bytes.blocksUploaded).toBe(dataBlocks.length);
    expect(first.bytes.ebsBytesWritten).toBe(dataBlocks.length * EBS_BLOCK);
    expect(callsSince(gw.sim, before, 'PutSnapshotBlock')).toBe(dataBlocks.length);
    expect(callsSince(gw.sim, before, 'StartSnapshot')).toBe(1);
    expect(callsSince(gw.sim, before, 'RegisterImage')).toBe(1);
    // the instance's root volume holds the image's disk, bit for bit
    expect(await instanceDiskMismatch(first.cloud.instanceId!, sampleDisk)).toBeUndefined();
    // the image cache took the snapshot, AMI and manifest
    const cached = first.resources.filter((r) => r.imageCache);
    expect(cached.map((r) => r.id).sort()).toEqual(
      [first.cloud.baseSnapshotId, first.cloud.amiId, first.cloud.blockManifestKey].sort(),
    );
    expect(cached.every((r) => r.retained)).toBe(true);
  });

  it('offloads a changed image (~1 % of the blocks) as a child snapshot with only the changed blocks', async () => {
    // Prepare: one data block rewritten, one zero block given data, one data block cleared
    const data = nonZeroBlocks(sampleDisk);
    const zeroBlock = [...Array(sampleDisk.length / EBS_BLOCK).keys()].find((i) => !data.includes(i))!;
    changedDisk = withBlocks(sampleDisk, [
      { index: data[Math.floor(data.length / 2)]!, fill: 0x5a },
      { index: zeroBlock, fill: 0xa5 },
      { index: data[data.length - 1]!, fill: 'zero' },
    ]);
    const file = join(work, 'changed.raw');
    await writeFile(file, changedDisk);
    const before = gw.sim.calls.length;

    // Act
    changedJob = await settle(await offload(file, 'direct-vm', 'raw'));

    // Assess
    expect(changedJob.state, changedJob.error?.detail).toBe('running');
    expect(changedJob.cloud.imageCache).toMatchObject({
      outcome: 'incremental',
      snapshotId: first.cloud.baseSnapshotId,
      fromJobId: first.jobId,
    });
    expect(changedJob.bytes.blocksUploaded).toBe(3);
    expect(callsSince(gw.sim, before, 'PutSnapshotBlock')).toBe(3);
    expect(changedJob.bytes.blocksSkipped).toBe(data.length - 2);
    expect(changedJob.cloud.baseSnapshotId).not.toBe(first.cloud.baseSnapshotId);
    expect(await instanceDiskMismatch(changedJob.cloud.instanceId!, changedDisk)).toBeUndefined();
    // the changed blocks are all EBS has as new in the child
    expect(blockOf(changedDisk, zeroBlock).some((b) => b !== 0)).toBe(true);
  });

  it('re-offloads identical content without uploading anything and reuses the cached AMI', async () => {
    // Prepare
    const file = join(work, 'changed.raw');
    const before = gw.sim.calls.length;

    // Act
    const again = await settle(await offload(file, 'direct-vm', 'raw'));
    identicalJob = again;

    // Assess
    expect(again.state, again.error?.detail).toBe('running');
    expect(again.cloud.imageCache).toMatchObject({
      outcome: 'reused',
      snapshotId: changedJob.cloud.baseSnapshotId,
    });
    expect(again.cloud.amiId).toBe(changedJob.cloud.amiId);
    expect(again.bytes.blocksUploaded).toBe(0);
    expect(callsSince(gw.sim, before, 'PutSnapshotBlock')).toBe(0);
    expect(callsSince(gw.sim, before, 'StartSnapshot')).toBe(0);
    expect(callsSince(gw.sim, before, 'RegisterImage')).toBe(0);
    expect(again.steps.map((s) => s.name)).toEqual(['upload', 'inspect', 'snapshot-upload', 'launch']);
    expect(await instanceDiskMismatch(again.cloud.instanceId!, changedDisk)).toBeUndefined();
    expect(
      again.resources
        .filter((r) => r.imageCache)
        .map((r) => r.type)
        .sort(),
    ).toEqual(['ami', 'snapshot']);
  });

  it('a failed incremental offload removes its own snapshot and AMI and keeps the cached image', async () => {
    // Prepare: changed content again, to an instance type EC2 does not have, in an allowed family (RunInstances fails)
    const file = join(work, 'changed-again.raw');
    await writeFile(file, withBlocks(changedDisk, [{ index: 3, fill: 0x33 }]));

    // Act
    const failed = await settle(
      await offload(file, 'direct-vm', 'raw', { ...DIRECT, instanceType: 't3.nonsense' }),
    );

    // Assess
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatchObject({ type: 'cloud-rejected', step: 'launch' });
    expect(failed.error?.detail).toContain('t3.nonsense');
    expect(failed.cloud.imageCache).toMatchObject({ outcome: 'incremental' });
    const live = gw.sim.resources();
    const liveSnapshots = live.snapshots.map((x) => x.id);
    const liveImages = live.images.map((x) => x.id);
    expect(liveSnapshots).not.toContain(failed.cloud.baseSnapshotId);
    expect(liveImages).not.toContain(failed.cloud.amiId);
    expect(failed.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(liveSnapshots).toContain(changedJob.cloud.baseSnapshotId);
    expect(liveImages).toContain(changedJob.cloud.amiId);
  });

  it('cancels keep what the cache owns; the next cache write removes a replaced image no job uses any more', async () => {
    // Prepare: the first offload's image was replaced by the changed one while it still ran
    await cancelOverHttp(client, first.jobId);
    await cancelOverHttp(client, identicalJob.jobId);
    const cancelled = await client.getOffload(first.jobId);
    const file = join(work, 'changed-third.raw');
    await writeFile(file, withBlocks(changedDisk, [{ index: 5, fill: 0x77 }]));

    // Act: a third content becomes the entry; the changed one's image is still in use (running)
    const third = await settle(await offload(file, 'direct-vm', 'raw'));

    // Assess
    expect(cancelled.state).toBe('cancelled');
    expect(
      cancelled.resources
        .filter((r) => !r.removedAt)
        .map((r) => r.type)
        .sort(),
    ).toEqual(['ami', 's3-object', 'snapshot'].sort());
    expect(third.state, third.error?.detail).toBe('running');
    expect(third.cloud.imageCache).toMatchObject({
      outcome: 'incremental',
      snapshotId: changedJob.cloud.baseSnapshotId,
    });
    const live = gw.sim.resources();
    expect(live.snapshots.map((x) => x.id)).not.toContain(first.cloud.baseSnapshotId);
    expect(live.images.map((x) => x.id)).not.toContain(first.cloud.amiId);
    expect(live.snapshots.map((x) => x.id)).toContain(changedJob.cloud.baseSnapshotId);
    const pruned = await client.getOffload(first.jobId);
    expect(pruned.resources.filter((r) => !r.removedAt)).toEqual([]);
  });

  it('retries throttled and failing EBS and EC2 calls to a running instance', async () => {
    // Prepare
    gw.sim.setFaults({
      throttle: { actions: ['StartSnapshot', 'CompleteSnapshot', 'RegisterImage'], count: 4 },
      serverError: { actions: ['PutSnapshotBlock'], count: 4 },
    });
    const before = gw.sim.calls.length;

    // Act
    const job = await settle(await offload(SAMPLE_OVA, 'direct-retry-vm', 'ova'));
    gw.sim.setFaults({});

    // Assess
    expect(job.state, job.error?.detail).toBe('running');
    const failed = gw.sim.calls.slice(before).filter((c) => c.error);
    expect(failed.length).toBeGreaterThanOrEqual(8);
    expect(job.bytes.blocksUploaded).toBe(nonZeroBlocks(sampleDisk).length);
    expect(await instanceDiskMismatch(job.cloud.instanceId!, sampleDisk)).toBeUndefined();
  });
});

describe('cancelling a direct offload', () => {
  it('while its blocks are being put leaves no snapshot, AMI or instance of the job that the cache does not own', async () => {
    // Prepare: every cloud answer 30 ms late, so the upload takes a while
    gw.sim.setFaults({ latencyMs: 30 });
    const jobId = await offload(SAMPLE_OVA, 'direct-cancel-vm', 'ova');
    await followJob(client, jobId, {
      until: (j) => j.cloud.baseSnapshotId !== undefined || SETTLED.includes(j.state),
      intervalMs: 10,
    });

    // Act
    await cancelOverHttp(client, jobId);
    gw.sim.setFaults({});
    const job = await client.getOffload(jobId);

    // Assess: whatever the cancel caught (a slow machine may see the job already running), what is
    // left is only what the image cache owns
    expect(job.state).toBe('cancelled');
    expect(job.resources.filter((r) => !r.removedAt && !r.imageCache)).toEqual([]);
    const ec2 = gw.deps.ec2For('us-east-1');
    const filter = [{ Name: 'tag:burstgate:job', Values: [jobId] }];
    // Map items still in flight when the execution stopped end on their own; give them a moment
    let left: string[] = [];
    for (let i = 0; i < 100; i++) {
      const snaps = await ec2.send(new DescribeSnapshotsCommand({ Filters: filter }));
      const images = await ec2.send(new DescribeImagesCommand({ Filters: filter }));
      left = [
        ...(snaps.Snapshots ?? []).map((x) => x.SnapshotId!),
        ...(images.Images ?? []).map((x) => x.ImageId!),
      ];
      const owned = new Set(job.resources.filter((r) => r.imageCache).map((r) => r.id));
      left = left.filter((id) => !owned.has(id));
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(left).toEqual([]);
    expect(gw.sim.resources().instances.map((x) => x.id)).not.toContain(job.cloud.instanceId);
  });
});

describe('an incremental re-offload of a dense disk', () => {
  it('moves ~1 % of the blocks when ~1 % of the blocks changed', async () => {
    // Prepare: 128 MiB, the sample's partitioned 64 MiB then 64 MiB of random data (256 blocks)
    const dense = Buffer.concat([sampleDisk, randomBytes(64 * 1024 * 1024)]);
    const base = join(work, 'dense.raw');
    await writeFile(base, dense);
    const baseJob = await settle(await offload(base, 'dense-vm', 'raw'));
    const changed = withBlocks(dense, [
      { index: 130, fill: 0x11 },
      { index: 200, fill: 0x22 },
      { index: 255, fill: 0x33 },
    ]);
    const file = join(work, 'dense-changed.raw');
    await writeFile(file, changed);
    const before = gw.sim.calls.length;

    // Act
    const job = await settle(await offload(file, 'dense-vm', 'raw'));

    // Assess: 3 of the disk's 256 blocks put (1.2 %), everything else taken from the parent
    expect(baseJob.state, baseJob.error?.detail).toBe('running');
    expect(baseJob.bytes.blocksUploaded).toBe(nonZeroBlocks(dense).length);
    expect(job.state, job.error?.detail).toBe('running');
    expect(job.cloud.imageCache).toMatchObject({
      outcome: 'incremental',
      snapshotId: baseJob.cloud.baseSnapshotId,
    });
    expect(callsSince(gw.sim, before, 'PutSnapshotBlock')).toBe(3);
    expect(job.bytes.blocksUploaded).toBe(3);
    expect(job.bytes.ebsBytesWritten).toBe(3 * EBS_BLOCK);
    expect(job.bytes.blocksSkipped).toBe(nonZeroBlocks(changed).length - 3);
    expect(await instanceDiskMismatch(job.cloud.instanceId!, changed)).toBeUndefined();
  });
});

describe('the AWS mode when the request names none', () => {
  let ubuntuJob: JobView;
  let ubuntuOva: string;

  it('goes direct for an OVF whose guest ships NVMe and ENA drivers, booting UEFI as the OVF says', async () => {
    // Prepare: the sample disk in an OVA that says Ubuntu 64-bit on EFI firmware
    const file = join(work, 'ubuntu-efi.ova');
    ubuntuOva = file;
    await writeFile(
      file,
      await collect(
        writeOva({
          vmName: 'ubuntu-efi',
          firmware: 'efi',
          osType: 'ubuntu64Guest',
          disks: [{ fileName: 'ubuntu-efi-disk1.vmdk', disk: diskFromBuffer(sampleDisk) }],
          tmpDir: work,
        }),
      ),
    );

    // Act
    const job = await settle(await offload(file, 'ubuntu-efi', 'ova', AWS_TARGET));
    ubuntuJob = job;

    // Assess
    expect(job.state, job.error?.detail).toBe('running');
    expect(job.target).toMatchObject({
      mode: 'direct',
      modeReason: expect.stringContaining('ubuntu64Guest'),
    });
    expect(job.steps.find((s) => s.name === 'inspect')?.detail).toMatch(/AWS direct: .*ubuntu64Guest/);
    const images = await gw.deps
      .ec2For('us-east-1')
      .send(new DescribeImagesCommand({ ImageIds: [job.cloud.amiId!] }));
    expect(images.Images?.[0]).toMatchObject({
      BootMode: 'uefi',
      EnaSupport: true,
      Architecture: 'x86_64',
      VirtualizationType: 'hvm',
      RootDeviceName: '/dev/xvda',
    });
    expect(await instanceDiskMismatch(job.cloud.instanceId!, sampleDisk)).toBeUndefined();
  });

  it('registers the cached snapshot again when its AMI was deregistered, and the cache keeps the new AMI', async () => {
    // Prepare: the cached AMI is gone (deregistered outside burstgate)
    const ec2 = gw.deps.ec2For('us-east-1');
    await ec2.send(new DeregisterImageCommand({ ImageId: ubuntuJob.cloud.amiId! }));
    const before = gw.sim.calls.length;

    // Act: identical content again, then once more
    const again = await settle(await offload(ubuntuOva, 'ubuntu-efi', 'ova', AWS_TARGET));
    const third = await settle(await offload(ubuntuOva, 'ubuntu-efi', 'ova', AWS_TARGET));

    // Assess: nothing uploaded; one new AMI from the cached snapshot, which the next job reuses
    expect(again.state, again.error?.detail).toBe('running');
    expect(again.cloud.imageCache).toMatchObject({
      outcome: 'reused',
      snapshotId: ubuntuJob.cloud.baseSnapshotId,
    });
    expect(again.cloud.amiId).not.toBe(ubuntuJob.cloud.amiId);
    expect(callsSince(gw.sim, before, 'PutSnapshotBlock')).toBe(0);
    expect(callsSince(gw.sim, before, 'RegisterImage')).toBe(1);
    expect(again.resources.find((r) => r.id === again.cloud.amiId)).toMatchObject({
      retained: true,
      imageCache: true,
    });
    expect(third.cloud.amiId).toBe(again.cloud.amiId);
    expect(await instanceDiskMismatch(again.cloud.instanceId!, sampleDisk)).toBeUndefined();
  });

  it('imports the sample VM (otherLinux64Guest) through VM Import, saying why', async () => {
    // Act
    const job = await settle(await offload(SAMPLE_OVA, 'sample-import', 'ova', AWS_TARGET));

    // Assess
    expect(job.state, job.error?.detail).toBe('running');
    expect(job.target).toMatchObject({
      mode: 'import',
      modeReason: expect.stringContaining('otherLinux64Guest'),
    });
    expect(job.resources.map((r) => r.type)).toContain('import-task');
    expect(job.cloud.imageCache).toBeUndefined();
  });
});
