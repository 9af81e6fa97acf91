/**
 * The client's workflows (offloadImage, returnJob) against the embedded deployment: an incremental
 * AWS direct offload that goes whole (no cached image yet), a return whose delta of changed blocks
 * is rebuilt onto the offloaded image, a wrong base refused before the VM is stopped, and the
 * returned image offloaded again as a delta of the blocks the guest changed — with the events each
 * reports on the way.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { GatewayClient } from '../../shared/client/api-client';
import { checkImageFile } from '../../shared/client/image-file';
import { offloadImage, type OffloadEvent } from '../../shared/client/offload-workflow';
import { returnJob, type ReturnEvent } from '../../shared/client/return-workflow';
import { convertImage, describeImage } from '../../shared/images';
import { EBS_BLOCK } from '../helpers/aws-sim';
import { AWS_TARGET, startTestGateway, type TestGateway } from '../helpers/embedded';

const KiB = 1024;
const MiB = 1024 * KiB;
const VM = 'workflow-vm';
const DIRECT = { ...AWS_TARGET, mode: 'direct' } as const;

let tg: TestGateway;
let client: GatewayClient;
let work: string;

beforeAll(async () => {
  tg = await startTestGateway({ azure: false });
  client = new GatewayClient({ baseUrl: tg.apiUrl, apiKey: tg.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-workflows-e2e-'));
}, 120_000);
afterAll(async () => {
  await tg?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const events = <E>() => {
  const all: E[] = [];
  return { all, onEvent: (e: E) => void all.push(e) };
};

describe('offloadImage and returnJob on the embedded deployment', () => {
  it('offload whole, refuse a wrong base, return the changed blocks onto the base, re-offload them only', async () => {
    // Act 1: an incremental offload of a VM the gateway has never seen
    const first = events<OffloadEvent>();
    const offloaded = await offloadImage(client, {
      image: await checkImageFile(SAMPLE_OVA),
      format: 'ova',
      vmName: VM,
      target: DIRECT,
      incremental: true,
      intervalMs: 20,
      onEvent: first.onEvent,
    });

    // Assess 1: compared with nothing, uploaded whole, running
    expect(offloaded.job?.state, offloaded.job?.error?.detail).toBe('running');
    expect(first.all.find((e) => e.type === 'compared')).toMatchObject({
      comparison: { kind: 'whole', reason: expect.stringContaining(`no cached image of ${VM}`) },
    });
    expect(offloaded.upload.format).toBe('ova');
    const running = offloaded.job!;

    // Prepare 2: a disk that is not the offloaded one; and the guest changes 600 KiB of its disk
    const original = await describeImage(SAMPLE_OVA, { hash: true });
    const other = join(work, 'other.raw');
    await convertImage(SAMPLE_OVA, other, 'raw');
    const otherBytes = await readFile(other);
    otherBytes[MiB] = otherBytes[MiB]! ^ 0xff;
    await writeFile(other, otherBytes);
    const out = join(work, 'back.raw');

    // Act 2: the return with the wrong base
    const refused = events<ReturnEvent>();
    const wrong = returnJob(client, {
      jobId: running.jobId,
      out,
      to: 'raw',
      base: other,
      onEvent: refused.onEvent,
    });

    // Assess 2: refused before the return started
    await expect(wrong).rejects.toMatchObject({ kind: 'wrong-base' });
    expect(refused.all.filter((e) => e.type === 'stage').map((e) => e.stage)).toEqual(['check', 'base']);
    expect((await client.getOffload(running.jobId)).state).toBe('running');

    // Act 3: the guest writes, then the return with the offloaded image as the base
    await tg.sim.writeDisk(running.cloud.instanceId!, 24 * MiB + 8 * KiB, randomBytes(600 * KiB));
    const back = events<ReturnEvent>();
    const returned = await returnJob(client, {
      jobId: running.jobId,
      out,
      to: 'raw',
      base: SAMPLE_OVA,
      intervalMs: 20,
      onEvent: back.onEvent,
    });

    // Assess 3: the changed blocks came back and were rebuilt onto the base
    expect(returned.returned).toBe(true);
    if (!returned.returned) return;
    expect(back.all.find((e) => e.type === 'base-checked')).toMatchObject({
      base: { sha256: original.sha256 },
    });
    expect(returned.download).toMatchObject({ format: 'delta', baseDiskSha256: original.sha256 });
    expect(returned.image.delta?.bytesApplied).toBe(2 * EBS_BLOCK);
    expect((await describeImage(out, { hash: true })).sha256).toBe(returned.download.diskSha256);

    // Act 4: the returned disk goes out again, incrementally
    const again = events<OffloadEvent>();
    const reoffloaded = await offloadImage(client, {
      image: await checkImageFile(out),
      format: 'raw',
      vmName: VM,
      target: DIRECT,
      incremental: true,
      intervalMs: 20,
      onEvent: again.onEvent,
    });

    // Assess 4: compared block by block (with progress) and uploaded as the two changed blocks
    expect(reoffloaded.job?.state, reoffloaded.job?.error?.detail).toBe('running');
    expect(again.all.filter((e) => e.type === 'stage').map((e) => e.stage)).toEqual([
      'compare',
      'hash',
      'create',
      'upload',
      'complete',
      'follow',
    ]);
    const compareProgress = again.all.filter((e) => e.type === 'progress' && e.stage === 'compare');
    expect(compareProgress.length).toBeGreaterThan(0);
    expect(again.all.find((e) => e.type === 'compared')).toMatchObject({
      comparison: { kind: 'delta', summary: { dataBlocks: 2, zeroBlocks: 0 } },
    });
    expect(reoffloaded.upload.format).toBe('delta');
    expect(reoffloaded.job?.cloud.imageCache).toMatchObject({ outcome: 'incremental' });
    expect(reoffloaded.job?.image.diskSha256).toBe(returned.download.diskSha256);
  });
});
