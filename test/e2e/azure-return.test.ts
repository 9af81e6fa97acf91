/**
 * The Azure return over the HTTP API on the embedded deployment: offload → running → the guest
 * writes a few MiB (the simulator's guestWrite stands in for it) → return → the delta (only the
 * changed pages) rebuilt on the original OVA equals the modified disk; everything the job created in
 * Azure is gone. Without the base snapshot, the return falls back to a full copy of the disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBaseImage, readDelta, rebuildFromDelta } from '../../shared/images';
import { GatewayClient } from '../../shared/client/api-client';
import { downloadImage } from '../../shared/client/download';
import { followJob } from '../../shared/client/follow';
import type { ClientJobView } from '../../shared/client/types';
import { gatewayAzureClients } from '../helpers/azure-sim';
import { parseAzureResourceId } from '../../shared/clouds/azure/azure-target';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { AZURE_TARGET, offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';
import { createReadStream } from 'node:fs';
import { sha256 } from '../helpers/bytes';

const MiB = 1024 * 1024;
/** Per-file overhead of a delta: header and trailer 72 bytes each, 64 bytes per extent (record + SHA-256). */
const DELTA_OVERHEAD = (extents: number) => 144 + 64 * extents;

let gw: TestGateway;
let client: GatewayClient;
let work: string;
let original: Buffer;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-azure-return-'));
  const base = await openBaseImage(SAMPLE_OVA);
  original = await base.disk.read(0, base.disk.capacity);
  await base.close();
});
afterAll(async () => {
  await gw?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const settle = (jobId: string, states: string[]): Promise<ClientJobView> =>
  followJob(client, jobId, {
    until: (j) => states.includes(j.state),
    intervalMs: 20,
  }) as Promise<ClientJobView>;

/** The guest's writes: three ranges, one across a 4 MiB boundary, one inside the filesystem. */
function guestWrites(): Array<[number, Buffer]> {
  return [
    [2 * MiB, randomBytes(64 * 1024)],
    [8 * MiB - 4096, randomBytes(2 * MiB + 8192)],
    [40 * MiB + 512, randomBytes(1 * MiB)],
  ];
}

async function runningOnAzure(vmName: string): Promise<ClientJobView> {
  const { created } = await offloadSample(gw, vmName, SAMPLE_OVA, AZURE_TARGET);
  const running = await settle(created.jobId, ['running', 'failed']);
  expect(running.state, running.error?.detail).toBe('running');
  return running;
}

function azureLeftovers(jobId: string) {
  const { disks, snapshots, virtualMachines, networkInterfaces } = gw.azureSim!.resources();
  return [...disks, ...snapshots, ...virtualMachines, ...networkInterfaces].filter((r) =>
    r.id.includes(jobId),
  );
}

describe('return from Azure over HTTP', () => {
  it('publishes only the changed pages as a delta that rebuilds the modified disk on the original image', async () => {
    // Prepare: running on Azure; the guest writes a few MiB of its disk
    const running = await runningOnAzure('burstgate-sample');
    const writes = guestWrites();
    for (const [offset, bytes] of writes) await gw.azureSim!.guestWrite(running.cloud.diskId!, offset, bytes);
    const expected = Buffer.from(original);
    for (const [offset, bytes] of writes) bytes.copy(expected, offset);
    const changedBytes = writes.reduce((n, [, b]) => n + b.length, 0);

    // Act: return, download the delta, rebuild it on the offloaded OVA
    await client.startReturn(running.jobId);
    const returned = await settle(running.jobId, ['returned', 'return-failed']);
    expect(returned.state, returned.error?.detail).toBe('returned');
    const download = returned.download!;
    const deltaFile = join(work, 'back.bgdelta');
    await downloadImage(download.url, deltaFile, { expectedSha256: download.sha256 });
    const out = join(work, 'back.vmdk');
    const rebuilt = await rebuildFromDelta({ base: SAMPLE_OVA, delta: deltaFile, out, to: 'vmdk-stream' });

    // Assess: the contract's download, the rebuilt disk is the modified one
    expect(download).toMatchObject({
      format: 'delta',
      diskSha256: sha256(expected),
      baseDiskSha256: sha256(original),
      matchesOriginal: false,
    });
    expect(new URL(download.url).searchParams.get('response-content-disposition')).toBe(
      'attachment; filename="burstgate-sample.bgdelta"',
    );
    expect(rebuilt.sha256).toBe(sha256(expected));
    const back = await openBaseImage(out);
    expect(sha256(await back.disk.read(0, back.disk.capacity))).toBe(sha256(expected));
    await back.close();

    // Assess: bytes — the delta is the changed bytes plus a small constant; Azure read only those pages
    const delta = await readDelta(createReadStream(deltaFile));
    let extents = 0;
    for await (const p of delta.pieces) if (p.kind === 'zero' || p.extentEnd) extents++;
    const downloaded = (await stat(deltaFile)).size;
    console.log(
      `azure return: ${downloaded} bytes downloaded for ${changedBytes} changed bytes (ratio ${(downloaded / changedBytes).toFixed(4)}), ${returned.bytes.exported} bytes read from Azure, ${extents} extent(s)`,
    );
    expect(downloaded).toBe(download.sizeBytes);
    expect(downloaded).toBeLessThanOrEqual(1.05 * changedBytes + DELTA_OVERHEAD(extents));
    expect(returned.bytes.changed).toBe(changedBytes);
    expect(returned.bytes.exported).toBe(changedBytes);

    // Assess: every Azure resource of the job is gone; the delta is the one thing kept
    expect(azureLeftovers(running.jobId)).toEqual([]);
    const kept = returned.resources.filter((r) => !r.removedAt);
    expect(kept).toEqual([expect.objectContaining({ type: 's3-object', retained: true })]);
    expect(returned.steps.map((s) => s.name)).toEqual([
      'upload',
      'inspect',
      'disk-upload',
      'launch',
      'stop',
      'snapshot',
      'publish',
      'cleanup',
    ]);
  });

  it('returns an unchanged VM as an empty delta that matches the original', async () => {
    // Prepare
    const running = await runningOnAzure('unchanged');
    // Act
    await client.startReturn(running.jobId);
    const returned = await settle(running.jobId, ['returned', 'return-failed']);
    // Assess
    expect(returned.state, returned.error?.detail).toBe('returned');
    expect(returned.download).toMatchObject({
      format: 'delta',
      matchesOriginal: true,
      diskSha256: sha256(original),
    });
    expect(returned.download!.sizeBytes).toBe(DELTA_OVERHEAD(0));
    expect(returned.bytes.exported).toBe(0);
    expect(azureLeftovers(running.jobId)).toEqual([]);
  });

  it('falls back to a full copy through a read SAS when the base snapshot was deleted outside burstgate', async () => {
    // Prepare: running, the guest writes, and someone deletes the base snapshot with the Azure SDK
    const running = await runningOnAzure('no-base');
    const writes = guestWrites();
    for (const [offset, bytes] of writes) await gw.azureSim!.guestWrite(running.cloud.diskId!, offset, bytes);
    const expected = Buffer.from(original);
    for (const [offset, bytes] of writes) bytes.copy(expected, offset);
    const sim = gw.azureSim!;
    const azure = gatewayAzureClients(sim);
    const base = parseAzureResourceId(running.cloud.baseSnapshotId!);
    await azure.compute.snapshots.delete(base.resourceGroup, base.name, { updateIntervalInMs: 10 });

    // Act
    await client.startReturn(running.jobId);
    const returned = await settle(running.jobId, ['returned', 'return-failed']);
    const deltaFile = join(work, 'full.bgdelta');
    await downloadImage(returned.download!.url, deltaFile, { expectedSha256: returned.download!.sha256 });
    const rebuilt = await rebuildFromDelta({
      base: SAMPLE_OVA,
      delta: deltaFile,
      out: join(work, 'full.raw'),
      to: 'raw',
    });

    // Assess: a full copy — no base named — that still rebuilds the modified disk
    expect(returned.state, returned.error?.detail).toBe('returned');
    expect(returned.download).toMatchObject({
      format: 'delta',
      diskSha256: sha256(expected),
      matchesOriginal: false,
    });
    expect(returned.download!.baseDiskSha256).toBeUndefined();
    expect(returned.steps.find((s) => s.name === 'publish')?.detail).toMatch(/^full copy/);
    expect(rebuilt.sha256).toBe(sha256(expected));
    expect(azureLeftovers(running.jobId)).toEqual([]);
  });
});
