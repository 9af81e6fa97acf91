/**
 * The Azure adapter: managed disks made by upload (createOption `Upload`, page writes through a
 * write SAS), incremental snapshots, a network interface and a VM that attaches the disk
 * (`@azure/arm-compute`, `@azure/arm-network`, `@azure/storage-blob`), and the return path's
 * page-range diff and ranged reads through read SASes.
 *
 * Every resource has a name derived from the job id (`<jobId>-osdisk`, `-base`, `-nic`, `-vm`,
 * `-return-<n>`), so a retried step PUTs the same resource again (ARM's PUT is idempotent) instead
 * of creating a second one, and its id is known — and recorded on the job — before it is created.
 * SAS URLs are secrets: they are asked for by the step that uses them and never leave it.
 *
 * Long-running operations poll every `lroPollIntervalMs`: ARM sends no Retry-After, and the SDKs
 * would otherwise wait 2 s between polls. The VM create and the deallocate are only submitted here;
 * the workflow waits for them with its own Wait/Check loop (minutes in Azure, far past a Lambda).
 */
import type { AzureClients } from './clients';
import { classifyAzureError, isAzureGone } from './errors';
import { CloudError } from '../errors';
import type { AzureTarget as AzureJobTarget, Job, JobResource } from '../../domain/job';
import type { PageWrite } from './page-plan';
import { buildFixedVhdFooter } from '../../images/vhd';

export interface AzureTargetOptions {
  /** The SDK clients (the service principal may come from Secrets Manager: asked for once, lazily). */
  clients(): Promise<AzureClients>;
  /** Pause between polls of a long-running operation. */
  lroPollIntervalMs: number;
  /** Lifetime of the SAS URLs the steps ask for. */
  sasDurationSeconds: number;
  /**
   * Subnet for the VMs' network interfaces (an ARM id). Without it the adapter keeps one virtual
   * network per resource group and location, `burstgate-<location>-vnet` (10.42.0.0/16, subnet
   * `vms` 10.42.0.0/20): deployment infrastructure, created on first use and never removed by a job.
   */
  subnetId?: string;
  /** Parallel page writes per range (default 4). */
  pageWriteConcurrency?: number;
}

/** Tags on everything the gateway creates in Azure (as on AWS, where IAM conditions rely on them). */
function tagsFor(job: Job): Record<string, string> {
  return {
    'burstgate:managed': 'true',
    'burstgate:job': job.jobId,
    'burstgate:vm': job.vmName.slice(0, 256),
  };
}

/** The job's Azure target; anything else is a programming error of the caller. */
export function azureTargetOf(job: Job): AzureJobTarget {
  if (job.target.cloud !== 'azure') {
    throw new CloudError('CloudRejected', `job ${job.jobId} targets ${job.target.cloud}, not Azure`);
  }
  return job.target;
}

/** The names of a job's resources. */
export function azureNames(jobId: string) {
  return {
    disk: `${jobId}-osdisk`,
    baseSnapshot: `${jobId}-base`,
    networkInterface: `${jobId}-nic`,
    virtualMachine: `${jobId}-vm`,
    returnSnapshot: (attempt: number) => `${jobId}-return-${attempt}`,
  };
}

const PROVIDER = {
  disk: 'Microsoft.Compute/disks',
  snapshot: 'Microsoft.Compute/snapshots',
  'virtual-machine': 'Microsoft.Compute/virtualMachines',
  'network-interface': 'Microsoft.Network/networkInterfaces',
} as const;
export type AzureResourceType = keyof typeof PROVIDER;

/** A parsed ARM resource id of one of the types above. */
export function parseAzureResourceId(id: string): { resourceGroup: string; name: string; type: string } {
  const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/([^/]+\/[^/]+)\/([^/]+)$/i.exec(id);
  if (!m) throw new CloudError('CloudRejected', `"${id}" is not an ARM resource id`);
  return { resourceGroup: m[1]!, type: m[2]!, name: m[3]! };
}

/** What the VM reports: its power state and, when its creation failed, Azure's reason. */
export interface AzureVmState {
  /** `starting`, `running`, `deallocating`, `deallocated`, `stopped`, ... (PowerState/<x>); `unknown` before one is reported. */
  power: string;
  /** Set when ARM reports the VM's provisioning as failed. */
  failure?: { code: string; message: string };
}

/** Changed ranges of a disk, [start, end) byte offsets. */
export interface AzurePageDiff {
  /** Pages written since the base (data to carry). */
  changed: Array<[number, number]>;
  /** Pages cleared since the base (zeros). */
  cleared: Array<[number, number]>;
}

const DIFF_WINDOW_BYTES = 8 * 1024 * 1024 * 1024;

/**
 * storage-blob 12.32 reports a page range as `{ offset, count }` with `count = End - Start` of the
 * REST answer's inclusive `<End>`: the range covers `count + 1` bytes.
 */
function byteRanges(ranges: Array<{ offset: number; count?: number }> | undefined): Array<[number, number]> {
  return (ranges ?? []).map((r) => [r.offset, r.offset + (r.count ?? 0) + 1]);
}

export class AzureTarget {
  private readonly poll: { updateIntervalInMs: number };

  constructor(private readonly opts: AzureTargetOptions) {
    this.poll = { updateIntervalInMs: opts.lroPollIntervalMs };
  }

  private async call<T>(what: string, fn: (c: AzureClients) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.opts.clients());
    } catch (err) {
      throw classifyAzureError(err, what);
    }
  }

  /** The ARM id a job resource has (or will have once created). */
  async resourceId(job: Job, type: AzureResourceType, name: string): Promise<string> {
    const { subscriptionId } = await this.opts.clients();
    const rg = azureTargetOf(job).resourceGroup;
    return `/subscriptions/${subscriptionId}/resourceGroups/${rg}/providers/${PROVIDER[type]}/${name}`;
  }

  // ---------------------------------------------------------------- offload

  /** Creates (or finds again) the empty disk an upload fills; `uploadSizeBytes` includes the VHD footer. */
  async createUploadDisk(
    job: Job,
    opts: { uploadSizeBytes: number; hyperVGeneration: 'V1' | 'V2'; osType: 'Linux' | 'Windows' },
  ): Promise<string> {
    const t = azureTargetOf(job);
    const name = azureNames(job.jobId).disk;
    const disk = await this.call('Disks_CreateOrUpdate', (c) =>
      c.compute.disks.createOrUpdate(
        t.resourceGroup,
        name,
        {
          location: t.location,
          tags: tagsFor(job),
          sku: { name: 'StandardSSD_LRS' },
          osType: opts.osType,
          hyperVGeneration: opts.hyperVGeneration,
          creationData: { createOption: 'Upload', uploadSizeBytes: opts.uploadSizeBytes },
        },
        this.poll,
      ),
    );
    if (!disk.id) throw new CloudError('CloudRejected', `Disks_CreateOrUpdate returned no id for ${name}`);
    return disk.id;
  }

  /** The disk's upload state (`ReadyToUpload`, `ActiveUpload`, `Unattached`, `Attached`, ...). */
  async diskState(job: Job): Promise<string | undefined> {
    const t = azureTargetOf(job);
    return this.call(
      'Disks_Get',
      async (c) => (await c.compute.disks.get(t.resourceGroup, azureNames(job.jobId).disk)).diskState,
    );
  }

  /**
   * A write SAS for the job's disk. Each upload step asks for its own (Azure hands out a SAS per
   * grant while the disk is in ActiveUpload), so no secret travels through the workflow's state.
   */
  async grantDiskWrite(job: Job): Promise<string> {
    const t = azureTargetOf(job);
    const access = await this.call('Disks_GrantAccess', (c) =>
      c.compute.disks.grantAccess(
        t.resourceGroup,
        azureNames(job.jobId).disk,
        { access: 'Write', durationInSeconds: this.opts.sasDurationSeconds },
        this.poll,
      ),
    );
    if (!access.accessSAS) throw new CloudError('CloudRejected', 'Disks_GrantAccess returned no accessSAS');
    return access.accessSAS;
  }

  /** Writes pages through a SAS, a few at a time; returns the bytes and pages written. */
  async writePages(
    sasUrl: string,
    writes: AsyncIterable<PageWrite>,
  ): Promise<{ bytes: number; pages: number }> {
    const blob = (await this.opts.clients()).pageBlob(sasUrl);
    const limit = this.opts.pageWriteConcurrency ?? 4;
    const inFlight = new Set<Promise<void>>();
    let bytes = 0;
    let pages = 0;
    let failure: unknown;
    for await (const w of writes) {
      if (failure) break;
      const p: Promise<void> = blob
        .uploadPages(w.data, w.offset, w.data.length)
        .then(() => {
          bytes += w.data.length;
          pages++;
        })
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= limit) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure) throw classifyAzureError(failure, 'PageBlob_UploadPages');
    return { bytes, pages };
  }

  /**
   * Ends the upload: Azure checks the VHD footer now and refuses a bad one (InvalidVhd). Once the
   * disk left ActiveUpload a repeat is a no-op (a retried step).
   */
  async revokeDiskAccess(job: Job): Promise<void> {
    const t = azureTargetOf(job);
    await this.call('Disks_RevokeAccess', (c) =>
      c.compute.disks.revokeAccess(t.resourceGroup, azureNames(job.jobId).disk, this.poll),
    );
  }

  /** An incremental snapshot of the job's disk, named `name` (the same name again: the same snapshot). */
  async snapshotDisk(job: Job, name: string): Promise<string> {
    const t = azureTargetOf(job);
    const diskId = await this.resourceId(job, 'disk', azureNames(job.jobId).disk);
    const snapshot = await this.call('Snapshots_CreateOrUpdate', (c) =>
      c.compute.snapshots.createOrUpdate(
        t.resourceGroup,
        name,
        {
          location: t.location,
          tags: tagsFor(job),
          incremental: true,
          creationData: { createOption: 'Copy', sourceResourceId: diskId },
        },
        this.poll,
      ),
    );
    if (!snapshot.id)
      throw new CloudError('CloudRejected', `Snapshots_CreateOrUpdate returned no id for ${name}`);
    return snapshot.id;
  }

  private async subnetFor(job: Job): Promise<string> {
    if (this.opts.subnetId) return this.opts.subnetId;
    const t = azureTargetOf(job);
    const vnetName = `burstgate-${t.location}-vnet`;
    const existing = await this.call('VirtualNetworks_Get', async (c) => {
      try {
        return await c.network.virtualNetworks.get(t.resourceGroup, vnetName);
      } catch (err) {
        if (isAzureGone(err) && classifyAzureError(err, '').code !== 'ResourceGroupNotFound')
          return undefined;
        throw err;
      }
    });
    const vnet =
      existing ??
      (await this.call('VirtualNetworks_CreateOrUpdate', (c) =>
        c.network.virtualNetworks.beginCreateOrUpdateAndWait(
          t.resourceGroup,
          vnetName,
          {
            location: t.location,
            tags: { 'burstgate:managed': 'true' },
            addressSpace: { addressPrefixes: ['10.42.0.0/16'] },
            subnets: [{ name: 'vms', addressPrefix: '10.42.0.0/20' }],
          },
          this.poll,
        ),
      ));
    const subnet = vnet.subnets?.find((s) => s.name === 'vms') ?? vnet.subnets?.[0];
    if (!subnet?.id) throw new CloudError('CloudRejected', `virtual network ${vnetName} has no subnet`);
    return subnet.id;
  }

  /** The VM's network interface, on the configured subnet (or the deployment's own virtual network). */
  async createNetworkInterface(job: Job): Promise<string> {
    const t = azureTargetOf(job);
    const subnetId = await this.subnetFor(job);
    const nic = await this.call('NetworkInterfaces_CreateOrUpdate', (c) =>
      c.network.networkInterfaces.beginCreateOrUpdateAndWait(
        t.resourceGroup,
        azureNames(job.jobId).networkInterface,
        {
          location: t.location,
          tags: tagsFor(job),
          ipConfigurations: [{ name: 'ipconfig1', subnet: { id: subnetId } }],
        },
        this.poll,
      ),
    );
    if (!nic.id) throw new CloudError('CloudRejected', 'NetworkInterfaces_CreateOrUpdate returned no id');
    return nic.id;
  }

  /** Submits the VM's creation (it attaches the uploaded disk and the NIC); the workflow waits for `running`. */
  async submitVm(job: Job, opts: { osType: 'Linux' | 'Windows' }): Promise<void> {
    const t = azureTargetOf(job);
    const names = azureNames(job.jobId);
    const diskId = await this.resourceId(job, 'disk', names.disk);
    const nicId = await this.resourceId(job, 'network-interface', names.networkInterface);
    await this.call('VirtualMachines_CreateOrUpdate', (c) =>
      c.compute.virtualMachines
        .createOrUpdate(
          t.resourceGroup,
          names.virtualMachine,
          {
            location: t.location,
            tags: tagsFor(job),
            hardwareProfile: { vmSize: t.vmSize },
            storageProfile: {
              osDisk: { createOption: 'Attach', osType: opts.osType, managedDisk: { id: diskId } },
            },
            networkProfile: { networkInterfaces: [{ id: nicId, primary: true }] },
          },
          this.poll,
        )
        .submitted(),
    );
  }

  /** The VM's power state from its instance view, with Azure's reason when provisioning failed. */
  async vmState(job: Job): Promise<AzureVmState> {
    const t = azureTargetOf(job);
    const view = await this.call('VirtualMachines_InstanceView', (c) =>
      c.compute.virtualMachines.instanceView(t.resourceGroup, azureNames(job.jobId).virtualMachine),
    );
    const statuses = view.statuses ?? [];
    const power = statuses.find((s) => s.code?.startsWith('PowerState/'))?.code?.slice('PowerState/'.length);
    const failed = statuses.find((s) => s.code?.toLowerCase().startsWith('provisioningstate/failed'));
    return {
      power: power ?? 'unknown',
      ...(failed
        ? {
            failure: {
              code: failed.code!.split('/')[2] ?? 'ProvisioningFailed',
              message: failed.message ?? failed.displayStatus ?? 'the VM could not be provisioned',
            },
          }
        : {}),
    };
  }

  /** Submits the deallocation (the disk stops changing; billing of the VM stops). */
  async submitDeallocate(job: Job): Promise<void> {
    const t = azureTargetOf(job);
    await this.call('VirtualMachines_Deallocate', (c) =>
      c.compute.virtualMachines
        .deallocate(t.resourceGroup, azureNames(job.jobId).virtualMachine, this.poll)
        .submitted(),
    );
  }

  // ---------------------------------------------------------------- return

  /** A read SAS for a snapshot (by ARM id). */
  async grantSnapshotRead(snapshotId: string): Promise<string> {
    const { resourceGroup, name } = parseAzureResourceId(snapshotId);
    const access = await this.call('Snapshots_GrantAccess', (c) =>
      c.compute.snapshots.grantAccess(
        resourceGroup,
        name,
        { access: 'Read', durationInSeconds: this.opts.sasDurationSeconds },
        this.poll,
      ),
    );
    if (!access.accessSAS)
      throw new CloudError('CloudRejected', 'Snapshots_GrantAccess returned no accessSAS');
    return access.accessSAS;
  }

  /** Ends a snapshot's read access (a snapshot with an active SAS cannot be deleted). */
  async revokeSnapshotRead(snapshotId: string): Promise<void> {
    const { resourceGroup, name } = parseAzureResourceId(snapshotId);
    try {
      await (await this.opts.clients()).compute.snapshots.revokeAccess(resourceGroup, name, this.poll);
    } catch (err) {
      if (isAzureGone(err)) return;
      throw classifyAzureError(err, 'Snapshots_RevokeAccess');
    }
  }

  /** The pages that differ between two snapshots of one disk, within [0, size), ascending. */
  async pageDiff(sasUrl: string, baseSasUrl: string, size: number): Promise<AzurePageDiff> {
    const blob = (await this.opts.clients()).pageBlob(sasUrl);
    const diff: AzurePageDiff = { changed: [], cleared: [] };
    // In windows: Azure may cut a long answer of a fragmented disk short.
    for (let at = 0; at < size; at += DIFF_WINDOW_BYTES) {
      const count = Math.min(DIFF_WINDOW_BYTES, size - at);
      const out = await this.call('PageBlob_GetPageRangesDiff', () =>
        blob.getPageRangesDiffForManagedDisks(at, count, baseSasUrl),
      );
      diff.changed.push(...byteRanges(out.pageRange));
      diff.cleared.push(...byteRanges(out.clearRange));
    }
    return diff;
  }

  /** The written pages of a snapshot within [0, size), ascending (for a full download). */
  async pageRanges(sasUrl: string, size: number): Promise<Array<[number, number]>> {
    const blob = (await this.opts.clients()).pageBlob(sasUrl);
    const ranges: Array<[number, number]> = [];
    for (let at = 0; at < size; at += DIFF_WINDOW_BYTES) {
      const count = Math.min(DIFF_WINDOW_BYTES, size - at);
      const out = await this.call('PageBlob_GetPageRanges', () => blob.getPageRanges(at, count));
      ranges.push(...byteRanges(out.pageRange));
    }
    return ranges;
  }

  /** Reads [offset, offset + length) through a SAS. */
  async read(sasUrl: string, offset: number, length: number): Promise<Buffer> {
    const blob = (await this.opts.clients()).pageBlob(sasUrl);
    const data = await this.call('Blob_Download', () => blob.downloadToBuffer(offset, length));
    if (data.length !== length) {
      throw new CloudError(
        'CloudUnavailable',
        `Blob_Download: asked for ${length} bytes at ${offset}, got ${data.length}`,
      );
    }
    return data;
  }

  // ---------------------------------------------------------------- removal

  /**
   * A disk whose upload never ended cannot be deleted (ActiveUpload), and ending it checks the VHD
   * footer — missing when the upload failed half-way. Writing a valid footer (the pages before it
   * may hold anything: the disk is about to go) lets the revoke succeed and the delete follow.
   */
  private async abandonUpload(
    c: AzureClients,
    rg: string,
    name: string,
    uploadSizeBytes: number | undefined,
  ) {
    if (!uploadSizeBytes)
      throw new CloudError('CloudRejected', `disk ${name} in ActiveUpload has no uploadSizeBytes`);
    const access = await c.compute.disks.grantAccess(
      rg,
      name,
      { access: 'Write', durationInSeconds: this.opts.sasDurationSeconds },
      this.poll,
    );
    if (!access.accessSAS) throw new CloudError('CloudRejected', 'Disks_GrantAccess returned no accessSAS');
    const footer = buildFixedVhdFooter(uploadSizeBytes - 512, { roundToMiB: true });
    await c.pageBlob(access.accessSAS).uploadPages(footer, uploadSizeBytes - 512, 512);
    await c.compute.disks.revokeAccess(rg, name, this.poll);
  }

  /**
   * Removes one resource the job created; already gone is fine. A disk or snapshot with an active
   * SAS cannot be deleted, so its access is revoked first; a VM's deletion is awaited, since its NIC
   * and disk stay in use until it is gone.
   */
  async remove(resource: JobResource): Promise<void> {
    const { resourceGroup: rg, name } = parseAzureResourceId(resource.id);
    const ignoreGone = async (what: string, fn: (c: AzureClients) => Promise<unknown>) => {
      try {
        await fn(await this.opts.clients());
      } catch (err) {
        if (isAzureGone(err)) return;
        throw classifyAzureError(err, what);
      }
    };
    switch (resource.type) {
      case 'virtual-machine':
        return ignoreGone('VirtualMachines_Delete', (c) =>
          c.compute.virtualMachines.delete(rg, name, this.poll),
        );
      case 'network-interface':
        return ignoreGone('NetworkInterfaces_Delete', (c) =>
          c.network.networkInterfaces.beginDeleteAndWait(rg, name, this.poll),
        );
      case 'disk':
        await ignoreGone('Disks_RevokeAccess', async (c) => {
          const disk = await c.compute.disks.get(rg, name);
          if (disk.diskState === 'ActiveUpload')
            await this.abandonUpload(c, rg, name, disk.creationData?.uploadSizeBytes);
          else if (disk.diskState === 'ActiveSAS') await c.compute.disks.revokeAccess(rg, name, this.poll);
        });
        return ignoreGone('Disks_Delete', (c) => c.compute.disks.delete(rg, name, this.poll));
      case 'snapshot':
        await this.revokeSnapshotRead(resource.id);
        return ignoreGone('Snapshots_Delete', (c) => c.compute.snapshots.delete(rg, name, this.poll));
      default:
        throw new CloudError('CloudRejected', `the Azure adapter cannot remove a ${resource.type}`);
    }
  }
}
