/**
 * The image cache policy of the AWS direct path (the entries: shared/store/image-cache.ts).
 *
 * - A direct offload that reaches running becomes its VM's entry (per VM name and region): its
 *   snapshot, AMI and block manifest pass to the cache, marked `retained` + `imageCache` on the job,
 *   so no cleanup, cancel or compensation of any job removes them. Until then they are the job's
 *   (a failed offload's compensation removes them).
 * - The next direct offload of that VM in that region: identical content reuses the snapshot and
 *   AMI (the AMI is registered again if it was deregistered); changed content uploads a child of
 *   the cached snapshot with only the blocks that differ from its manifest. Identical means the
 *   same capacity and either a delta with no extents, or a full upload whose disk SHA-256 inspect
 *   measured equal to one the gateway measured too (`diskSha256Measured`): a hash a delta's trailer
 *   claims is never trusted for reuse. The manifest is the gateway's own (the hashes of the blocks
 *   it put), so a child is always made of what the snapshot really holds.
 * - An entry that is replaced is retired: its AMI, snapshot and manifest are deleted as soon as no
 *   job that is not done (returned, failed, cancelled) launched from them (`cloud.baseSnapshotId`,
 *   `cloud.amiId`); until then they stay listed under the new entry's `retired` and every later
 *   cache write of that VM tries again.
 * - A compensation also sweeps snapshots and AMIs tagged with the job's id that the job could not
 *   record (a Lambda that died between the cloud's answer and the job write).
 */
import { markRemoved, recordResource, updateJob, type Gateway } from './gateway';
import { ACTIVE_STATES, isAwsDirect, ownerOf, type Job, type JobResource } from './job';
import { ImageCacheConflictError, JobMissingError } from '../store/errors';
import type { ImageCacheEntry, RetiredImage } from '../store/image-cache';
import { readManifest } from './aws-direct-manifest';

const WRITE_ATTEMPTS = 5;

/** Marks the job's records of these ids as owned by the image cache. */
function handToCache(job: Job, ids: ReadonlySet<string>): void {
  for (const r of job.resources) {
    if (ids.has(r.id) && !r.removedAt) {
      r.retained = true;
      r.imageCache = true;
    }
  }
}

/**
 * Makes the job's snapshot (and AMI, and manifest) its VM's cache entry; run when the instance
 * runs, before the job is marked running. Best effort: the job runs whether or not the cache took
 * its image.
 */
export async function rememberDirectImage(gw: Gateway, jobId: string): Promise<void> {
  const job = await gw.store.get(jobId);
  if (!isAwsDirect(job) || job.target.cloud !== 'aws') return;
  const region = job.target.region;
  const decided = job.cloud.imageCache;
  const snapshotId = job.cloud.baseSnapshotId;
  const amiId = job.cloud.amiId;
  if (!decided || !snapshotId) return;
  const now = () => gw.now().toISOString();

  if (decided.outcome === 'reused') {
    // The cached AMI was gone and this job registered one again from the cached snapshot.
    const ownAmi = job.resources.find((r) => r.type === 'ami' && r.id === amiId && !r.imageCache);
    if (!ownAmi || !amiId) return;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const entry = await gw.imageCache.get(ownerOf(job), region, job.vmName);
      if (!entry || entry.snapshotId !== snapshotId) return; // replaced meanwhile: the AMI stays the job's
      try {
        if (entry.amiId !== amiId) await gw.imageCache.replace({ ...entry, amiId, updatedAt: now() }, entry);
        await updateJob(gw, jobId, (j) => handToCache(j, new Set([amiId])));
        return;
      } catch (err) {
        if (!(err instanceof ImageCacheConflictError)) throw err;
      }
    }
    return;
  }

  const manifestKey = job.cloud.blockManifestKey;
  if (!manifestKey || !job.image.diskSha256 || !job.image.diskCapacityBytes) return;
  const blocks = Object.keys((await readManifest(gw, manifestKey)).blocks).length;
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    const previous = await gw.imageCache.get(ownerOf(job), region, job.vmName);
    if (previous?.snapshotId === snapshotId) break; // a retry after the write
    const retired: RetiredImage[] = previous
      ? [
          {
            snapshotId: previous.snapshotId,
            ...(previous.amiId ? { amiId: previous.amiId } : {}),
            manifestKey: previous.manifestKey,
            jobId: previous.jobId,
          },
          ...(previous.retired ?? []),
        ]
      : [];
    const entry: ImageCacheEntry = {
      ...(job.tenant ? { tenant: job.tenant } : {}),
      vmName: job.vmName,
      region,
      snapshotId,
      ...(amiId ? { amiId } : {}),
      manifestKey,
      diskSha256: job.image.diskSha256,
      diskSha256Measured: !job.image.delta,
      capacityBytes: job.image.diskCapacityBytes,
      blocks,
      jobId,
      ...(job.hardware ? { hardware: job.hardware } : {}),
      ...(job.image.partitionTable === 'gpt' || job.image.partitionTable === 'mbr'
        ? { partitionTable: job.image.partitionTable }
        : {}),
      updatedAt: now(),
      ...(retired.length ? { retired } : {}),
    };
    try {
      await gw.imageCache.replace(entry, previous);
      break;
    } catch (err) {
      if (!(err instanceof ImageCacheConflictError) || attempt === WRITE_ATTEMPTS - 1) throw err;
    }
  }
  await updateJob(gw, jobId, (j) =>
    handToCache(j, new Set([snapshotId, manifestKey, ...(amiId ? [amiId] : [])])),
  );
  await pruneRetired(gw, ownerOf(job), region, job.vmName);
}

/** Jobs that are not done (any state but returned, failed, cancelled). */
async function activeJobs(gw: Gateway): Promise<Job[]> {
  const lists = await Promise.all(ACTIVE_STATES.map((state) => gw.store.listInState(state, 10_000)));
  return lists.flat();
}

/**
 * Deletes the retired images of a VM's entry that no active job launched from; the ones still in
 * use stay listed. A conflicting cache write leaves the rest for the next prune.
 */
export async function pruneRetired(
  gw: Gateway,
  tenant: string,
  region: string,
  vmName: string,
): Promise<number> {
  const entry = await gw.imageCache.get(tenant, region, vmName);
  const retired = entry?.retired ?? [];
  if (!entry || retired.length === 0) return 0;
  const active = await activeJobs(gw);
  const inUse = (r: RetiredImage) =>
    active.some(
      (j) =>
        j.target.cloud === 'aws' &&
        (j.cloud.baseSnapshotId === r.snapshotId || (r.amiId !== undefined && j.cloud.amiId === r.amiId)),
    );
  const keep: RetiredImage[] = [];
  for (const r of retired) {
    if (inUse(r)) {
      keep.push(r);
      continue;
    }
    try {
      await removeRetired(gw, region, r);
    } catch (err) {
      gw.logger.warn('could not remove a retired cached image; the next cache write tries again', {
        snapshotId: r.snapshotId,
        error: err as Error,
      });
      keep.push(r);
    }
  }
  if (keep.length === retired.length) return 0;
  const { retired: _old, ...rest } = entry;
  try {
    await gw.imageCache.replace(
      { ...rest, ...(keep.length ? { retired: keep } : {}), updatedAt: gw.now().toISOString() },
      entry,
    );
  } catch (err) {
    if (!(err instanceof ImageCacheConflictError)) throw err;
  }
  return retired.length - keep.length;
}

async function removeRetired(gw: Gateway, region: string, r: RetiredImage): Promise<void> {
  const aws = gw.cloudFor({ cloud: 'aws', region, instanceType: 'n/a' });
  const createdAt = gw.now().toISOString();
  const gone: Array<Pick<JobResource, 'type' | 'id'>> = [];
  // The AMI before its snapshot: EC2 refuses to delete a snapshot an AMI still uses.
  if (r.amiId) {
    await aws.remove({ type: 'ami', id: r.amiId, location: region, createdAt });
    gone.push({ type: 'ami', id: r.amiId });
  }
  await aws.remove({ type: 'snapshot', id: r.snapshotId, location: region, createdAt });
  gone.push({ type: 'snapshot', id: r.snapshotId });
  await gw.staging.delete(r.manifestKey);
  gone.push({ type: 's3-object', id: r.manifestKey });
  // The job that uploaded them shows them removed, like everything else it created.
  try {
    await updateJob(gw, r.jobId, (j) => {
      for (const g of gone) markRemoved(j, g.type, g.id, gw.now());
    });
  } catch (err) {
    if (!(err instanceof JobMissingError)) throw err;
  }
}

/**
 * Records on the job the snapshots and AMIs tagged with its id that it has not recorded (created by
 * a call whose answer never reached the job), so the compensation that follows removes them too.
 * What the image cache owns is left alone.
 */
export async function recordUnrecordedDirectResources(gw: Gateway, jobId: string): Promise<void> {
  const job = await gw.store.get(jobId);
  if (!isAwsDirect(job) || job.target.cloud !== 'aws') return;
  const region = job.target.region;
  const tagged = await gw.awsSnapshotWriter.taggedWith(region, jobId);
  const entry = await gw.imageCache.get(ownerOf(job), region, job.vmName);
  const cacheOwned = new Set<string>(
    [entry, ...(entry?.retired ?? [])].flatMap((e) =>
      e ? [e.snapshotId, ...(e.amiId ? [e.amiId] : [])] : [],
    ),
  );
  const known = new Set(job.resources.map((r) => r.id));
  const missing = [
    ...tagged.images.map((id) => ({ type: 'ami' as const, id })),
    ...tagged.snapshots.map((id) => ({ type: 'snapshot' as const, id })),
  ].filter((r) => !known.has(r.id) && !cacheOwned.has(r.id));
  if (missing.length === 0) return;
  gw.logger.warn('found cloud resources of the job it had not recorded; recording them for removal', {
    jobId,
    resources: missing.map((m) => m.id),
  });
  await updateJob(gw, jobId, (j) => {
    for (const m of missing) recordResource(j, { ...m, location: region }, gw.now());
  });
}
