/**
 * AWS VM Import/Export: the offload imports the staged image (ImportImage) and the return exports
 * the stopped instance (CreateInstanceExportTask) as an OVA, which is published for download.
 */
import { CloudError } from '../../clouds/errors';
import { inspectOva } from '../../images';
import { beginStep, endStep, recordResource, updateJob, type Gateway } from '../gateway';
import { targetLocation } from '../job';
import {
  CANCELLED,
  askCloud,
  assertNotCancelled,
  createOnce,
  failIfWaitedTooLong,
  failStep,
  hashing,
} from './step-kit';

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
