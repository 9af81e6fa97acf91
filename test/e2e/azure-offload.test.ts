/**
 * The Azure offload over the HTTP API on the embedded deployment: the real handlers and state
 * machines (the Choice on the job's cloud, the Map state of parallel upload Lambdas), the ARM
 * simulator with Azurite, and the real Azure SDK clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { inspectOva } from '../../shared/images';
import { GatewayClient } from '../../shared/client/api-client';
import { GatewayClientError } from '../../shared/client/errors';
import { followJob } from '../../shared/client/follow';
import type { ClientJobView } from '../../shared/client/types';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { AZURE_TARGET, offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';

const MiB = 1024 * 1024;
let gw: TestGateway;
let client: GatewayClient;
let sample: { diskSha256: string; capacity: number; dataBytes: number };

beforeAll(async () => {
  gw = await startTestGateway();
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  const inspected = await inspectOva(createReadStream(SAMPLE_OVA));
  const disk = inspected.disks[0]!;
  sample = { diskSha256: disk.contentSha256, capacity: disk.capacity, dataBytes: disk.dataBytes };
});
afterAll(async () => {
  await gw?.close();
});

const settle = (jobId: string, states: string[]): Promise<ClientJobView> =>
  followJob(client, jobId, {
    until: (j) => states.includes(j.state),
    intervalMs: 20,
  }) as Promise<ClientJobView>;

describe('offload to Azure over HTTP', () => {
  it('uploads the sample VM as a managed disk in parallel ranges and runs it as a VM', async () => {
    // Act
    const { created } = await offloadSample(gw, 'burstgate-sample', SAMPLE_OVA, AZURE_TARGET);
    const running = await settle(created.jobId, ['running', 'failed']);

    // Assess: running, the target's resource group resolved, every resource recorded
    expect(running.state, running.error?.detail).toBe('running');
    expect(running.target).toEqual({ ...AZURE_TARGET, resourceGroup: 'burstgate' });
    expect(running.image.diskSha256).toBe(sample.diskSha256);
    expect(running.resources.map((r) => r.type)).toEqual(
      expect.arrayContaining(['s3-object', 'disk', 'snapshot', 'network-interface', 'virtual-machine']),
    );
    expect(running.steps.map((s) => s.name)).toEqual(['upload', 'inspect', 'disk-upload', 'launch']);
    const sim = gw.azureSim!;
    const live = sim.resources();
    expect(live.virtualMachines).toEqual([
      { id: running.cloud.virtualMachineId, state: 'PowerState/running' },
    ]);
    expect(live.disks).toEqual([{ id: running.cloud.diskId, state: 'Attached' }]);
    expect(live.snapshots.map((s) => s.id)).toEqual([running.cloud.baseSnapshotId]);
    // the disk holds the sample's content as a fixed VHD: whole MiB, then the footer
    const vhd = await sim.readDisk(running.cloud.diskId!);
    expect(vhd.length).toBe(Math.ceil(sample.capacity / MiB) * MiB + 512);
    expect(vhd.subarray(vhd.length - 512, vhd.length - 504).toString('latin1')).toBe('conectix');
    const { createHash } = await import('node:crypto');
    const content = createHash('sha256').update(vhd.subarray(0, sample.capacity)).digest('hex');
    expect(content).toBe(sample.diskSha256);
    // parallel ranges: several upload Lambdas, each page at most 4 MiB, zero sectors never written
    const chunk = running.cloud.uploadChunkBytes!;
    expect(Math.ceil(vhd.length / chunk)).toBeGreaterThan(1);
    const written = running.bytes.pagesWritten!;
    const allocated = running.bytes.allocated!;
    console.log(
      `azure upload: ${written} bytes written to pages, ${allocated} bytes allocated in the source (ratio ${(written / allocated).toFixed(3)})`,
    );
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThanOrEqual(1.02 * allocated);
  });

  it('answers a bad Azure target with a 400 naming each field, and creates nothing', async () => {
    // Prepare
    const before = (await client.listOffloads()).length;
    // Act
    const answer = await client
      .createOffload(
        {
          vmName: 'bad-target',
          imageFormat: 'ova',
          imageSizeBytes: (await stat(SAMPLE_OVA)).size,
          target: { cloud: 'azure', location: 'West Europe', vmSize: 'D2s', resourceGroup: 'rg.' },
        },
        randomUUID(),
      )
      .catch((err: unknown) => err);
    // Assess
    expect(answer).toBeInstanceOf(GatewayClientError);
    const err = answer as GatewayClientError;
    const problem = err.problem as unknown as { errors: Array<{ path: string }> };
    expect(err.status).toBe(400);
    expect(err.problemType).toBe('validation-failed');
    expect(problem.errors.map((e) => e.path).sort()).toEqual([
      'target.location',
      'target.resourceGroup',
      'target.vmSize',
    ]);
    expect((await client.listOffloads()).length).toBe(before);
  });
});
