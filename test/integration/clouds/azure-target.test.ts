/**
 * The Azure adapter against the ARM simulator with the real SDK clients: idempotent creates under
 * the job's deterministic names, page writes through a write SAS, and removal that works whatever
 * state a resource was left in (an upload that never ended, an active read SAS, already gone).
 */
import { describe, expect, it } from 'vitest';
import { AzureTarget, azureNames } from '../../../shared/clouds/azure/azure-target';
import type { Job, JobResource } from '../../../shared/domain/job';
import { gatewayAzureClients, NO_AZURE_RESOURCES, useAzureSim } from '../../helpers/azure-sim';

const MiB = 1024 * 1024;
const env = useAzureSim();

function adapter(): AzureTarget {
  const sim = env.sim;
  const clients = gatewayAzureClients(sim);
  return new AzureTarget({ clients: async () => clients, lroPollIntervalMs: 10, sasDurationSeconds: 600 });
}

function job(jobId: string): Job {
  return {
    jobId,
    vmName: 'adapter-test',
    state: 'importing',
    target: { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v5', resourceGroup: 'burstgate' },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    version: 1,
    image: { format: 'raw', bucket: 'b', key: 'k', sizeBytes: 24 * MiB },
    resources: [],
    steps: [],
    bytes: { uploaded: 0 },
    cloud: {},
  };
}

const resource = (type: JobResource['type'], id: string): JobResource => ({
  type,
  id,
  location: 'westeurope',
  createdAt: '2026-01-01T00:00:00.000Z',
});

describe('AzureTarget against the simulator', () => {
  it('creates the upload disk once under the job’s name, however often the step runs', async () => {
    // Prepare
    const azure = adapter();
    const j = job('job-adapter-idempotent');
    const size = 24 * MiB + 512;
    // Act
    const first = await azure.createUploadDisk(j, {
      uploadSizeBytes: size,
      hyperVGeneration: 'V1',
      osType: 'Linux',
    });
    const again = await azure.createUploadDisk(j, {
      uploadSizeBytes: size,
      hyperVGeneration: 'V1',
      osType: 'Linux',
    });
    // Assess
    expect(again).toBe(first);
    expect(first).toBe(await azure.resourceId(j, 'disk', azureNames(j.jobId).disk));
    expect(env.sim.resources().disks).toEqual([{ id: first, state: 'ReadyToUpload' }]);
    await azure.remove(resource('disk', first));
    expect(env.sim.resources().disks).toEqual([]);
  });

  it('removes a disk whose upload never ended (no footer written), and one already gone', async () => {
    // Prepare: an upload interrupted after a few pages
    const azure = adapter();
    const j = job('job-adapter-abandoned');
    const id = await azure.createUploadDisk(j, {
      uploadSizeBytes: 24 * MiB + 512,
      hyperVGeneration: 'V2',
      osType: 'Linux',
    });
    const sas = await azure.grantDiskWrite(j);
    await azure.writePages(
      sas,
      (async function* () {
        yield { offset: 0, data: Buffer.alloc(4096, 7) };
      })(),
    );
    expect(env.sim.resources().disks).toEqual([{ id, state: 'ActiveUpload' }]);
    // Act
    await azure.remove(resource('disk', id));
    await azure.remove(resource('disk', id));
    // Assess
    expect(env.sim.resources()).toEqual(NO_AZURE_RESOURCES);
  });

  it('maps a refused revoke (a bad VHD) to CloudRejected with Azure’s code', async () => {
    // Prepare: pages written, but no footer
    const azure = adapter();
    const j = job('job-adapter-badvhd');
    const id = await azure.createUploadDisk(j, {
      uploadSizeBytes: 24 * MiB + 512,
      hyperVGeneration: 'V1',
      osType: 'Linux',
    });
    const sas = await azure.grantDiskWrite(j);
    await azure.writePages(
      sas,
      (async function* () {
        yield { offset: 0, data: Buffer.alloc(512, 1) };
      })(),
    );
    // Act
    const err = await azure.revokeDiskAccess(j).catch((e: unknown) => e);
    // Assess
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'InvalidVhd' });
    expect((err as Error).message).toContain("Disk is expected to have cookie value 'conectix'");
    await azure.remove(resource('disk', id));
    expect(env.sim.resources()).toEqual(NO_AZURE_RESOURCES);
  });
});
