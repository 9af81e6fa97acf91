/**
 * The workflow steps, one function each, as the offload and return state machines call them.
 * Each step reads the job, does one thing, and records what it created on the job before it
 * returns, so compensation always knows what to remove. Steps are safe to retry.
 */
import { createHash } from 'node:crypto';
import { CloudError } from '../clouds/errors';
import type { CloudTarget, CreatedResource } from '../clouds/cloud-target';
import {
  detectImageFormat,
  detectPartitionTable,
  inspectOva,
  isImageError,
  openDiskImage,
  openRandomAccess,
  streamFrom,
  tapDisk,
  type OvaInspection,
} from '../images';
import { removeJobResources } from './cleanup';
import { releaseUploadWait } from './offloads';
import { beginStep, endStep, recordResource, updateJob, type Gateway } from './gateway';
import { isAwsDirect, recordUnrecordedDirectResources, rememberDirectImage } from './aws-image-cache';
import { resolveAwsMode } from './aws-mode';
import { deltaIndexKey, inspectDelta, type InspectedDelta } from './aws-delta-upload';
import { targetLocation, type AwsMode, type Job, type JobError, type VmHardware } from './job';

/** A step failure the job reports to its user (the workflow's Catch sends it to compensation). */
export class StepFailure extends Error {
  constructor(
    override readonly name: 'ImageRejected' | 'UploadMissing',
    readonly problem: JobError,
  ) {
    super(problem.detail);
  }
}

export const CANCELLED: ReadonlySet<string> = new Set(['cancelling', 'cancelled']);

/** A step that runs after a cancel must not create anything; it stops here. */
export function assertNotCancelled(job: Job): void {
  if (CANCELLED.has(job.state)) {
    throw new CloudError('CloudRejected', `job ${job.jobId} was cancelled; step not run`, 'JobCancelled');
  }
}

// ---------------------------------------------------------------- offload

export async function awaitUpload(gw: Gateway, jobId: string, taskToken: string): Promise<void> {
  const job = await updateJob(gw, jobId, (j) => {
    j.execution = { ...j.execution, uploadTaskToken: taskToken };
  });
  // The client may have completed the upload before this step ran: then release ourselves.
  await releaseUploadWait(gw, job);
}

export function hashing(input: AsyncIterable<Buffer>) {
  const h = createHash('sha256');
  let bytes = 0;
  async function* gen() {
    for await (const chunk of input) {
      h.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
  }
  return { stream: gen(), digest: () => ({ sha256: h.digest('hex'), bytes }) };
}

function hardwareFrom(ova: OvaInspection): VmHardware {
  return {
    vcpus: ova.hardware.vcpus,
    memoryMiB: ova.hardware.memoryMiB,
    firmware: ova.hardware.firmware,
    ...(ova.hardware.osType ? { osType: ova.hardware.osType } : {}),
    disks: ova.disks.map((d) => ({ name: d.name, capacityBytes: d.capacity, format: d.format })),
    nics: ova.hardware.nics,
  };
}

export const rejected = (detail: string, title = 'The image was rejected'): StepFailure =>
  new StepFailure('ImageRejected', { type: 'image-rejected', title, detail, step: 'inspect' });

/**
 * Reads the uploaded image once, as a stream: verifies an OVA's manifest, reads its OVF hardware,
 * checks the disk format and partition table that AWS VM Import will insist on, and measures the
 * file's and the disk content's SHA-256 (the return path compares against the latter).
 */
export async function inspectImage(
  gw: Gateway,
  jobId: string,
): Promise<{ diskSha256: string; format: string; mode?: AwsMode }> {
  let job = await gw.store.get(jobId);
  assertNotCancelled(job);
  job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j); // a DELETE may have landed since the read above
    j.state = 'inspecting';
    beginStep(j, 'inspect', gw.now());
  });
  const size = await gw.staging.size(job.image.key);
  if (size === undefined) {
    throw new StepFailure('UploadMissing', {
      type: 'upload-missing',
      title: 'The uploaded image is missing',
      detail: `s3://${job.image.bucket}/${job.image.key} does not exist; the upload was not completed`,
      step: 'inspect',
    });
  }
  const { body } = await gw.staging.read(job.image.key);
  const file = hashing(body);
  let result: {
    hardware?: VmHardware;
    diskSha256: string;
    capacity: number;
    partitionTable: 'gpt' | 'mbr' | 'none';
    format: string;
    disk: { offset: number; size: number; format: string };
  };
  let delta: InspectedDelta | undefined;
  try {
    if (job.image.format === 'delta') {
      // an incremental upload: the blocks that changed since the VM's cached snapshot (AWS direct)
      if (job.target.cloud !== 'aws') throw rejected('a delta upload needs an AWS direct offload');
      delta = await inspectDelta(gw, job, job.target.region, file.stream);
      result = {
        ...(delta.hardware ? { hardware: delta.hardware } : {}),
        diskSha256: delta.diskSha256,
        capacity: delta.capacity,
        partitionTable: delta.partitionTable,
        format: `delta (${delta.index.extents.length} extent(s), ${delta.dataBytes} bytes of data, ${delta.zeroBytes} zeroed)`,
        disk: { offset: 0, size, format: 'delta' },
      };
    } else if (job.image.format === 'ova') {
      const ova = await inspectOva(file.stream);
      const disk = ova.disks[0];
      if (!disk) throw rejected('the OVA holds no disk');
      if (ova.disks.length > 1) {
        throw rejected(`the OVA holds ${ova.disks.length} disks; this version offloads single-disk VMs only`);
      }
      const entry = ova.files.find((f) => f.name === disk.name);
      if (!entry) throw rejected(`the OVA's disk ${disk.name} is not one of its files`);
      result = {
        hardware: hardwareFrom(ova),
        diskSha256: disk.contentSha256,
        capacity: disk.capacity,
        partitionTable: disk.partitionTable,
        format: `ova/${disk.format}`,
        disk: { offset: entry.offset, size: entry.size, format: disk.format },
      };
    } else {
      // Detect from the first bytes and the footer (a fixed VHD is only recognisable by its last 512).
      const src = await gw.staging.byteSource(job.image.key, size);
      const head = await src.read(0, Math.min(64 * 1024, size));
      const tail = size >= 512 ? await src.read(size - 512, 512) : undefined;
      const detected = job.image.format === 'raw' ? 'raw' : detectImageFormat(head, size, tail);
      const accepted: Record<string, string[]> = {
        vmdk: ['vmdk-stream-optimized'],
        vhd: ['vhd-fixed', 'vhd-dynamic'],
        vhdx: ['vhdx'],
        raw: ['raw'],
      };
      if (!accepted[job.image.format]?.includes(detected)) {
        throw rejected(
          `the offload declared imageFormat '${job.image.format}' but the file is ${detected}` +
            (detected.startsWith('vmdk') ? ' (AWS VM Import takes only streamOptimized VMDKs)' : ''),
        );
      }
      // Dynamic VHD and VHDX put their block table first: read them by random access (ranged GETs).
      const opened =
        detected === 'vhd-dynamic' || detected === 'vhdx'
          ? { format: detected, disk: streamFrom(await openRandomAccess(src, { format: detected })) }
          : await openDiskImage(file.stream, { totalSize: size, format: detected });
      const tap = tapDisk(opened.disk, 4096);
      for await (const _ of tap.disk.extents) {
        // drain: the tap hashes as the extents pass
      }
      const r = tap.result();
      result = {
        diskSha256: r.sha256,
        capacity: opened.disk.capacity,
        partitionTable: detectPartitionTable(r.head),
        format: opened.format,
        disk: { offset: 0, size, format: detected },
      };
    }
    // Drain whatever trails the last entry so the whole file is hashed.
    for await (const _ of file.stream) {
      // nothing
    }
  } catch (err) {
    if (err instanceof StepFailure) throw await failStep(gw, jobId, err);
    if (isImageError(err)) throw await failStep(gw, jobId, rejected(`${err.code}: ${err.message}`));
    throw err;
  }
  if (result.partitionTable === 'none') {
    throw await failStep(
      gw,
      jobId,
      rejected(
        job.target.cloud === 'azure'
          ? 'the disk has no MBR or GPT partition table, so an Azure VM cannot boot from it. Export the VM with its partitioned system disk'
          : 'the disk has no MBR or GPT partition table; AWS VM Import rejects such disks ("No valid partitions"). Export the VM with its partitioned system disk',
      ),
    );
  }
  if (job.target.cloud === 'azure') {
    // Before anything is created in Azure: what Azure would refuse fails here, with its rule.
    const refusal = azureRefusal(result.capacity, result.hardware ?? job.hardware);
    if (refusal) throw await failStep(gw, jobId, rejected(refusal, 'Azure would reject the image'));
  }
  const measured = file.digest();
  if (job.image.sha256 && job.image.sha256 !== measured.sha256) {
    throw await failStep(
      gw,
      jobId,
      rejected(
        `the uploaded file's SHA-256 is ${measured.sha256}, but the client declared ${job.image.sha256}`,
        'The upload was corrupted',
      ),
    );
  }
  // AWS: direct (EBS snapshot) or VM Import, as requested or as the guest allows (aws-mode.ts).
  // A resumed workflow inspects again: a mode resolved before keeps the reason it was resolved with.
  const aws =
    job.target.cloud !== 'aws'
      ? undefined
      : job.target.mode && job.target.modeReason
        ? { mode: job.target.mode, reason: job.target.modeReason }
        : resolveAwsMode(job.target.mode, result.hardware);
  await updateJob(gw, jobId, (j) => {
    j.image.sha256 = measured.sha256;
    j.image.diskSha256 = result.diskSha256;
    j.image.diskCapacityBytes = result.capacity;
    j.image.partitionTable = result.partitionTable;
    if (result.hardware) j.hardware = result.hardware;
    j.image.disk = result.disk;
    if (delta) {
      j.image.delta = {
        indexKey: deltaIndexKey(jobId),
        baseSha256: delta.header.baseSha256,
        baseCapacity: delta.header.baseCapacity,
        extents: delta.index.extents.length,
        dataBytes: delta.dataBytes,
        zeroBytes: delta.zeroBytes,
      };
    }
    if (aws && j.target.cloud === 'aws') {
      j.target.mode = aws.mode;
      j.target.modeReason = aws.reason;
    }
    endStep(
      j,
      'succeeded',
      gw.now(),
      `${result.format}, ${result.capacity} bytes, ${result.partitionTable}` +
        (aws ? `; AWS ${aws.mode}: ${aws.reason}` : ''),
    );
  });
  return { diskSha256: result.diskSha256, format: result.format, ...(aws ? { mode: aws.mode } : {}) };
}

/** Records the failure on the job (for the user) and returns the error to throw (for the workflow). */
export async function failStep(gw: Gateway, jobId: string, err: StepFailure | CloudError): Promise<Error> {
  const now = gw.now();
  await updateJob(gw, jobId, (j) => {
    const step = j.activeStep?.name;
    j.error =
      err instanceof StepFailure
        ? err.problem
        : {
            type: errorType(err.name),
            title: titleFor(err.name),
            detail: err.message,
            ...(step ? { step } : {}),
          };
    endStep(j, 'failed', now, err.message);
  });
  return err;
}

const errorType = (name: string) =>
  ({ ImportFailed: 'import-failed', ExportFailed: 'export-failed', CloudTimedOut: 'cloud-timed-out' })[
    name
  ] ?? 'cloud-rejected';
const titleFor = (name: string) =>
  ({
    ImportFailed: 'The cloud rejected the image import',
    ExportFailed: 'The cloud could not export the VM',
    CloudTimedOut: 'The cloud took too long',
  })[name] ?? 'The cloud refused a request';

const RETRIED_BY_WORKFLOW = new Set(['CloudThrottled', 'CloudUnavailable']);

/**
 * Calls the cloud; a failure the workflow will not retry is recorded on the job first (so the user
 * sees the cloud's reason), then rethrown for the workflow's Catch.
 */
export async function askCloud<T>(gw: Gateway, jobId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof CloudError && !RETRIED_BY_WORKFLOW.has(err.name)) throw await failStep(gw, jobId, err);
    throw err;
  }
}

/**
 * Creates one cloud resource for the job, once: a retried or resumed step finds the id already
 * recorded and returns it; otherwise the step begins, the cloud creates the resource, and it is
 * recorded on the job before the step returns (so compensation knows about it).
 */
async function createOnce(
  gw: Gateway,
  jobId: string,
  opts: {
    key: 'importTaskId' | 'instanceId' | 'exportTaskId';
    step: string;
    prepare: (job: Job) => void;
    create: (cloud: CloudTarget, job: Job) => Promise<CreatedResource>;
  },
): Promise<string> {
  const current = await gw.store.get(jobId);
  assertNotCancelled(current);
  const existing = current.cloud[opts.key];
  if (existing) return existing;
  const job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j); // a DELETE may have landed since the read above
    opts.prepare(j);
    beginStep(j, opts.step, gw.now());
  });
  const created = await askCloud(gw, jobId, () => opts.create(gw.cloudFor(job.target), job));
  const recorded = await updateJob(gw, jobId, (j) => {
    recordResource(j, created, gw.now());
    j.cloud[opts.key] = created.id;
  });
  if (CANCELLED.has(recorded.state)) {
    // Cancelled while the cloud created it: the cancel's removal may have run before it was
    // recorded, so remove it here rather than leave it behind.
    await removeJobResources(gw, jobId, { types: [created.type] });
    assertNotCancelled(recorded);
  }
  return created.id;
}

export async function startImport(gw: Gateway, jobId: string): Promise<{ importTaskId: string }> {
  const importTaskId = await createOnce(gw, jobId, {
    key: 'importTaskId',
    step: 'import',
    prepare: (j) => {
      j.state = 'importing';
    },
    create: (cloud, job) => cloud.startImport(job),
  });
  return { importTaskId };
}

/**
 * Fails the step with CloudTimedOut when the job's active step (a Wait/Check loop of the state
 * machine) has been waiting on the cloud longer than `maxImportWaitMs`; `why` says for what.
 */
export async function failIfWaitedTooLong(
  gw: Gateway,
  job: Job,
  why: (limitMs: number) => string,
): Promise<void> {
  const started = Date.parse(job.activeStep?.startedAt ?? job.updatedAt);
  const limit = gw.config.maxImportWaitMs;
  if (gw.now().getTime() - started > limit) {
    throw await failStep(gw, job.jobId, new CloudError('CloudTimedOut', why(limit)));
  }
}

export async function checkImport(
  gw: Gateway,
  jobId: string,
): Promise<{ done: boolean; status: string; progress?: number }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const progress = await askCloud(gw, jobId, () => gw.cloudFor(job.target).checkImport(job));
  if (!progress.done) {
    await failIfWaitedTooLong(
      gw,
      job,
      (limit) => `the import did not finish within ${limit} ms (last status: ${progress.status})`,
    );
    return { done: false, status: progress.status, progress: progress.progress };
  }
  const now = gw.now();
  await updateJob(gw, jobId, (j) => {
    // Cancelled meanwhile: the cancel removed the completed import task with its AMI and snapshots.
    assertNotCancelled(j);
    if (progress.amiId) {
      recordResource(j, { type: 'ami', id: progress.amiId, location: targetLocation(j.target) }, now);
      j.cloud.amiId = progress.amiId;
    }
    for (const s of progress.snapshotIds ?? [])
      recordResource(j, { type: 'snapshot', id: s, location: targetLocation(j.target) }, now);
    j.cloud.snapshotIds = progress.snapshotIds ?? [];
    if (progress.bytes !== undefined) j.bytes.imported = progress.bytes;
    endStep(j, 'succeeded', now, `${progress.amiId} with ${(progress.snapshotIds ?? []).join(', ')}`);
  });
  return { done: true, status: progress.status, progress: 100 };
}

export async function launchInstance(gw: Gateway, jobId: string): Promise<{ instanceId: string }> {
  const instanceId = await createOnce(gw, jobId, {
    key: 'instanceId',
    step: 'launch',
    prepare: (j) => {
      j.state = 'launching';
    },
    create: (cloud, job) => cloud.launch(job),
  });
  return { instanceId };
}

const GONE = new Set(['shutting-down', 'terminated']);

export async function checkInstance(
  gw: Gateway,
  jobId: string,
  desired: 'running' | 'stopped',
): Promise<{ done: boolean; state: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const state = await askCloud(gw, jobId, () => gw.cloudFor(job.target).instanceState(job));
  if (GONE.has(state)) {
    throw await failStep(
      gw,
      jobId,
      new CloudError(
        'CloudRejected',
        `instance ${job.cloud.instanceId} is ${state}: it was terminated outside burstgate`,
        state,
      ),
    );
  }
  return { done: state === desired, state };
}

export async function markRunning(gw: Gateway, jobId: string): Promise<void> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  if (isAwsDirect(job)) {
    // Before `running`, so whoever sees the job running also sees its image cached.
    try {
      await rememberDirectImage(gw, jobId);
    } catch (err) {
      gw.logger.warn('could not keep the image in the image cache; the VM runs all the same', {
        jobId,
        error: err as Error,
      });
    }
  }
  await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    j.state = 'running';
    endStep(j, 'succeeded', gw.now(), `${j.cloud.instanceId ?? j.cloud.virtualMachineId} running`);
  });
}

/** Catch path of the offload: record why, remove everything created, end `failed`. */
export async function compensate(
  gw: Gateway,
  jobId: string,
  error?: { Error?: string; Cause?: string },
): Promise<void> {
  const now = gw.now();
  await updateJob(gw, jobId, (j) => {
    if (CANCELLED.has(j.state)) return false; // the cancel path owns the job now
    j.error ??= errorFromWorkflow(error, j.activeStep?.name);
    if (j.activeStep) endStep(j, 'failed', now, j.error.detail);
  });
  // AWS direct: a snapshot or AMI whose creation the job could not record is removed too.
  await recordUnrecordedDirectResources(gw, jobId);
  await removeJobResources(gw, jobId, { includeRetained: true });
  await updateJob(gw, jobId, (j) => {
    if (CANCELLED.has(j.state)) return false;
    j.state = 'failed';
  });
}

/** The workflow's `$.error` ({Error, Cause}) as a problem; Lambda puts its error JSON in Cause. */
export function errorFromWorkflow(
  error: { Error?: string; Cause?: string } | undefined,
  step?: string,
): JobError {
  const name = error?.Error ?? 'UnknownError';
  let detail = error?.Cause ?? name;
  try {
    const cause = JSON.parse(detail) as { errorMessage?: string };
    if (cause.errorMessage) detail = cause.errorMessage;
  } catch {
    // Cause was plain text
  }
  return {
    type: errorType(name),
    title: titleFor(name),
    detail: `${name}: ${detail}`,
    ...(step ? { step } : {}),
  };
}

// ---------------------------------------------------------------- return

export async function stopInstance(gw: Gateway, jobId: string): Promise<void> {
  const job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    j.state = 'returning';
    beginStep(j, 'stop', gw.now());
  });
  const cloud = gw.cloudFor(job.target);
  const state = await askCloud(gw, jobId, () => cloud.instanceState(job));
  if (state === 'stopped' || state === 'stopping') return;
  await askCloud(gw, jobId, () => cloud.stop(job));
}

export async function startExport(gw: Gateway, jobId: string): Promise<{ exportTaskId: string }> {
  const exportTaskId = await createOnce(gw, jobId, {
    key: 'exportTaskId',
    step: 'export',
    prepare: (j) => {
      if (j.activeStep?.name === 'stop') endStep(j, 'succeeded', gw.now(), `${j.cloud.instanceId} stopped`);
    },
    create: (cloud, job) => cloud.startExport(job, gw.staging.bucket, `returns/${jobId}/`),
  });
  return { exportTaskId };
}

export async function checkExport(gw: Gateway, jobId: string): Promise<{ done: boolean; status: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const progress = await askCloud(gw, jobId, () => gw.cloudFor(job.target).checkExport(job));
  if (!progress.done) return { done: false, status: progress.status };
  const key = progress.key;
  if (!key)
    throw await failStep(gw, jobId, new CloudError('ExportFailed', 'the export completed without an S3 key'));
  const now = gw.now();
  let cancelled = false;
  await updateJob(gw, jobId, (j) => {
    if (CANCELLED.has(j.state)) {
      cancelled = true;
      return false;
    }
    recordResource(j, { type: 's3-object', id: key, location: gw.staging.bucket, retained: true }, now);
    j.returned = {
      bucket: gw.staging.bucket,
      key,
      format: 'ova',
      sizeBytes: 0,
      sha256: '',
      diskSha256: '',
      matchesOriginal: false,
    };
    endStep(j, 'succeeded', now, `s3://${gw.staging.bucket}/${key}`);
  });
  if (cancelled) {
    // The cancel ran before the exported image was recorded, so nobody else removes it.
    await gw.staging.delete(key);
    assertNotCancelled(await gw.store.get(jobId));
  }
  return { done: true, status: progress.status };
}

/** Reads the exported OVA once: its SHA-256 (for the download) and its disk content's (for the comparison). */
export async function publishImage(
  gw: Gateway,
  jobId: string,
): Promise<{ sha256: string; diskSha256: string; matchesOriginal: boolean }> {
  let job = await gw.store.get(jobId);
  assertNotCancelled(job);
  job = await updateJob(gw, jobId, (j) => beginStep(j, 'publish', gw.now()));
  const key = job.returned?.key;
  if (!key) throw new CloudError('ExportFailed', `job ${jobId} has no exported image to publish`);
  const { body } = await gw.staging.read(key);
  const file = hashing(body);
  const ova = await inspectOva(file.stream);
  for await (const _ of file.stream) {
    // drain trailing bytes so the whole file is hashed
  }
  const measured = file.digest();
  const disk = ova.disks[0];
  if (!disk) throw new CloudError('ExportFailed', `the exported OVA ${key} holds no disk`);
  const matchesOriginal = disk.contentSha256 === job.image.diskSha256;
  await updateJob(gw, jobId, (j) => {
    j.returned = {
      bucket: gw.staging.bucket,
      key,
      format: 'ova',
      sizeBytes: measured.bytes,
      sha256: measured.sha256,
      diskSha256: disk.contentSha256,
      matchesOriginal,
    };
    j.bytes.exported = measured.bytes;
    endStep(
      j,
      'succeeded',
      gw.now(),
      matchesOriginal
        ? 'disk content identical to the offloaded disk'
        : 'disk content changed while in the cloud',
    );
  });
  return { sha256: measured.sha256, diskSha256: disk.contentSha256, matchesOriginal };
}

/** Removes the VM, its image and snapshots, and the uploaded image; keeps the returned image. */
export async function cleanupAfterReturn(gw: Gateway, jobId: string): Promise<{ removed: number }> {
  await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    beginStep(j, 'cleanup', gw.now());
  });
  const job = await removeJobResources(gw, jobId);
  const removed = job.resources.filter((r) => r.removedAt).length;
  await updateJob(gw, jobId, (j) => {
    j.state = 'returned';
    endStep(j, 'succeeded', gw.now(), `${removed} resource(s) removed`);
  });
  return { removed };
}

/** Catch path of the return: the VM is kept (stopped or running) so no bytes are lost; the user may retry. */
export async function returnFailed(
  gw: Gateway,
  jobId: string,
  error?: { Error?: string; Cause?: string },
): Promise<void> {
  const now = gw.now();
  await updateJob(gw, jobId, (j) => {
    if (CANCELLED.has(j.state)) return false;
    j.error ??= errorFromWorkflow(error, j.activeStep?.name);
    if (j.activeStep) endStep(j, 'failed', now, j.error.detail);
    j.state = 'return-failed';
  });
}

// ---------------------------------------------------------------- Azure's rules for an image

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
/** Azure's managed-disk upload sizes: 20 MiB to 32 TiB of content, plus the 512-byte VHD footer. */
export const AZURE_MIN_DISK_BYTES = 20 * MiB;
export const AZURE_MAX_UPLOAD_DISK_BYTES = 32 * TiB;
/** Azure VMs boot from OS disks of at most 4 TiB (Generation 1, MBR: 2 TiB addressable). */
export const AZURE_MAX_OS_DISK_BYTES = 4 * TiB;

/** Why Azure would refuse this disk as a VM's OS disk, or undefined when it would not. */
export function azureRefusal(capacity: number, hardware: VmHardware | undefined): string | undefined {
  const virtualSize = Math.ceil(capacity / MiB) * MiB;
  if (virtualSize < AZURE_MIN_DISK_BYTES) {
    return `the disk holds ${capacity} bytes (${virtualSize} once rounded up to a whole MiB as Azure requires); Azure uploads managed disks of at least ${AZURE_MIN_DISK_BYTES} bytes (20 MiB) — grow the disk to 20 MiB or more, or offload to AWS`;
  }
  if (virtualSize > AZURE_MAX_UPLOAD_DISK_BYTES) {
    return `the disk holds ${capacity} bytes; Azure uploads managed disks of at most ${AZURE_MAX_UPLOAD_DISK_BYTES} bytes (32 TiB)`;
  }
  if (virtualSize > AZURE_MAX_OS_DISK_BYTES) {
    return `the disk holds ${capacity} bytes; Azure VMs boot from OS disks of at most ${AZURE_MAX_OS_DISK_BYTES} bytes (4 TiB) — shrink the system disk, or offload to AWS`;
  }
  if (hardware && hardware.disks.length > 1) {
    return `the VM has ${hardware.disks.length} disks; this version offloads single-disk VMs only`;
  }
  return undefined;
}
