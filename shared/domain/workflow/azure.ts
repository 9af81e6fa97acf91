/**
 * The Azure steps of the offload and return workflows. As in steps.ts, each reads the job, does one
 * thing, and records what it created before it returns; every resource id is derived from the job
 * id (see clouds/azure), so it is recorded on the job *before* the call that creates it, and a
 * retried step PUTs the same resource again instead of making a second one.
 *
 * Offload: PrepareUpload (disk for upload, the plan) → UploadRange × N (a Map state: page writes
 * of one range of the fixed VHD each, read from the staged image by ranged GETs) → FinishUpload
 * (end the upload — Azure checks the VHD —, base snapshot) → CreateVm (NIC, VM submitted) →
 * CheckVm until running → MarkRunning.
 * Return: Deallocate → CheckVm until deallocated → SnapshotForReturn → PublishDelta (page-range
 * diff against the base snapshot, only the changed pages read, the delta streamed to S3) → Cleanup.
 */
import { createHash } from 'node:crypto';
import { azureNames, azureTargetOf, type AzureResourceType } from '../../clouds/azure/azure-target';
import { CloudError } from '../../clouds/errors';
import { isImageError } from '../../images/errors';
import type { DeltaExtentInput } from '../../images/delta-writer';
import { AZURE_MAX_PAGE_BYTES, azurePageWrites, azureVhdLayout } from '../../clouds/azure/page-plan';
import { planRanges, type UploadRange } from '../../images/upload-plan';
import { publishDeltaArtifact, type PublishedDelta } from './delta-publish';
import { beginStep, endStep, recordResource, updateJob, type Gateway } from '../gateway';
import type { Job, JobResource } from '../job';
import { openStagedDisk, stagedAllocatedBytes } from './staged-disk';
import { CANCELLED, MAX_UPLOAD_RANGES, askCloud, assertNotCancelled, failStep, rejected } from './step-kit';

const MiB = 1024 * 1024;
/** Reads of changed pages, and the pieces a delta extent streams in. */
const READ_BYTES = 4 * MiB;

type AzureIdKey =
  'diskId' | 'baseSnapshotId' | 'networkInterfaceId' | 'virtualMachineId' | 'returnSnapshotId';

function azureConfig(gw: Gateway) {
  const config = gw.config.azure;
  if (!config)
    throw new CloudError('CloudRejected', 'this gateway has no Azure configuration', 'AzureNotConfigured');
  return config;
}

/**
 * The fixed VHD layout of the job's disk. The footer's unique id and timestamp come from the job,
 * so every upload Lambda (and every retry) writes the same footer.
 */
export function jobVhdLayout(job: Job) {
  const capacity = job.image.diskCapacityBytes;
  if (!capacity) throw new CloudError('CloudRejected', `job ${job.jobId} has no inspected disk capacity`);
  return azureVhdLayout(capacity, {
    uniqueId: createHash('sha256').update(job.jobId).digest().subarray(0, 16),
    timestamp: new Date(job.createdAt),
  });
}

/** Azure's OS type from the OVF's guest OS (VMware `windows*Guest`, CIM descriptions); Linux otherwise. */
export function azureOsType(job: Job): 'Linux' | 'Windows' {
  return /windows|win\d/i.test(job.hardware?.osType ?? '') ? 'Windows' : 'Linux';
}

/** UEFI firmware needs a Generation 2 VM; BIOS boots Generation 1. */
export function hyperVGeneration(job: Job): 'V1' | 'V2' {
  return job.hardware?.firmware === 'efi' ? 'V2' : 'V1';
}

/** The chunk size the plan uses: the configured one, larger when the disk would need too many ranges. */
export function uploadChunkBytes(configured: number, fileSize: number): number {
  const needed = Math.ceil(fileSize / MAX_UPLOAD_RANGES / AZURE_MAX_PAGE_BYTES) * AZURE_MAX_PAGE_BYTES;
  return Math.max(configured, needed);
}

/**
 * Records an Azure resource on the job, then creates it. A cancel that lands meanwhile may remove
 * the recorded resource before it exists, so the step looks again afterwards and removes it itself.
 */
async function createRecorded(
  gw: Gateway,
  jobId: string,
  opts: {
    type: AzureResourceType;
    name: string;
    key: AzureIdKey;
    create: (job: Job) => Promise<unknown>;
    prepare?: (job: Job) => void;
  },
): Promise<string> {
  const current = await gw.store.get(jobId);
  assertNotCancelled(current);
  const id = await askCloud(gw, jobId, () => gw.azure().resourceId(current, opts.type, opts.name));
  const resource: Omit<JobResource, 'createdAt'> = {
    type: opts.type,
    id,
    location: azureTargetOf(current).location,
  };
  const job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    opts.prepare?.(j);
    recordResource(j, resource, gw.now());
    j.cloud[opts.key] = id;
  });
  await askCloud(gw, jobId, () => opts.create(job));
  const after = await gw.store.get(jobId);
  if (CANCELLED.has(after.state)) {
    await gw.azure().remove({ ...resource, createdAt: gw.now().toISOString() });
    assertNotCancelled(after);
  }
  return id;
}

// ---------------------------------------------------------------- offload

export interface UploadPlan {
  ranges: UploadRange[];
  chunkBytes: number;
  fileSize: number;
}

/** Creates the managed disk for upload and plans the ranges the Map state uploads in parallel. */
export async function azurePrepareUpload(gw: Gateway, jobId: string): Promise<UploadPlan> {
  const config = azureConfig(gw);
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const layout = jobVhdLayout(job);
  const chunkBytes = uploadChunkBytes(config.uploadChunkBytes, layout.fileSize);
  const ranges = planRanges(layout.fileSize, chunkBytes, AZURE_MAX_PAGE_BYTES);
  const allocated = await stagedAllocatedBytes(gw, job);
  await createRecorded(gw, jobId, {
    type: 'disk',
    name: azureNames(jobId).disk,
    key: 'diskId',
    prepare: (j) => {
      j.state = 'importing';
      beginStep(j, 'disk-upload', gw.now());
      j.bytes.allocated = allocated;
      j.cloud.uploadChunkBytes = chunkBytes;
    },
    create: (j) =>
      gw.azure().createUploadDisk(j, {
        uploadSizeBytes: layout.fileSize,
        hyperVGeneration: hyperVGeneration(j),
        osType: azureOsType(j),
      }),
  });
  return { ranges, chunkBytes, fileSize: layout.fileSize };
}

export interface UploadedRange {
  index: number;
  bytesWritten: number;
  pages: number;
}

/** One Map item: the page writes of one range of the fixed VHD, through a write SAS of its own. */
export async function azureUploadRange(
  gw: Gateway,
  jobId: string,
  range: UploadRange,
): Promise<UploadedRange> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const layout = jobVhdLayout(job);
  const sasUrl = await askCloud(gw, jobId, () => gw.azure().grantDiskWrite(job));
  const staged = await openStagedDisk(gw, job);
  try {
    const written = await askCloud(gw, jobId, () =>
      gw.azure().writePages(sasUrl, azurePageWrites(staged.disk, range, { layout })),
    );
    return { index: range.index, bytesWritten: written.bytes, pages: written.pages };
  } catch (err) {
    if (isImageError(err)) throw await failStep(gw, jobId, rejected(`${err.code}: ${err.message}`));
    throw err;
  } finally {
    await staged.close();
  }
}

/** Ends the upload (Azure validates the VHD), takes the base snapshot for the return, counts the bytes. */
export async function azureFinishUpload(
  gw: Gateway,
  jobId: string,
  uploaded: UploadedRange[],
): Promise<{ bytesWritten: number; baseSnapshotId: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const bytesWritten = uploaded.reduce((n, r) => n + r.bytesWritten, 0);
  const pages = uploaded.reduce((n, r) => n + r.pages, 0);
  await askCloud(gw, jobId, () => gw.azure().revokeDiskAccess(job));
  const name = azureNames(jobId).baseSnapshot;
  const baseSnapshotId = await createRecorded(gw, jobId, {
    type: 'snapshot',
    name,
    key: 'baseSnapshotId',
    create: (j) => gw.azure().snapshotDisk(j, name),
  });
  await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    j.bytes.pagesWritten = bytesWritten;
    j.bytes.imported = bytesWritten;
    endStep(
      j,
      'succeeded',
      gw.now(),
      `${bytesWritten} bytes in ${pages} page write(s) over ${uploaded.length} range(s); ${j.bytes.allocated ?? 0} bytes allocated in the source`,
    );
  });
  return { bytesWritten, baseSnapshotId };
}

/** The network interface, then the VM (submitted: the workflow waits for it to run). */
export async function azureCreateVm(gw: Gateway, jobId: string): Promise<{ virtualMachineId: string }> {
  const names = azureNames(jobId);
  await createRecorded(gw, jobId, {
    type: 'network-interface',
    name: names.networkInterface,
    key: 'networkInterfaceId',
    prepare: (j) => {
      j.state = 'launching';
      beginStep(j, 'launch', gw.now());
    },
    create: (j) => gw.azure().createNetworkInterface(j),
  });
  const virtualMachineId = await createRecorded(gw, jobId, {
    type: 'virtual-machine',
    name: names.virtualMachine,
    key: 'virtualMachineId',
    create: (j) => gw.azure().submitVm(j, { osType: azureOsType(j) }),
  });
  return { virtualMachineId };
}

/** Is the VM in the desired power state yet? A VM whose provisioning failed fails the step with Azure's reason. */
export async function azureCheckVm(
  gw: Gateway,
  jobId: string,
  desired: 'running' | 'deallocated',
): Promise<{ done: boolean; state: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const state = await askCloud(gw, jobId, () => gw.azure().vmState(job));
  if (state.failure) {
    throw await failStep(
      gw,
      jobId,
      new CloudError(
        'CloudRejected',
        `VM ${job.cloud.virtualMachineId} failed: ${state.failure.code}: ${state.failure.message}`,
        state.failure.code,
      ),
    );
  }
  if (state.power === desired) return { done: true, state: state.power };
  const started = Date.parse(job.activeStep?.startedAt ?? job.updatedAt);
  const limit = azureConfig(gw).maxVmWaitMs;
  if (gw.now().getTime() - started > limit) {
    throw await failStep(
      gw,
      jobId,
      new CloudError(
        'CloudTimedOut',
        `the VM did not become ${desired} within ${limit} ms (last: ${state.power})`,
      ),
    );
  }
  return { done: false, state: state.power };
}

// ---------------------------------------------------------------- return

/** Deallocates the VM (its disk stops changing); one already deallocating or deallocated is left alone. */
export async function azureDeallocate(gw: Gateway, jobId: string): Promise<void> {
  const job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    j.state = 'returning';
    beginStep(j, 'stop', gw.now());
  });
  const state = await askCloud(gw, jobId, () => gw.azure().vmState(job));
  if (state.power === 'deallocated' || state.power === 'deallocating') return;
  await askCloud(gw, jobId, () => gw.azure().submitDeallocate(job));
}

/** The incremental snapshot of the deallocated VM's disk that the return reads (one per return attempt). */
export async function azureSnapshotForReturn(
  gw: Gateway,
  jobId: string,
): Promise<{ returnSnapshotId: string }> {
  const job = await gw.store.get(jobId);
  const name = azureNames(jobId).returnSnapshot(job.execution?.returnAttempts ?? 1);
  const returnSnapshotId = await createRecorded(gw, jobId, {
    type: 'snapshot',
    name,
    key: 'returnSnapshotId',
    prepare: (j) => {
      if (j.activeStep?.name === 'stop')
        endStep(j, 'succeeded', gw.now(), `${j.cloud.virtualMachineId} deallocated`);
      beginStep(j, 'snapshot', gw.now());
    },
    create: (j) => gw.azure().snapshotDisk(j, name),
  });
  await updateJob(gw, jobId, (j) => endStep(j, 'succeeded', gw.now(), returnSnapshotId));
  return { returnSnapshotId };
}

/** Clips [start, end) ranges to [0, limit). */
function clip(ranges: Array<[number, number]>, limit: number): Array<[number, number]> {
  return ranges.flatMap(([a, b]): Array<[number, number]> => (a < limit ? [[a, Math.min(b, limit)]] : []));
}

/** Merges touching ranges of one kind (ascending input). */
function merge(ranges: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** A data extent's bytes, read through the SAS in pieces as the delta is written. */
async function* readPieces(
  gw: Gateway,
  sasUrl: string,
  start: number,
  end: number,
  counter: { bytes: number },
): AsyncGenerator<Buffer> {
  for (let at = start; at < end; at += READ_BYTES) {
    const data = await gw.azure().read(sasUrl, at, Math.min(READ_BYTES, end - at));
    counter.bytes += data.length;
    yield data;
  }
}

/**
 * Publishes the return as a delta in S3: the pages that differ between the base snapshot (taken
 * right after the upload) and the return snapshot, read through read SASes, each extent with its
 * SHA-256, and the SHA-256 of the resulting disk (the staged image's disk, read by ranged GETs
 * between the extents, overlaid with them). Without a base (deleted outside burstgate), every
 * written page of the return snapshot is carried, and zero extents fill the rest: a full copy.
 */
export async function azurePublishDelta(gw: Gateway, jobId: string): Promise<PublishedDelta> {
  let job = await gw.store.get(jobId);
  assertNotCancelled(job);
  job = await updateJob(gw, jobId, (j) => beginStep(j, 'publish', gw.now()));
  const azure = gw.azure();
  const returnSnapshotId = job.cloud.returnSnapshotId;
  if (!returnSnapshotId)
    throw new CloudError('ExportFailed', `job ${jobId} has no return snapshot to publish`);
  const layout = jobVhdLayout(job);
  const capacity = layout.capacity;
  const baseId = job.cloud.baseSnapshotId;
  const baseRecorded = job.resources.some((r) => r.id === baseId && !r.removedAt);

  const sasUrl = await askCloud(gw, jobId, () => azure.grantSnapshotRead(returnSnapshotId));
  const granted = [returnSnapshotId];
  const staged = await openStagedDisk(gw, job);
  try {
    let baseSasUrl: string | undefined;
    if (baseId && baseRecorded) {
      try {
        baseSasUrl = await azure.grantSnapshotRead(baseId);
        granted.push(baseId);
      } catch (err) {
        // The base was deleted outside burstgate: fall back to a full copy rather than fail the return.
        if ((err as CloudError).code !== 'ResourceNotFound' && (err as CloudError).code !== 'NotFound') {
          throw await failStep(gw, jobId, err as CloudError);
        }
        gw.logger.warn('the base snapshot is gone; returning the whole disk', { jobId, baseId });
      }
    }
    // Pages past the disk's content (the whole-MiB padding, the VHD footer) are not the guest's data.
    let extents: Array<{ kind: 'data' | 'zero'; range: [number, number] }>;
    let changedBytes: number;
    if (baseSasUrl) {
      const diff = await askCloud(gw, jobId, () => azure.pageDiff(sasUrl, baseSasUrl, layout.fileSize));
      const changed = merge(clip(diff.changed, capacity));
      const cleared = merge(clip(diff.cleared, capacity));
      extents = [
        ...changed.map((range) => ({ kind: 'data' as const, range })),
        ...cleared.map((range) => ({ kind: 'zero' as const, range })),
      ].sort((a, b) => a.range[0] - b.range[0]);
      changedBytes = [...changed, ...cleared].reduce((n, [a, b]) => n + b - a, 0);
    } else {
      const written = merge(
        clip(await askCloud(gw, jobId, () => azure.pageRanges(sasUrl, layout.fileSize)), capacity),
      );
      extents = [];
      let at = 0;
      for (const range of written) {
        if (range[0] > at) extents.push({ kind: 'zero', range: [at, range[0]] });
        extents.push({ kind: 'data', range });
        at = range[1];
      }
      if (at < capacity) extents.push({ kind: 'zero', range: [at, capacity] });
      changedBytes = written.reduce((n, [a, b]) => n + b - a, 0);
    }

    const read = { bytes: 0 };
    const inputs = async function* (): AsyncGenerator<DeltaExtentInput> {
      for (const e of extents) {
        const [start, end] = e.range;
        if (e.kind === 'zero') yield { kind: 'zero', offset: start, length: end - start };
        else
          yield {
            kind: 'data',
            offset: start,
            length: end - start,
            data: readPieces(gw, sasUrl, start, end, read),
          };
      }
    };
    return await publishDeltaArtifact(gw, job, {
      virtualSize: capacity,
      ...(baseSasUrl ? { base: staged.disk } : {}),
      extents: inputs(),
      changedBytes: () => changedBytes,
      readBytes: () => read.bytes,
      source: 'Azure',
    });
  } finally {
    await staged.close();
    // A snapshot with an active SAS cannot be deleted: end the read access whatever happened.
    for (const id of granted) await azure.revokeSnapshotRead(id).catch(() => undefined);
  }
}
