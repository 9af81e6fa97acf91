/**
 * The Azure offload when things go wrong, over the HTTP API on the embedded deployment: throttling
 * is retried to success, a VM that cannot be created leaves nothing behind, and an image Azure
 * would refuse fails in inspection, before anything is created in Azure.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cancelOverHttp } from '../helpers/cancel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import type { ClientJobView } from '../../shared/client/types';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { AZURE_TARGET, offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';

const MiB = 1024 * 1024;
let gw: TestGateway;
let client: GatewayClient;
let work: string;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-azure-fail-'));
});
afterAll(async () => {
  await gw?.close();
  if (work) await rm(work, { recursive: true, force: true });
});
beforeEach(() => {
  gw.azureSim!.setFaults({});
});

const settle = (jobId: string): Promise<ClientJobView> =>
  followJob(client, jobId, {
    until: (j) => ['running', 'failed', 'cancelled'].includes(j.state),
    intervalMs: 20,
  }) as Promise<ClientJobView>;

/** A job's live disks, snapshots, VMs and NICs in the simulator (the deployment's virtual network is not a job's). */
function jobResources(jobId: string) {
  const { disks, snapshots, virtualMachines, networkInterfaces } = gw.azureSim!.resources();
  const of = (list: Array<{ id: string }>) => list.filter((r) => r.id.includes(jobId));
  return {
    disks: of(disks),
    snapshots: of(snapshots),
    virtualMachines: of(virtualMachines),
    networkInterfaces: of(networkInterfaces),
  };
}

/** Cancels a job and checks that the cancel left nothing of it in Azure. */
async function removeRunning(jobId: string): Promise<void> {
  await cancelOverHttp(client, jobId);
  expect(jobResources(jobId)).toEqual({
    disks: [],
    snapshots: [],
    virtualMachines: [],
    networkInterfaces: [],
  });
}

describe('Azure offload failures', () => {
  it.each([
    [
      'ARM (429 TooManyRequests)',
      ['Disks_CreateOrUpdate', 'VirtualMachines_CreateOrUpdate'],
      'TooManyRequests',
    ],
    ['the blob service (503 ServerBusy)', ['PageBlob_UploadPages'], 'ServerBusy'],
  ])('retries throttling by %s until the VM runs', async (_what, actions, code) => {
    // Prepare: more throttled answers in a row than the SDK's own retries absorb
    gw.azureSim!.setFaults({ throttle: { actions, count: 8 } });
    const callsBefore = gw.azureSim!.calls.length;

    // Act
    const { created } = await offloadSample(gw, 'throttled', SAMPLE_OVA, AZURE_TARGET);
    const job = await settle(created.jobId);

    // Assess: running after every throttled answer was retried (by the SDK, then by the workflow)
    try {
      expect(job.state, job.error?.detail).toBe('running');
      const throttled = gw.azureSim!.calls.slice(callsBefore).filter((c) => c.error === code);
      expect(throttled).toHaveLength(8);
      expect(job.steps.every((s) => s.outcome === 'succeeded')).toBe(true);
    } finally {
      await removeRunning(created.jobId);
    }
  });

  it('ends failed with Azure’s message and leaves no disk, NIC or snapshot when the VM cannot be created', async () => {
    // Prepare: every VM create fails (500), through the SDK's and the workflow's retries
    gw.azureSim!.setFaults({ serverError: { actions: ['VirtualMachines_CreateOrUpdate'] } });

    // Act
    const { created } = await offloadSample(gw, 'no-vm', SAMPLE_OVA, AZURE_TARGET);
    const job = await settle(created.jobId);

    // Assess
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ step: 'launch' });
    expect(job.error?.detail).toContain('InternalServerError');
    expect(job.error?.detail).toContain('An internal execution error occurred');
    expect(job.resources.map((r) => r.type).sort()).toEqual(
      ['disk', 'multipart-upload', 'network-interface', 's3-object', 'snapshot', 'virtual-machine'].sort(),
    );
    expect(job.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(jobResources(created.jobId)).toEqual({
      disks: [],
      snapshots: [],
      virtualMachines: [],
      networkInterfaces: [],
    });
  });

  it('rejects an image Azure would refuse in inspection, with the reason, before creating anything', async () => {
    // Prepare: a raw 8 MiB disk with an MBR partition: fine for AWS, below Azure's 20 MiB upload minimum
    const raw = Buffer.alloc(8 * MiB);
    raw.writeUInt8(0x00, 446); // status
    raw.writeUInt8(0x83, 446 + 4); // Linux
    raw.writeUInt32LE(2048, 446 + 8); // first LBA
    raw.writeUInt32LE(8 * 2048 - 2048, 446 + 12); // sectors
    raw.writeUInt16LE(0xaa55, 510);
    raw.write('hello', 2048 * 512);
    const file = join(work, 'small.img');
    await writeFile(file, raw);
    const callsBefore = gw.azureSim!.calls.length;

    // Act
    const { created } = await offloadSample(gw, 'too-small', file, AZURE_TARGET, 'raw');
    const job = await settle(created.jobId);

    // Assess: failed in inspect with the rule; Azure was never called; nothing is left
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({
      type: 'image-rejected',
      title: 'Azure would reject the image',
      step: 'inspect',
    });
    expect(job.error?.detail).toContain('at least 20971520 bytes (20 MiB)');
    expect(gw.azureSim!.calls.slice(callsBefore)).toEqual([]);
    expect(job.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(job.steps.map((s) => s.name)).toEqual(['upload', 'inspect']);
  });
});
