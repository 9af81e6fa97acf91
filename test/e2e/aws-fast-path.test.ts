/**
 * The AWS fast path end to end, as a scheduler and an operator would drive it: the sample VM is
 * offloaded with `target.mode: 'direct'` (EBS direct APIs → snapshot → AMI → instance), its guest
 * changes ~1 % of the disk (sim.writeDisk stands in for it), `burstgate return --base <the OVA>`
 * brings back only the changed 512 KiB blocks and rebuilds the disk bit-identical, and offloading
 * that changed disk again moves only the blocks that differ from the image cache's snapshot.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { uploadImage } from '../../shared/client/upload';
import type { JobView } from '../../shared/domain/view';
import { convertImage } from '../../shared/images';
import { callsSince, EBS_BLOCK } from '../helpers/aws-sim';
import { cliAgainst } from '../helpers/cli';
import { AWS_TARGET, startTestGateway, type TestGateway } from '../helpers/embedded';
import { sha256 } from '../helpers/bytes';

const KiB = 1024;
const MiB = 1024 * KiB;
const DIRECT = { ...AWS_TARGET, mode: 'direct' as const };

let tg: TestGateway;
let client: GatewayClient;
let work: string;
let original: Buffer;

beforeAll(async () => {
  tg = await startTestGateway({ azure: false });
  client = new GatewayClient({ baseUrl: tg.apiUrl, apiKey: tg.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-fast-path-'));
  await convertImage(SAMPLE_OVA, join(work, 'sample.raw'), 'raw');
  original = await readFile(join(work, 'sample.raw'));
}, 120_000);
afterAll(async () => {
  await tg?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const cli = (args: string[]) => cliAgainst(tg)(args);

async function offloadDirect(file: string, imageFormat: 'ova' | 'raw'): Promise<JobView> {
  const created = await client.createOffload(
    { vmName: 'fast-path-vm', imageFormat, imageSizeBytes: (await stat(file)).size, target: DIRECT },
    randomUUID(),
  );
  await client.completeUpload(created.jobId, await uploadImage(file, created.upload));
  return followJob(client, created.jobId, {
    until: (j) => ['running', 'failed', 'cancelled'].includes(j.state),
    intervalMs: 20,
  });
}

/** EBS/EC2 calls the simulator answered without error since `from`, by action. */

describe('AWS fast path: direct offload, changed-block return, incremental re-offload', () => {
  it('moves only changed blocks each way and brings the disk back bit-identical', async () => {
    // Prepare: the sample VM runs on AWS by the direct path
    const first = await offloadDirect(SAMPLE_OVA, 'ova');
    expect(first.state, first.error?.detail).toBe('running');
    expect(first.steps.map((s) => s.name)).toContain('snapshot-upload');
    const instanceId = first.cloud.instanceId!;
    // the guest changes ~1 % of its 64 MiB disk: a 600 KiB file and a 40 KiB note, inside two blocks
    const writes: Array<[number, Buffer]> = [
      [24 * MiB + 8 * KiB, randomBytes(600 * KiB)],
      [24 * MiB + 700 * KiB, randomBytes(40 * KiB)],
    ];
    for (const [offset, data] of writes) await tg.sim.writeDisk(instanceId, offset, data);
    const changed = Buffer.from(original);
    for (const [offset, data] of writes) data.copy(changed, offset);
    const changedBlocks = new Set(
      writes.flatMap(([offset, data]) => [
        Math.floor(offset / EBS_BLOCK),
        Math.floor((offset + data.length - 1) / EBS_BLOCK),
      ]),
    ).size;

    // Act 1: return, rebuilt on the offloaded OVA as a raw disk
    const back = join(work, 'back.raw');
    const r = await cli(['return', first.jobId, '--base', SAMPLE_OVA, '--out', back, '--to', 'raw']);
    const returned = await client.getOffload(first.jobId);

    // Assess 1: the guest's disk, bit for bit, from the changed blocks only
    expect(r.code, r.stderr).toBe(0);
    expect(returned.download).toMatchObject({ format: 'delta', diskSha256: sha256(changed) });
    expect(sha256(await readFile(back))).toBe(sha256(changed));
    expect(returned.bytes.exported).toBe(changedBlocks * EBS_BLOCK);
    expect(returned.bytes.exported! / original.length).toBeLessThanOrEqual(0.02);

    // Act 2: the changed disk goes out again (same VM name and region: the image cache's entry)
    const before = tg.sim.calls.length;
    const second = await offloadDirect(back, 'raw');

    // Assess 2: a child of the cached snapshot with only the changed blocks; its instance holds the changed disk
    expect(second.state, second.error?.detail).toBe('running');
    expect(second.cloud.imageCache).toMatchObject({ outcome: 'incremental', fromJobId: first.jobId });
    expect(callsSince(tg.sim, before, 'PutSnapshotBlock')).toBe(changedBlocks);
    expect(second.bytes.blocksUploaded).toBe(changedBlocks);
    expect(second.bytes.ebsBytesWritten! / original.length).toBeLessThanOrEqual(0.02);
    const volume = await tg.sim.readDisk('instance', second.cloud.instanceId!);
    const onVolume = Buffer.alloc(original.length);
    for await (const e of volume.extents) {
      if (e.kind === 'data' && e.offset < onVolume.length) e.data.copy(onVolume, e.offset);
    }
    expect(sha256(onVolume)).toBe(sha256(changed));
  });
});
