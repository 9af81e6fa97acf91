/**
 * `burstgate offload --incremental` end to end against the embedded gateway: the first offload of a
 * VM has no cached image and goes whole (and becomes the cache); a changed disk then crosses the
 * WAN as a delta of its changed 512 KiB blocks only, which the gateway puts on top of the cached
 * snapshot; unchanged content sends an empty delta and reuses the cached snapshot and AMI. A job
 * uploaded as a delta comes home by `burstgate return --base <the changed local disk>` as a delta of
 * the blocks its guest changed (hashed over its base snapshot: no disk is in staging). A delta
 * that does not fit (another base, blocks cut in the middle, no cached image, not AWS direct) is
 * refused with the reason, before anything is created in the cloud.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelOverHttp } from '../helpers/cancel';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { uploadImage } from '../../shared/client/upload';
import type { JobView } from '../../shared/domain/view';
import { convertImage, openBaseImage } from '../../shared/images';
import { writeDelta, type DeltaExtentInput } from '../../shared/images/delta-writer';
import { callsSince, EBS_BLOCK } from '../helpers/aws-sim';
import { cliAgainst } from '../helpers/cli';
import { AWS_TARGET, startTestGateway, type TestGateway } from '../helpers/embedded';
import { qemuImg } from '../helpers/images/fixtures';
import { sha256 } from '../helpers/bytes';

const KiB = 1024;
const MiB = 1024 * KiB;
const VM = 'incremental-vm';

let tg: TestGateway;
let client: GatewayClient;
let work: string;
let original: Buffer;

beforeAll(async () => {
  tg = await startTestGateway({ azure: false });
  client = new GatewayClient({ baseUrl: tg.apiUrl, apiKey: tg.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-incremental-'));
  await convertImage(SAMPLE_OVA, join(work, 'sample.raw'), 'raw');
  original = await readFile(join(work, 'sample.raw'));
}, 120_000);
afterAll(async () => {
  await tg?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const cli = (args: string[]) => cliAgainst(tg)(args);

function jobIdIn(stdout: string): string {
  const m = /^(job-[0-9a-z]{26}):/m.exec(stdout);
  if (!m?.[1]) throw new Error(`no job id in:\n${stdout}`);
  return m[1];
}

/** The first `length` bytes of the job's instance's root volume. */
async function volumeOf(job: JobView, length: number): Promise<Buffer> {
  const volume = await tg.sim.readDisk('instance', job.cloud.instanceId!);
  const bytes = Buffer.alloc(length);
  for await (const e of volume.extents) {
    if (e.kind === 'data' && e.offset < length) e.data.copy(bytes, e.offset);
  }
  return bytes;
}

/** Uploads a hand-made delta as VM's offload and follows it to its end. */
async function offloadDelta(vmName: string, delta: Buffer): Promise<JobView> {
  const file = join(work, `${randomUUID()}.bgdelta`);
  await writeFile(file, delta);
  const created = await client.createOffload(
    { vmName, imageFormat: 'delta', imageSizeBytes: delta.length, target: AWS_TARGET },
    randomUUID(),
  );
  await client.completeUpload(created.jobId, await uploadImage(file, created.upload));
  return followJob(client, created.jobId, {
    until: (j) => ['running', 'failed', 'cancelled'].includes(j.state),
    intervalMs: 20,
  });
}

async function deltaBytes(
  header: { virtualSize: number; baseCapacity: number; baseSha256: string; resultSha256?: string },
  extents: DeltaExtentInput[],
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of writeDelta({ resultSha256: 'ab'.repeat(32), ...header }, extents)) parts.push(c);
  return Buffer.concat(parts);
}

describe('burstgate offload --incremental', () => {
  it('goes whole once, then as the changed blocks only, then as nothing', async () => {
    // Act 1: no cached image yet
    const r1 = await cli(['offload', SAMPLE_OVA, '--name', VM, '--incremental']);
    const first = await client.getOffload(jobIdIn(r1.stdout));

    // Assess 1: the whole OVA, a full snapshot that becomes the VM's cached image
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stdout).toContain('uploading the whole image');
    expect(first).toMatchObject({ state: 'running', image: { format: 'ova' } });
    expect(first.target).toMatchObject({ mode: 'direct' });
    expect(first.cloud.imageCache).toMatchObject({ outcome: 'full' });
    // a direct job comes back as a delta of its changed blocks: the hint names the base image
    expect(r1.stdout).toContain(
      `bring it home with: burstgate return ${first.jobId} --base ${SAMPLE_OVA} --out ${VM}-returned.ova`,
    );

    // Prepare 2: the disk changes locally: 600 KiB of new data over two blocks, and a block of data trimmed
    const changed = Buffer.from(original);
    const written = 24 * MiB + 8 * KiB; // blocks 48 and 49
    let trimmed = -1; // a block with data, not the partition table's and not one written to
    for (let b = 1; b < changed.length / EBS_BLOCK && trimmed < 0; b++) {
      if (b === 48 || b === 49) continue;
      if (changed.subarray(b * EBS_BLOCK, (b + 1) * EBS_BLOCK).some((x) => x !== 0)) trimmed = b;
    }
    expect(trimmed).toBeGreaterThan(0);
    changed.fill(0, trimmed * EBS_BLOCK, (trimmed + 1) * EBS_BLOCK);
    randomBytes(600 * KiB).copy(changed, written);
    const changedPath = join(work, 'changed.raw');
    await writeFile(changedPath, changed);
    const before2 = tg.sim.calls.length;

    // Act 2
    const r2 = await cli(['offload', changedPath, '--name', VM, '--incremental']);
    const second = await client.getOffload(jobIdIn(r2.stdout));

    // Assess 2: a 1 MiB delta, a child of the cached snapshot with exactly those three blocks; the
    // new instance's volume is the changed disk
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain('2 changed and 1 zeroed block(s)');
    expect(second.state, second.error?.detail).toBe('running');
    expect(second.image).toMatchObject({
      format: 'delta',
      diskSha256: sha256(changed),
      delta: { extents: 2, dataBytes: 2 * EBS_BLOCK, zeroBytes: EBS_BLOCK, baseSha256: sha256(original) },
    });
    expect(second.image.sizeBytes).toBeLessThan(2 * EBS_BLOCK + 4 * KiB);
    expect(second.cloud.imageCache).toMatchObject({ outcome: 'incremental', fromJobId: first.jobId });
    expect(callsSince(tg.sim, before2, 'PutSnapshotBlock')).toBe(3);
    expect(second.bytes.blocksUploaded).toBe(3);
    expect(sha256(await volumeOf(second, changed.length))).toBe(sha256(changed));

    // Act 3: the same disk again
    const before3 = tg.sim.calls.length;
    const r3 = await cli(['offload', changedPath, '--name', VM, '--incremental']);
    const third = await client.getOffload(jobIdIn(r3.stdout));

    // Assess 3: an empty delta; the cached snapshot (now the second job's) is reused, nothing put
    expect(r3.code, r3.stderr).toBe(0);
    expect(r3.stdout).toContain('0 changed and 0 zeroed block(s)');
    expect(third.state, third.error?.detail).toBe('running');
    expect(third.image.sizeBytes).toBeLessThan(1024);
    expect(third.cloud.imageCache).toMatchObject({ outcome: 'reused', fromJobId: second.jobId });
    expect(callsSince(tg.sim, before3, 'PutSnapshotBlock')).toBe(0);
    expect(callsSince(tg.sim, before3, 'StartSnapshot')).toBe(0);
  });

  it("returns a delta-uploaded job through the CLI: the guest's changed blocks onto the changed local disk", async () => {
    // Prepare: the VM's image cached by a whole first offload, whose burst is then over
    const vm = 'incremental-return-vm';
    const simIds = () => {
      const r = tg.sim.resources();
      return [...r.instances, ...r.images, ...r.snapshots].map((x) => x.id).sort();
    };
    const simBefore = new Set(simIds());
    const r1 = await cli(['offload', SAMPLE_OVA, '--name', vm, '--incremental']);
    expect(r1.code, r1.stderr).toBe(0);
    const first = await client.getOffload(jobIdIn(r1.stdout));
    expect(first.cloud.imageCache).toMatchObject({ outcome: 'full' });
    await cancelOverHttp(client, first.jobId);
    // the local disk changes (blocks 60 and 61 rewritten) and goes out again as a delta
    const local = Buffer.from(original);
    randomBytes(2 * EBS_BLOCK).copy(local, 60 * EBS_BLOCK);
    const localPath = join(work, 'incremental-return.raw');
    await writeFile(localPath, local);
    const r2 = await cli(['offload', localPath, '--name', vm, '--incremental']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain('2 changed and 0 zeroed block(s)');
    const second = await client.getOffload(jobIdIn(r2.stdout));
    expect(second.state, second.error?.detail).toBe('running');
    expect(second.image).toMatchObject({
      format: 'delta',
      diskSha256: sha256(local),
      delta: { extents: 1, dataBytes: 2 * EBS_BLOCK, zeroBytes: 0, baseSha256: sha256(original) },
    });
    expect(second.cloud.imageCache).toMatchObject({ outcome: 'incremental', fromJobId: first.jobId });
    // the guest writes into a block the local change rewrote and into one it did not
    const writes: Array<[number, Buffer]> = [
      [61 * EBS_BLOCK + 1000, randomBytes(4 * KiB)],
      [40 * MiB + 4 * KiB, randomBytes(100 * KiB)],
    ];
    for (const [offset, data] of writes) await tg.sim.writeDisk(second.cloud.instanceId!, offset, data);
    const expected = Buffer.from(local);
    for (const [offset, data] of writes) data.copy(expected, offset);
    expect(sha256(await volumeOf(second, expected.length))).toBe(sha256(expected));
    const expectedPath = join(work, 'incremental-return-expected.raw');
    await writeFile(expectedPath, expected);

    // Act: the CLI returns the job and rebuilds on the changed local disk
    const out = join(work, 'incremental-returned.vmdk');
    const r = await cli(['return', second.jobId, '--base', localPath, '--out', out]);
    const returned = await client.getOffload(second.jobId);
    const cached = await client.getImageCache(AWS_TARGET.region, vm);

    // Assess: a delta of the two blocks the guest wrote, against the disk that went out as a delta
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `base ${localPath}: disk content sha256 ${sha256(local)} (the offloaded disk)`,
    );
    expect(r.stdout).toContain(
      `  disk sha256   ${sha256(expected)} (verified: the disk the gateway returned)`,
    );
    expect(returned.state, returned.error?.detail).toBe('returned');
    expect(returned.download).toMatchObject({
      format: 'delta',
      baseDiskSha256: sha256(local),
      diskSha256: sha256(expected),
      matchesOriginal: false,
    });
    expect(returned.steps.map((s) => s.name)).toEqual([
      'upload',
      'inspect',
      'snapshot-upload',
      'register-image',
      'launch',
      'stop',
      'snapshot',
      'publish',
      'cleanup',
    ]);
    expect(returned.steps.find((s) => s.name === 'publish')?.detail).toMatch(/^delta: 1048576 bytes changed/);
    expect(returned.bytes.changed).toBe(2 * EBS_BLOCK);
    expect(returned.bytes.exported).toBe(2 * EBS_BLOCK);
    expect(returned.download!.sizeBytes).toBeLessThan(2 * EBS_BLOCK + 4 * KiB);
    // the output is the changed local disk with the guest's writes, bit for bit
    const compared = await qemuImg('compare', '-f', 'vmdk', '-F', 'raw', out, expectedPath);
    expect(compared.code, compared.stdout + compared.stderr).toBe(0);
    const back = await openBaseImage(out);
    try {
      expect(back.disk.capacity).toBe(expected.length);
      expect((await back.disk.read(0, expected.length)).equals(expected)).toBe(true);
    } finally {
      await back.close();
    }

    // Assess: of what this test made, the simulator keeps only the cache entry's snapshot and AMI
    expect(cached).toMatchObject({
      jobId: second.jobId,
      snapshotId: second.cloud.baseSnapshotId,
      amiId: second.cloud.amiId,
      diskSha256: sha256(local),
    });
    expect(simIds().filter((id) => !simBefore.has(id))).toEqual([cached!.snapshotId, cached!.amiId!].sort());
    expect(returned.resources.filter((x) => !x.removedAt && !x.retained)).toEqual([]);
  });

  it('refuses deltas that do not fit, with the reason, creating nothing in the cloud', async () => {
    // Prepare: the VM's cached image (from the test above, or made here)
    let cached = await client.getImageCache(AWS_TARGET.region, VM);
    if (!cached) {
      const r = await cli(['offload', SAMPLE_OVA, '--name', VM, '--incremental']);
      expect(r.code, r.stderr).toBe(0);
      cached = await client.getImageCache(AWS_TARGET.region, VM);
    }
    const base = { virtualSize: cached!.capacityBytes, baseCapacity: cached!.capacityBytes };
    const block = { kind: 'data' as const, offset: 8 * EBS_BLOCK, data: randomBytes(EBS_BLOCK) };
    const before = tg.sim.calls.length;

    // Act
    const otherBase = await offloadDelta(
      VM,
      await deltaBytes({ ...base, baseSha256: 'cd'.repeat(32) }, [block]),
    );
    const halfBlock = await offloadDelta(
      VM,
      await deltaBytes({ ...base, baseSha256: cached!.diskSha256 }, [
        { kind: 'data', offset: 8 * EBS_BLOCK + 4096, data: randomBytes(4096) },
      ]),
    );
    const noCache = await offloadDelta(
      'never-offloaded',
      await deltaBytes({ ...base, baseSha256: cached!.diskSha256 }, [block]),
    );
    const azure = await cli([
      'offload',
      SAMPLE_OVA,
      '--cloud',
      'azure',
      '--location',
      'westeurope',
      '--vm-size',
      'Standard_D2s_v3',
      '--incremental',
    ]);
    const importMode = await cli(['offload', SAMPLE_OVA, '--mode', 'import', '--incremental']);
    const toImport = client.createOffload(
      { vmName: VM, imageFormat: 'delta', imageSizeBytes: 1000, target: { ...AWS_TARGET, mode: 'import' } },
      randomUUID(),
    );

    // Assess
    expect(otherBase.state).toBe('failed');
    expect(otherBase.error?.detail).toMatch(
      /delta was made against .* but the cached image of VM "incremental-vm"/,
    );
    expect(halfBlock.state).toBe('failed');
    expect(halfBlock.error?.detail).toContain('does not cover whole 524288-byte blocks');
    expect(noCache.state).toBe('failed');
    expect(noCache.error?.detail).toContain('holds no cached image for VM "never-offloaded"');
    for (const usage of [azure, importMode]) {
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('--incremental puts changed blocks on top of the cached EBS snapshot');
    }
    await expect(toImport).rejects.toMatchObject({ status: 400 });
    await expect(toImport).rejects.toThrow(/imageFormat: a delta/);
    expect(callsSince(tg.sim, before, 'StartSnapshot')).toBe(0);
    expect(callsSince(tg.sim, before, 'PutSnapshotBlock')).toBe(0);
  });

  it("cannot be poisoned: a delta claiming the unchanged disk's hash does not make a later full offload boot its blocks", async () => {
    // Prepare: the VM's image cached by a full direct offload
    const vm = 'poison-vm';
    const r0 = await cli(['offload', SAMPLE_OVA, '--name', vm, '--mode', 'direct']);
    expect(r0.code, r0.stderr).toBe(0);
    const cached = (await client.getImageCache(AWS_TARGET.region, vm))!;
    expect(cached).toMatchObject({ diskSha256: sha256(original), diskSha256Measured: true });
    // a delta that writes its own block 8 but whose trailer claims the result is the unchanged disk
    const planted = randomBytes(EBS_BLOCK);
    const poison = await offloadDelta(
      vm,
      await deltaBytes(
        {
          virtualSize: cached.capacityBytes,
          baseCapacity: cached.capacityBytes,
          baseSha256: cached.diskSha256,
          resultSha256: cached.diskSha256,
        },
        [{ kind: 'data', offset: 8 * EBS_BLOCK, data: planted }],
      ),
    );
    expect(poison.state, poison.error?.detail).toBe('running');
    const poisoned = (await client.getImageCache(AWS_TARGET.region, vm))!;
    expect(poisoned).toMatchObject({
      jobId: poison.jobId,
      diskSha256: sha256(original),
      diskSha256Measured: false,
    });
    const before = tg.sim.calls.length;

    // Act: the unchanged image, offloaded whole
    const r = await cli(['offload', SAMPLE_OVA, '--name', vm, '--mode', 'direct']);
    const clean = await client.getOffload(jobIdIn(r.stdout));

    // Assess: no reuse of the poisoned snapshot; its block was put back from the upload, and the
    // instance boots the original disk
    expect(r.code, r.stderr).toBe(0);
    expect(clean.cloud.imageCache).toMatchObject({ outcome: 'incremental', fromJobId: poison.jobId });
    expect(callsSince(tg.sim, before, 'PutSnapshotBlock')).toBe(1);
    const volume = await volumeOf(clean, original.length);
    expect(sha256(volume)).toBe(sha256(original));
    expect(volume.subarray(8 * EBS_BLOCK, 9 * EBS_BLOCK).equals(planted)).toBe(false);
    expect(await client.getImageCache(AWS_TARGET.region, vm)).toMatchObject({
      jobId: clean.jobId,
      diskSha256Measured: true,
    });
  });
});
