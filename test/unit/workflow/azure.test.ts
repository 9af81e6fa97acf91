/**
 * The Azure steps (shared/domain/workflow/azure.ts) on a gateway over in-memory fakes, the Azure SDK
 * clients scripted (test/helpers/fake-azure.ts): each resource recorded before Azure is asked to
 * create it, the fixed VHD the page writes build, the VM's wait, and the return's delta of the
 * changed pages (read back with the delta reader), with the full copy when the base is gone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AZURE_MAX_PAGE_BYTES } from '../../../shared/clouds/azure/page-plan';
import type { Job } from '../../../shared/domain/job';
import { cancelAndRemove } from '../../helpers/cancel';
import {
  azureCheckVm,
  azureCreateVm,
  azureDeallocate,
  azureFinishUpload,
  azureOsType,
  azurePrepareUpload,
  azurePublishDelta,
  azureSnapshotForReturn,
  azureUploadRange,
  hyperVGeneration,
  jobVhdLayout,
  uploadChunkBytes,
} from '../../../shared/domain/workflow/azure';
import { MAX_UPLOAD_RANGES } from '../../../shared/domain/workflow/step-kit';
import { openRandomAccess } from '../../../shared/images/random-access';
import { planRanges } from '../../../shared/images/upload-plan';
import { bufferSource } from '../../../shared/images/source';
import { azureError, FAKE_SUBSCRIPTION } from '../../helpers/fake-azure';
import { FAKE_AZURE_CONFIG } from '../../helpers/fake-deps';
import { pseudoRandom } from '../../helpers/images/fixtures';
import { applied } from './ebs-fixtures';
import { AZURE, MiB, failureOf, mbrDisk, placeJob, sha256, stepTest, type StepTest } from './fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest({ config: { azure: FAKE_AZURE_CONFIG } });
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

const RG = AZURE.cloud === 'azure' ? AZURE.resourceGroup : '';
const idOf = (provider: string, name: string) =>
  `/subscriptions/${FAKE_SUBSCRIPTION}/resourceGroups/${RG}/providers/${provider}/${name}`;
const diskIdOf = (jobId: string) => idOf('Microsoft.Compute/disks', `${jobId}-osdisk`);
const snapshotIdOf = (name: string) => idOf('Microsoft.Compute/snapshots', name);
const hardware = (firmware: 'bios' | 'efi', osType?: string) => ({
  vcpus: 2,
  memoryMiB: 2048,
  firmware,
  ...(osType ? { osType } : {}),
  disks: [],
  nics: [],
});

/** The smallest disk Azure takes: 20 MiB, an MBR and 64 KiB of data at 1 MiB. */
const DISK = mbrDisk(20 * MiB);
const DISK_SHA256 = sha256(DISK);

/** An Azure job as inspect leaves it: the raw disk staged, its capacity and hash recorded. */
function inspectedJob(change: (j: Job) => void = () => undefined, disk = DISK, diskSha256 = DISK_SHA256) {
  return placeJob(
    t,
    'inspecting',
    (j) => {
      t.fake.bucket.put(j.image.key, disk);
      j.image = {
        ...j.image,
        diskSha256,
        diskCapacityBytes: disk.length,
        partitionTable: 'mbr',
        disk: { offset: 0, size: disk.length, format: 'raw' },
      };
      change(j);
    },
    { target: AZURE, sizeBytes: disk.length },
  );
}

/** A page blob per SAS URL, of real bytes: uploadPages writes into it, downloadToBuffer reads it. */
function pageBlobs(blobs: Map<string, Buffer>): void {
  t.fake.azure
    .on('pageBlob.uploadPages', (sas, body, offset, count) => {
      const blob = blobs.get(sas);
      if (!blob) throw azureError('BlobNotFound', `no blob behind ${sas}`, 404);
      const data = Buffer.from(body as Buffer);
      if (offset % 512 !== 0 || count !== data.length || count % 512 !== 0 || count > AZURE_MAX_PAGE_BYTES)
        throw azureError(
          'InvalidPageRange',
          `pages ${offset}+${count} are not whole 512-byte pages of at most 4 MiB`,
        );
      data.copy(blob, offset);
      return {};
    })
    .on('pageBlob.downloadToBuffer', (sas, offset = 0, count) => {
      const blob = blobs.get(sas);
      if (!blob) throw azureError('BlobNotFound', `no blob behind ${sas}`, 404);
      return Buffer.from(blob.subarray(offset, count === undefined ? undefined : offset + count));
    });
}

/** Access grants answer with a SAS naming the resource; revokes succeed. */
function grantsSas(): void {
  t.fake.azure
    .on('disks.grantAccess', (_rg, name, grant) => ({ accessSAS: `https://sas/${name}?${grant.access}` }))
    .on('snapshots.grantAccess', (_rg, name, grant) => ({ accessSAS: `https://sas/${name}?${grant.access}` }))
    .on('disks.revokeAccess', () => undefined)
    .on('snapshots.revokeAccess', () => undefined);
}

describe('what the Azure steps derive from the job', () => {
  it('boots UEFI firmware as a Generation 2 VM and BIOS as Generation 1', async () => {
    // Prepare
    const efi = await inspectedJob((j) => void (j.hardware = hardware('efi')));
    const bios = await inspectedJob((j) => void (j.hardware = hardware('bios')));
    const unknown = await inspectedJob();
    // Act + Assess
    expect([efi, bios, unknown].map(hyperVGeneration)).toEqual(['V2', 'V1', 'V1']);
  });

  it.each([
    ['windows9Server64Guest', 'Windows'],
    ['Microsoft Windows Server 2019 (64-bit)', 'Windows'],
    ['ubuntu64Guest', 'Linux'],
    [undefined, 'Linux'],
  ])('takes the guest OS %s for %s', async (osType, expected) => {
    // Prepare
    const job = await inspectedJob((j) => void (j.hardware = hardware('bios', osType)));
    // Act + Assess
    expect(azureOsType(job)).toBe(expected);
  });

  it('writes the same VHD footer for a job on every call, and another for another job', async () => {
    // Prepare
    const [a, b] = [await inspectedJob(), await inspectedJob()];
    // Act
    const [first, again, other] = [jobVhdLayout(a), jobVhdLayout(a), jobVhdLayout(b)];
    // Assess
    expect(first.footer.equals(again.footer)).toBe(true);
    expect(first.footer.equals(other.footer)).toBe(false);
    expect(first).toMatchObject({ capacity: 20 * MiB, virtualSize: 20 * MiB, fileSize: 20 * MiB + 512 });
  });

  it('keeps the configured chunk, or grows it in whole 4 MiB pages to stay within MAX_UPLOAD_RANGES', () => {
    // Act
    const small = uploadChunkBytes(4 * MiB, 100 * MiB);
    const large = uploadChunkBytes(4 * MiB, 4 * 1024 * 1024 * MiB);
    // Assess
    expect(small).toBe(4 * MiB);
    expect(large % AZURE_MAX_PAGE_BYTES).toBe(0);
    expect(Math.ceil((4 * 1024 * 1024 * MiB) / large)).toBeLessThanOrEqual(MAX_UPLOAD_RANGES);
  });
});

describe('azurePrepareUpload', () => {
  it('records the disk on the job before asking Azure for it, and plans ranges of the fixed VHD', async () => {
    // Prepare
    const job = await inspectedJob((j) => void (j.hardware = hardware('efi', 'windows2019srv_64Guest')));
    let recordedFirst = false;
    t.fake.azure.on('disks.createOrUpdate', async (_rg, name) => {
      recordedFirst = (await t.gw.store.get(job.jobId)).resources.some((r) => r.id === diskIdOf(job.jobId));
      return { id: idOf('Microsoft.Compute/disks', name) };
    });
    // Act
    const plan = await azurePrepareUpload(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(recordedFirst).toBe(true);
    expect(t.fake.azure.argsOf('disks.createOrUpdate')[0]?.slice(0, 3)).toEqual([
      RG,
      `${job.jobId}-osdisk`,
      expect.objectContaining({
        location: 'westeurope',
        osType: 'Windows',
        hyperVGeneration: 'V2',
        creationData: { createOption: 'Upload', uploadSizeBytes: 20 * MiB + 512 },
        tags: expect.objectContaining({ 'burstgate:job': job.jobId }),
      }),
    ]);
    expect(plan.fileSize).toBe(20 * MiB + 512);
    expect(plan.chunkBytes).toBe(4 * MiB);
    expect(plan.ranges.map((r) => [r.offset, r.length])).toEqual([
      ...[0, 1, 2, 3].map((i) => [i * 4 * MiB, 4 * MiB]),
      [16 * MiB, 4 * MiB + 512], // the footer goes with the last range
    ]);
    expect(after.state).toBe('importing');
    expect(after.activeStep?.name).toBe('disk-upload');
    expect(after.cloud.diskId).toBe(diskIdOf(job.jobId));
    expect(after.bytes.allocated).toBe(DISK.length);
  });

  it('fails with AzureNotConfigured on a gateway without an Azure configuration, creating nothing', async () => {
    // Prepare
    t = stepTest();
    const job = await inspectedJob();
    // Act
    const err = await failureOf(azurePrepareUpload(t.gw, job.jobId));
    // Assess
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'AzureNotConfigured' });
    expect(t.fake.azure.calls).toEqual([]);
  });

  it('removes the disk Azure created while a cancel ran, and the job stays cancelled', async () => {
    // Prepare: DELETE lands while the disk is being created
    const job = await inspectedJob();
    const disks = new Set<string>();
    t.fake.azure
      .on('disks.createOrUpdate', async (_rg, name) => {
        await cancelAndRemove(t.gw, job.jobId);
        disks.add(name);
        return { id: idOf('Microsoft.Compute/disks', name) };
      })
      .on('disks.get', (_rg, name) => {
        if (!disks.has(name)) throw azureError('ResourceNotFound', `disk ${name} not found`, 404);
        return { diskState: 'ReadyToUpload' };
      })
      .on('disks.delete', (_rg, name) => {
        if (!disks.delete(name)) throw azureError('ResourceNotFound', `disk ${name} not found`, 404);
      });
    // Act
    const err = await failureOf(azurePrepareUpload(t.gw, job.jobId));
    // Assess
    expect(err.code).toBe('JobCancelled');
    expect((await t.gw.store.get(job.jobId)).state).toBe('cancelled');
    expect(disks.size).toBe(0);
  });
});

describe('azureUploadRange', () => {
  it('writes the ranges’ pages so the disk’s blob is its fixed VHD, never writing a zero page', async () => {
    // Prepare
    const job = await inspectedJob((j) => {
      j.state = 'importing';
      j.cloud.diskId = diskIdOf(j.jobId);
    });
    const layout = jobVhdLayout(job);
    const blob = Buffer.alloc(layout.fileSize);
    const sas = `https://sas/${job.jobId}-osdisk?Write`;
    pageBlobs(new Map([[sas, blob]]));
    grantsSas();
    const ranges = planRanges(layout.fileSize, 4 * MiB, AZURE_MAX_PAGE_BYTES);
    // Act
    const results = [];
    for (const range of ranges) results.push(await azureUploadRange(t.gw, job.jobId, range));
    // Assess: the blob, read as a fixed VHD, is the disk; only data pages and the footer were written
    const vhd = await openRandomAccess(bufferSource(blob), { format: 'vhd-fixed' });
    expect(sha256(await vhd.read(0, vhd.capacity))).toBe(DISK_SHA256);
    expect(blob.subarray(layout.virtualSize).equals(layout.footer)).toBe(true);
    const writes = t.fake.azure.argsOf('pageBlob.uploadPages');
    for (const [, body] of writes) {
      const data = body as Buffer;
      for (let s = 0; s < data.length; s += 512)
        expect(data.subarray(s, s + 512).some((b) => b !== 0)).toBe(true);
    }
    const written = results.reduce((n, r) => n + r.bytesWritten, 0);
    expect(written).toBe(writes.reduce((n, [, body]) => n + (body as Buffer).length, 0));
    expect(written).toBeLessThan(layout.fileSize / 10);
    // each range asked for its own write SAS: none travels through the workflow
    expect(t.fake.azure.argsOf('disks.grantAccess').map(([, , grant]) => grant.access)).toEqual(
      Array(ranges.length).fill('Write'),
    );
  });
});

describe('azureFinishUpload', () => {
  const uploading = () =>
    inspectedJob((j) => {
      j.state = 'importing';
      j.cloud.diskId = diskIdOf(j.jobId);
      j.bytes.allocated = 64 * 1024;
      j.activeStep = { name: 'disk-upload', startedAt: t.gw.now().toISOString() };
    });

  it('ends the upload, takes the base snapshot of the disk for the return, and counts the bytes', async () => {
    // Prepare
    const job = await uploading();
    grantsSas();
    t.fake.azure.on('snapshots.createOrUpdate', (_rg, name) => ({ id: snapshotIdOf(name) }));
    // Act
    const out = await azureFinishUpload(t.gw, job.jobId, [
      { index: 0, bytesWritten: 66_048, pages: 2 },
      { index: 5, bytesWritten: 512, pages: 1 },
    ]);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ bytesWritten: 66_560, baseSnapshotId: snapshotIdOf(`${job.jobId}-base`) });
    expect(t.fake.azure.operations()).toEqual(['disks.revokeAccess', 'snapshots.createOrUpdate']);
    expect(t.fake.azure.argsOf('snapshots.createOrUpdate')[0]?.[2]).toMatchObject({
      incremental: true,
      creationData: { createOption: 'Copy', sourceResourceId: diskIdOf(job.jobId) },
    });
    expect(after.cloud.baseSnapshotId).toBe(out.baseSnapshotId);
    expect(after.resources).toContainEqual(
      expect.objectContaining({ type: 'snapshot', id: out.baseSnapshotId }),
    );
    expect(after.bytes).toMatchObject({ pagesWritten: 66_560, imported: 66_560 });
    expect(after.steps.at(-1)).toMatchObject({
      name: 'disk-upload',
      outcome: 'succeeded',
      detail: '66560 bytes in 3 page write(s) over 2 range(s); 65536 bytes allocated in the source',
    });
  });

  it('records Azure’s refusal of the VHD on the job and takes no snapshot', async () => {
    // Prepare
    const job = await uploading();
    t.fake.azure.on('disks.revokeAccess', () => {
      throw azureError('InvalidVhd', 'The VHD footer is not valid');
    });
    // Act
    const err = await failureOf(azureFinishUpload(t.gw, job.jobId, []));
    // Assess
    expect(err.name).toBe('CloudRejected');
    expect((await t.gw.store.get(job.jobId)).error).toMatchObject({
      detail: 'Disks_RevokeAccess: InvalidVhd: The VHD footer is not valid',
      step: 'disk-upload',
    });
    expect(t.fake.azure.argsOf('snapshots.createOrUpdate')).toEqual([]);
  });
});

describe('azureCreateVm', () => {
  const uploaded = () =>
    inspectedJob((j) => {
      j.state = 'importing';
      j.cloud.diskId = diskIdOf(j.jobId);
    });

  it('puts the NIC on the deployment’s virtual network (made on first use), then submits the VM on the disk', async () => {
    // Prepare
    const job = await uploaded();
    const subnet = `${idOf('Microsoft.Network/virtualNetworks', 'burstgate-westeurope-vnet')}/subnets/vms`;
    t.fake.azure
      .on('virtualNetworks.get', () => {
        throw azureError('ResourceNotFound', 'no such virtual network', 404);
      })
      .on('virtualNetworks.beginCreateOrUpdateAndWait', () => ({ subnets: [{ name: 'vms', id: subnet }] }))
      .on('networkInterfaces.beginCreateOrUpdateAndWait', (_rg, name) => ({
        id: idOf('Microsoft.Network/networkInterfaces', name),
      }))
      .on('virtualMachines.createOrUpdate', () => ({}));
    // Act
    const out = await azureCreateVm(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    const nicId = idOf('Microsoft.Network/networkInterfaces', `${job.jobId}-nic`);
    expect(out.virtualMachineId).toBe(idOf('Microsoft.Compute/virtualMachines', `${job.jobId}-vm`));
    expect(t.fake.azure.argsOf('networkInterfaces.beginCreateOrUpdateAndWait')[0]?.[2]).toMatchObject({
      ipConfigurations: [{ name: 'ipconfig1', subnet: { id: subnet } }],
    });
    expect(t.fake.azure.argsOf('virtualMachines.createOrUpdate')[0]?.[2]).toMatchObject({
      hardwareProfile: { vmSize: 'Standard_D2s_v3' },
      storageProfile: {
        osDisk: { createOption: 'Attach', osType: 'Linux', managedDisk: { id: diskIdOf(job.jobId) } },
      },
      networkProfile: { networkInterfaces: [{ id: nicId, primary: true }] },
    });
    expect(after.state).toBe('launching');
    expect(after.cloud).toMatchObject({ networkInterfaceId: nicId, virtualMachineId: out.virtualMachineId });
    expect(after.resources.map((r) => r.type)).toEqual(['network-interface', 'virtual-machine']);
  });

  it('uses the configured subnet, and makes no virtual network', async () => {
    // Prepare
    t = stepTest({ config: { azure: { ...FAKE_AZURE_CONFIG, subnetId: 'subnet-of-the-site' } } });
    const job = await uploaded();
    t.fake.azure
      .on('networkInterfaces.beginCreateOrUpdateAndWait', (_rg, name) => ({
        id: idOf('Microsoft.Network/networkInterfaces', name),
      }))
      .on('virtualMachines.createOrUpdate', () => ({}));
    // Act
    await azureCreateVm(t.gw, job.jobId);
    // Assess
    expect(t.fake.azure.operations()).toEqual([
      'networkInterfaces.beginCreateOrUpdateAndWait',
      'virtualMachines.createOrUpdate',
    ]);
    expect(t.fake.azure.argsOf('networkInterfaces.beginCreateOrUpdateAndWait')[0]?.[2]).toMatchObject({
      ipConfigurations: [{ subnet: { id: 'subnet-of-the-site' } }],
    });
  });
});

describe('azureCheckVm', () => {
  const launching = () =>
    inspectedJob((j) => {
      j.state = 'launching';
      j.cloud.virtualMachineId = idOf('Microsoft.Compute/virtualMachines', `${j.jobId}-vm`);
      j.activeStep = { name: 'launch', startedAt: t.gw.now().toISOString() };
    });
  const vmReports = (...codes: Array<{ code: string; message?: string }>) =>
    t.fake.azure.on('virtualMachines.instanceView', () => ({ statuses: codes }));

  it('is done once the VM’s power state is the desired one', async () => {
    // Prepare
    const job = await launching();
    vmReports({ code: 'ProvisioningState/creating' }, { code: 'PowerState/starting' });
    // Act
    const starting = await azureCheckVm(t.gw, job.jobId, 'running');
    vmReports({ code: 'ProvisioningState/succeeded' }, { code: 'PowerState/running' });
    const running = await azureCheckVm(t.gw, job.jobId, 'running');
    // Assess
    expect(starting).toEqual({ done: false, state: 'starting' });
    expect(running).toEqual({ done: true, state: 'running' });
  });

  it('fails the step with Azure’s code and message when the VM’s provisioning failed', async () => {
    // Prepare
    const job = await launching();
    vmReports({
      code: 'ProvisioningState/failed/OSProvisioningTimedOut',
      message: 'OS provisioning did not finish',
    });
    // Act
    const err = await failureOf(azureCheckVm(t.gw, job.jobId, 'running'));
    // Assess
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'OSProvisioningTimedOut' });
    expect((await t.gw.store.get(job.jobId)).error).toMatchObject({
      detail: `VM ${idOf('Microsoft.Compute/virtualMachines', `${job.jobId}-vm`)} failed: OSProvisioningTimedOut: OS provisioning did not finish`,
      step: 'launch',
    });
  });

  it('fails with CloudTimedOut once it has waited longer than maxVmWaitMs', async () => {
    // Prepare
    const job = await launching();
    vmReports({ code: 'PowerState/starting' });
    // Act
    t.fake.clock.advance(FAKE_AZURE_CONFIG.maxVmWaitMs);
    const within = await azureCheckVm(t.gw, job.jobId, 'running');
    t.fake.clock.advance(1);
    const err = await failureOf(azureCheckVm(t.gw, job.jobId, 'running'));
    // Assess
    expect(within.done).toBe(false);
    expect(err.name).toBe('CloudTimedOut');
    expect((await t.gw.store.get(job.jobId)).error?.detail).toBe(
      `the VM did not become running within ${FAKE_AZURE_CONFIG.maxVmWaitMs} ms (last: starting)`,
    );
  });
});

describe('azureDeallocate and azureSnapshotForReturn', () => {
  const running = () =>
    inspectedJob((j) => {
      j.state = 'running';
      j.cloud = {
        diskId: diskIdOf(j.jobId),
        baseSnapshotId: snapshotIdOf(`${j.jobId}-base`),
        virtualMachineId: idOf('Microsoft.Compute/virtualMachines', `${j.jobId}-vm`),
      };
      j.execution = { returnAttempts: 2 };
    });

  it('submits the deallocation of a running VM, and leaves one already deallocating alone', async () => {
    // Prepare
    const [a, b] = [await running(), await running()];
    t.fake.azure
      .on('virtualMachines.instanceView', (_rg, name) => ({
        statuses: [{ code: name === `${a.jobId}-vm` ? 'PowerState/running' : 'PowerState/deallocating' }],
      }))
      .on('virtualMachines.deallocate', () => undefined);
    // Act
    await azureDeallocate(t.gw, a.jobId);
    await azureDeallocate(t.gw, b.jobId);
    // Assess
    expect(t.fake.azure.argsOf('virtualMachines.deallocate').map(([, name]) => name)).toEqual([
      `${a.jobId}-vm`,
    ]);
    const after = await t.gw.store.get(a.jobId);
    expect(after.state).toBe('returning');
    expect(after.activeStep?.name).toBe('stop');
  });

  it('snapshots the deallocated disk as return-<attempt>, recorded first, and ends the stop step', async () => {
    // Prepare
    const job = await running();
    t.fake.azure.on('virtualMachines.instanceView', () => ({
      statuses: [{ code: 'PowerState/deallocated' }],
    }));
    await azureDeallocate(t.gw, job.jobId);
    t.fake.azure.on('snapshots.createOrUpdate', (_rg, name) => ({ id: snapshotIdOf(name) }));
    // Act
    const out = await azureSnapshotForReturn(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out.returnSnapshotId).toBe(snapshotIdOf(`${job.jobId}-return-2`));
    expect(after.cloud.returnSnapshotId).toBe(out.returnSnapshotId);
    expect(after.steps.map((s) => [s.name, s.outcome])).toEqual([
      ['stop', 'succeeded'],
      ['snapshot', 'succeeded'],
    ]);
  });
});

describe('azurePublishDelta', () => {
  /** The guest rewrote 64 KiB at 4 MiB and cleared the data at 1 MiB. */
  const GUEST = () => {
    const guest = Buffer.from(DISK);
    guest.fill(0, MiB, MiB + 64 * 1024);
    pseudoRandom(64 * 1024, 5).copy(guest, 4 * MiB);
    return guest;
  };

  /** A deallocated job with its base and return snapshots, the return's blob holding `guest`'s VHD. */
  async function returning(guest: Buffer) {
    const job = await inspectedJob((j) => {
      j.state = 'returning';
      const base = snapshotIdOf(`${j.jobId}-base`);
      const ret = snapshotIdOf(`${j.jobId}-return-1`);
      j.cloud = { diskId: diskIdOf(j.jobId), baseSnapshotId: base, returnSnapshotId: ret };
      for (const id of [base, ret])
        j.resources.push({ type: 'snapshot', id, location: 'westeurope', createdAt: j.createdAt });
      j.execution = { returnAttempts: 1 };
    });
    const layout = jobVhdLayout(job);
    const blob = Buffer.concat([guest, Buffer.alloc(layout.virtualSize - guest.length), layout.footer]);
    pageBlobs(new Map([[`https://sas/${job.jobId}-return-1?Read`, blob]]));
    grantsSas();
    return { job, layout };
  }

  it('publishes the changed pages as a delta that rebuilds the guest’s disk, reading only them', async () => {
    // Prepare: Azure's diff also names the footer page, which is no guest data
    const guest = GUEST();
    const { job, layout } = await returning(guest);
    t.fake.azure.on('pageBlob.getPageRangesDiffForManagedDisks', () => ({
      pageRange: [
        { offset: 4 * MiB, count: 64 * 1024 - 1 }, // storage-blob's count is End - Start of an inclusive End
        { offset: layout.virtualSize, count: 511 },
      ],
      clearRange: [{ offset: MiB, count: 64 * 1024 - 1 }],
    }));
    // Act
    const out = await azurePublishDelta(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    const { disk, header } = await applied(t.fake.bucket.get(out.key)!, DISK);
    expect(sha256(disk)).toBe(sha256(guest));
    expect(header).toMatchObject({ virtualSize: DISK.length, baseSha256: DISK_SHA256 });
    expect(
      t.fake.azure.argsOf('pageBlob.downloadToBuffer').map(([, offset, count]) => [offset, count]),
    ).toEqual([[4 * MiB, 64 * 1024]]);
    expect(out).toMatchObject({
      full: false,
      changedBytes: 128 * 1024,
      readBytes: 64 * 1024,
      diskSha256: sha256(guest),
    });
    expect(after.returned).toMatchObject({
      format: 'delta',
      baseDiskSha256: DISK_SHA256,
      matchesOriginal: false,
    });
    // both read SASes ended: a snapshot with an active SAS cannot be deleted
    expect(t.fake.azure.argsOf('snapshots.revokeAccess').map(([, name]) => name)).toEqual([
      `${job.jobId}-return-1`,
      `${job.jobId}-base`,
    ]);
  });

  it('falls back to a full copy of the written pages when the base snapshot is gone', async () => {
    // Prepare
    const guest = GUEST();
    const { job, layout } = await returning(guest);
    t.fake.azure
      .on('snapshots.grantAccess', (_rg, name, grant) => {
        if (name.endsWith('-base')) throw azureError('ResourceNotFound', `snapshot ${name} not found`, 404);
        return { accessSAS: `https://sas/${name}?${grant.access}` };
      })
      .on('pageBlob.getPageRanges', () => ({
        pageRange: [
          { offset: 0, count: 512 - 1 },
          { offset: 4 * MiB, count: 64 * 1024 - 1 },
          { offset: layout.virtualSize, count: 511 },
        ],
      }));
    // Act
    const out = await azurePublishDelta(t.gw, job.jobId);
    // Assess
    const { disk, header } = await applied(t.fake.bucket.get(out.key)!);
    expect(sha256(disk)).toBe(sha256(guest));
    expect(header.baseSha256).toBeUndefined();
    expect(out).toMatchObject({ full: true, readBytes: 512 + 64 * 1024 });
    expect(t.fake.azure.argsOf('pageBlob.getPageRangesDiffForManagedDisks')).toEqual([]);
  });

  it('ends the read access even when a read fails, and publishes nothing', async () => {
    // Prepare
    const { job } = await returning(GUEST());
    t.fake.azure
      .on('pageBlob.getPageRangesDiffForManagedDisks', () => ({
        pageRange: [{ offset: 4 * MiB, count: 4095 }],
      }))
      .on('pageBlob.downloadToBuffer', () => {
        throw azureError('AuthenticationFailed', 'the SAS expired', 403);
      });
    // Act
    const err = await failureOf(azurePublishDelta(t.gw, job.jobId));
    // Assess
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'AuthenticationFailed' });
    expect(t.fake.azure.argsOf('snapshots.revokeAccess')).toHaveLength(2);
    expect(t.fake.bucket.keys().filter((k) => k.startsWith('returns/'))).toEqual([]);
    expect((await t.gw.store.get(job.jobId)).error).toMatchObject({
      detail: 'Blob_Download: AuthenticationFailed: the SAS expired',
      step: 'publish',
    });
  });
});
