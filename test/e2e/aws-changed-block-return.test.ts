/**
 * The AWS changed-block return through the HTTP API on the embedded deployment, the real return state
 * machine included: a direct-mode job runs (placed by test/helpers/aws-direct-job.ts until the direct
 * offload lands; then an offload with `target.mode: 'direct'` replaces it), the guest changes ~1 % of
 * its disk (sim.writeDisk stands in for it), `burstgate return <id> --base <the offloaded OVA>` starts
 * the return (POST /offloads/{id}/return), follows it and rebuilds the disk from the delta of changed
 * 512 KiB blocks. The result is compared with the simulator's volume by qemu-img; only the changed
 * blocks were read from EBS; nothing is left in the simulator but what the image cache keeps.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelOverHttp } from '../helpers/cancel';
import { DeleteSnapshotCommand, DeregisterImageCommand } from '@aws-sdk/client-ec2';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import type { ClientJobView } from '../../shared/client/types';
import { openBaseImage } from '../../shared/images';
import { DIRECT_REGION, placeRunningDirectJob } from '../helpers/aws-direct-job';
import { cliAgainst } from '../helpers/cli';
import { startTestGateway, type TestGateway } from '../helpers/embedded';
import { qemuImg, writeDiskToSparseFile } from '../helpers/images/fixtures';
import { sha256 } from '../helpers/bytes';

const KiB = 1024;
const MiB = 1024 * KiB;
const BLOCK = 512 * KiB;

let tg: TestGateway;
let client: GatewayClient;
let work: string;

beforeAll(async () => {
  tg = await startTestGateway({ azure: false });
  client = new GatewayClient({ baseUrl: tg.apiUrl, apiKey: tg.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-aws-cbr-'));
}, 120_000);
afterAll(async () => {
  await tg?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const cli = (args: string[]) => cliAgainst(tg)(args);

const settle = (jobId: string): Promise<ClientJobView> =>
  followJob(client, jobId, {
    until: (j) => ['returned', 'return-failed'].includes(j.state),
    intervalMs: 20,
  }) as Promise<ClientJobView>;

/** Instances, AMIs and snapshots the simulator still holds (terminated instances are gone). */
function simCloud(): string[] {
  const r = tg.sim.resources();
  return [...r.instances.filter((i) => i.state !== 'terminated'), ...r.images, ...r.snapshots]
    .map((x) => x.id)
    .sort();
}

describe('return of an AWS direct-mode VM over HTTP', () => {
  it('brings ~1 % of changed disk back as a delta of the changed blocks that rebuilds bit-identical', async () => {
    // Prepare: running; the guest rewrites a 600 KiB file and a 40 KiB note in it (~1 % of 64 MiB)
    const { job, original } = await placeRunningDirectJob(tg, { vmName: 'direct-sample' });
    const capacity = original.length;
    const writes: Array<[number, Buffer]> = [
      [20 * MiB + 4 * KiB, randomBytes(600 * KiB)],
      [20 * MiB + 700 * KiB, randomBytes(40 * KiB)],
    ];
    for (const [offset, data] of writes) await tg.sim.writeDisk(job.cloud.instanceId!, offset, data);
    const expected = Buffer.from(original);
    for (const [offset, data] of writes) data.copy(expected, offset);
    const changedBytes = writes.reduce((n, [, d]) => n + d.length, 0);
    const volumeFile = join(work, 'volume.raw');
    await writeDiskToSparseFile(await tg.sim.readDisk('instance', job.cloud.instanceId!), volumeFile);
    const before = simCloud();

    // Act: the CLI starts the return over HTTP, follows it and rebuilds on the offloaded OVA
    const out = join(work, 'back.vmdk');
    const r = await cli(['return', job.jobId, '--base', SAMPLE_OVA, '--out', out]);
    const returned = await client.getOffload(job.jobId);

    // Assess: the CLI's result is the guest's disk, bit for bit (qemu-img against the simulator's volume)
    expect(r.code, r.stderr).toBe(0);
    expect(returned.state).toBe('returned');
    expect(returned.download).toMatchObject({
      format: 'delta',
      baseDiskSha256: sha256(original),
      diskSha256: sha256(expected),
      matchesOriginal: false,
    });
    const compared = await qemuImg('compare', '-f', 'vmdk', '-F', 'raw', out, volumeFile);
    expect(compared.code, compared.stdout + compared.stderr).toBe(0);
    const back = await openBaseImage(out);
    expect(back.disk.capacity).toBe(capacity);
    expect(sha256(await back.disk.read(0, capacity))).toBe(sha256(expected));
    await back.close();

    // Assess: only the changed blocks were read from EBS (two 512 KiB blocks for 640 KiB changed)
    const exported = returned.bytes.exported!;
    console.log(
      `aws changed-block return: ${changedBytes} bytes changed (${((100 * changedBytes) / capacity).toFixed(2)} % of ${capacity}), ` +
        `${exported} bytes read from EBS (${((100 * exported) / capacity).toFixed(2)} %), delta ${returned.download!.sizeBytes} bytes`,
    );
    expect(exported).toBe(2 * BLOCK);
    expect(exported).toBeLessThanOrEqual(0.02 * capacity);
    expect(returned.bytes.changed).toBe(2 * BLOCK);
    expect(returned.download!.sizeBytes).toBeLessThan(2 * BLOCK + 1024);

    // Assess: the real state machine ran the changed-block branch, then cleaned up everything
    expect(returned.steps.map((s) => s.name)).toEqual(['inspect', 'stop', 'snapshot', 'publish', 'cleanup']);
    expect(returned.steps.find((s) => s.name === 'publish')?.detail).toMatch(/^delta: 1048576 bytes changed/);
    expect(returned.resources.filter((x) => !x.removedAt)).toEqual([
      expect.objectContaining({ type: 's3-object', retained: true }),
    ]);
    const ours = [
      job.cloud.instanceId!,
      job.cloud.amiId!,
      job.cloud.baseSnapshotId!,
      returned.cloud.returnSnapshotId!,
    ];
    expect(before).toEqual(expect.arrayContaining([job.cloud.instanceId!, job.cloud.amiId!]));
    expect(simCloud().filter((id) => ours.includes(id))).toEqual([]);
  });

  it('keeps only the image cache’s snapshot and AMI, and retries a throttled EBS read in the workflow', async () => {
    // Prepare: the snapshot and AMI are the cache's; GetSnapshotBlock throttled past the SDK's own retries
    const { job, original } = await placeRunningDirectJob(tg, { vmName: 'cached', cached: true });
    const write = randomBytes(64 * KiB);
    await tg.sim.writeDisk(job.cloud.instanceId!, 33 * MiB, write);
    const expected = Buffer.from(original);
    write.copy(expected, 33 * MiB);
    tg.sim.setFaults({ throttle: { actions: ['GetSnapshotBlock'], count: 4 } });
    const callsBefore = tg.sim.calls.length;

    // Act
    await client.startReturn(job.jobId);
    const returned = await settle(job.jobId);
    tg.sim.setFaults({});

    // Assess: returned despite the throttling, the cache's resources left, the rest removed
    expect(returned.state, returned.error?.detail).toBe('returned');
    expect(returned.download).toMatchObject({ format: 'delta', diskSha256: sha256(expected) });
    const throttled = tg.sim.calls
      .slice(callsBefore)
      .filter((c) => c.action === 'GetSnapshotBlock' && c.error !== undefined);
    expect(throttled.length).toBe(4);
    const kept = returned.resources.filter((x) => !x.removedAt).map((x) => `${x.type}:${x.id}`);
    expect(kept).toHaveLength(3);
    expect(kept).toEqual(
      expect.arrayContaining([
        `ami:${job.cloud.amiId}`,
        `snapshot:${job.cloud.baseSnapshotId}`,
        expect.stringMatching(/^s3-object:returns\//),
      ]),
    );
    const ours = [
      job.cloud.instanceId!,
      job.cloud.amiId!,
      job.cloud.baseSnapshotId!,
      returned.cloud.returnSnapshotId!,
    ];
    expect(simCloud().filter((id) => ours.includes(id))).toEqual(
      [job.cloud.amiId!, job.cloud.baseSnapshotId!].sort(),
    );

    // The cache owns them; a cancel of the returned job removes the download but never them
    await cancelOverHttp(client, job.jobId);
    const cancelled = await client.getOffload(job.jobId);
    expect(cancelled.state, JSON.stringify(cancelled.error)).toBe('cancelled');
    expect(simCloud().filter((id) => ours.includes(id))).toEqual(
      [job.cloud.amiId!, job.cloud.baseSnapshotId!].sort(),
    );
    const ec2 = tg.deps.ec2For(DIRECT_REGION);
    await ec2.send(new DeregisterImageCommand({ ImageId: job.cloud.amiId! }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: job.cloud.baseSnapshotId! }));
  });

  it('returns the whole disk as a base-less delta when the uploaded snapshot was deleted outside burstgate', async () => {
    // Prepare
    const { job, original } = await placeRunningDirectJob(tg, { vmName: 'no-base' });
    const write = randomBytes(300 * KiB);
    await tg.sim.writeDisk(job.cloud.instanceId!, 7 * MiB + 3, write);
    const expected = Buffer.from(original);
    write.copy(expected, 7 * MiB + 3);
    const ec2 = tg.deps.ec2For(DIRECT_REGION);
    await ec2.send(new DeregisterImageCommand({ ImageId: job.cloud.amiId! }));
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: job.cloud.baseSnapshotId! }));

    // Act: no --base: the full copy needs none
    const out = join(work, 'full.raw');
    const r = await cli(['return', job.jobId, '--out', out, '--to', 'raw']);
    const returned = await client.getOffload(job.jobId);

    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(returned.download).toMatchObject({ format: 'delta', diskSha256: sha256(expected) });
    expect(returned.download!.baseDiskSha256).toBeUndefined();
    expect((await stat(out)).size).toBe(original.length);
    const back = await openBaseImage(out);
    expect(sha256(await back.disk.read(0, back.disk.capacity))).toBe(sha256(expected));
    await back.close();
    const ours = [job.cloud.instanceId!, returned.cloud.returnSnapshotId!];
    expect(simCloud().filter((id) => ours.includes(id))).toEqual([]);
  });
});
