/**
 * Removing what a job created. Order matters: an instance goes before the image it booted from,
 * an image before its snapshots (AWS refuses to delete a snapshot an AMI still uses), cloud
 * resources before the staging objects they were made from. Each removal is recorded on the job
 * as it happens, so a retry after a crash resumes where it stopped instead of starting over.
 */
import type { Job, JobResource } from './job';
import { markRemoved, updateJob, type Gateway } from './gateway';
import { clearJobTimers } from './leases';

const ORDER: JobResource['type'][] = [
  'instance',
  // Azure: the VM holds its NIC and disk; snapshots are independent of the disk they copied
  'virtual-machine',
  'network-interface',
  'ami',
  'snapshot',
  'disk',
  'import-task',
  'export-task',
  'multipart-upload',
  's3-object',
];

const RETRIABLE = new Set(['CloudThrottled', 'CloudUnavailable']);

export interface RemovalOptions {
  /** Remove only these types (default: all). */
  types?: ReadonlyArray<JobResource['type']>;
  /**
   * Also remove the returned image kept on purpose (a retained `s3-object`). What the image cache
   * owns (a snapshot, AMI or manifest flagged `imageCache`) is never removed with a job.
   */
  includeRetained?: boolean;
}

/** Whether a removal with these options removes the resource (it is there, and the job's to remove). */
export function removable(r: JobResource, opts: RemovalOptions = {}): boolean {
  if (r.removedAt || (opts.types && !opts.types.includes(r.type))) return false;
  // What the image cache owns is the cache's to remove (shared/domain/aws-image-cache.ts), never a job's.
  if (r.imageCache) return false;
  return !r.retained || (opts.includeRetained === true && r.type === 's3-object');
}

export async function removeJobResources(
  gw: Gateway,
  jobId: string,
  opts: RemovalOptions = {},
): Promise<Job> {
  // The job's timers go with its resources: a job cleaned up has no lease left to carry out.
  if (!opts.types) await clearJobTimers(gw, jobId);
  let job = await gw.store.get(jobId);
  const pending = job.resources
    .filter((r) => removable(r, opts))
    .sort((a, b) => ORDER.indexOf(a.type) - ORDER.indexOf(b.type));
  const failures: string[] = [];
  let retriable = false;
  for (const r of pending) {
    try {
      await removeOne(gw, job, r, opts);
      job = await updateJob(gw, jobId, (j) => markRemoved(j, r.type, r.id, gw.now()));
      gw.logger.info('removed resource', { jobId, resourceType: r.type, resourceId: r.id });
    } catch (err) {
      failures.push(`${r.type} ${r.id}: ${(err as Error).message}`);
      retriable ||= RETRIABLE.has((err as Error).name);
      gw.logger.error('could not remove resource', {
        jobId,
        resourceType: r.type,
        resourceId: r.id,
        error: err as Error,
      });
    }
  }
  if (failures.length > 0) {
    const err = new Error(
      `could not remove ${failures.length} resource(s) of job ${jobId}: ${failures.join('; ')}`,
    );
    // Keep the cloud's classification so Step Functions retries throttling and 5xx.
    err.name = retriable ? 'CloudUnavailable' : 'CleanupIncomplete';
    throw err;
  }
  return job;
}

async function removeOne(gw: Gateway, job: Job, r: JobResource, opts: RemovalOptions): Promise<void> {
  switch (r.type) {
    case 'multipart-upload':
      return gw.staging.abortUpload(job.image.key, r.id);
    case 's3-object':
      return gw.staging.delete(r.id);
    case 'export-task':
      return removeExport(gw, job, r, opts);
    default:
      return job.target.cloud === 'azure' ? gw.azure().remove(r) : gw.cloudFor(job.target).remove(r);
  }
}

/**
 * An export under way is cancelled; a finished one's image is deleted unless the job keeps it (the
 * download): it may have finished after the last CheckExport, so it may not be recorded yet.
 */
async function removeExport(gw: Gateway, job: Job, r: JobResource, opts: RemovalOptions): Promise<void> {
  const cloud = gw.cloudFor(job.target);
  await cloud.remove(r);
  let key: string | undefined;
  try {
    const progress = await cloud.checkExport({ ...job, cloud: { ...job.cloud, exportTaskId: r.id } });
    if (progress.done) key = progress.key;
  } catch (err) {
    // Cancelled (it left nothing in the bucket), or so old the cloud no longer knows it.
    const e = err as { name?: string; code?: string };
    if (e.name !== 'ExportFailed' && e.code !== 'InvalidExportTaskID.NotFound') throw err;
  }
  if (!key) return;
  const kept = job.resources.some(
    (x) => x.type === 's3-object' && x.id === key && x.retained && !x.removedAt && !opts.includeRetained,
  );
  if (!kept) await gw.staging.delete(key);
}
