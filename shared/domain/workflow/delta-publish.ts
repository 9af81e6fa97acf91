/**
 * Publishing a return as a delta artifact (shared/images README, "Delta artifact"), whatever cloud
 * the changed ranges come from (Azure page ranges, EBS changed blocks): the extents are streamed
 * through `writeDelta` into an S3 multipart upload (storeArtifact; aborted on any failure, so a
 * failed read publishes nothing), then the job records the download.
 *
 * With a base (the staged image's disk) the delta names it and the resulting disk's SHA-256 comes
 * from the base overlaid with the extents; without one (a full copy: the extents cover every byte)
 * hashing what passes is the result's hash.
 */
import { createHash } from 'node:crypto';
import { writeDelta, type DeltaExtentInput } from '../../images/delta-writer';
import { zeros } from '../../images/extents';
import type { RandomAccessDisk } from '../../images/random-access-disk';
import { storeArtifact } from '../artifacts';
import { endStep, recordResource, updateJob, type Gateway } from '../gateway';
import type { Job } from '../job';
import { CANCELLED, askCloud, assertNotCancelled } from './step-kit';

const MiB = 1024 * 1024;

export interface PublishedDelta {
  key: string;
  sizeBytes: number;
  sha256: string;
  diskSha256: string;
  matchesOriginal: boolean;
  changedBytes: number;
  readBytes: number;
  full: boolean;
}

export interface DeltaPublication {
  /** Size of the resulting disk (the offloaded disk's, unless the guest wrote past it). */
  virtualSize: number;
  /** The offloaded disk the delta applies to; absent: a full copy that names no base. */
  base?: RandomAccessDisk;
  extents: AsyncIterable<DeltaExtentInput>;
  /** Asked once every extent has been written. */
  changedBytes(): number;
  readBytes(): number;
  /** Where the bytes were read from, for the step's detail (`Azure`, `EBS`). */
  source: string;
}

/** A full copy's extents, hashed as they pass (zeros included): the result's SHA-256. */
function hashedFull(extents: AsyncIterable<DeltaExtentInput>, hash: ReturnType<typeof createHash>) {
  return (async function* (): AsyncGenerator<DeltaExtentInput> {
    for await (const e of extents) {
      if (e.kind === 'zero') {
        for (let left = e.length; left > 0; left -= MiB) hash.update(zeros(Math.min(left, MiB)));
        yield e;
        continue;
      }
      if (!('length' in e)) {
        hash.update(e.data);
        yield e;
        continue;
      }
      const data = e.data;
      yield {
        kind: 'data',
        offset: e.offset,
        length: e.length,
        data: (async function* () {
          for await (const chunk of data) {
            hash.update(chunk);
            yield chunk;
          }
        })(),
      };
    }
  })();
}

/** Streams the delta into `returns/<jobId>/`, records it as the job's download and ends the publish step. */
export async function publishDeltaArtifact(
  gw: Gateway,
  job: Job,
  pub: DeltaPublication,
): Promise<PublishedDelta> {
  const jobId = job.jobId;
  const full = pub.base === undefined;
  const fullHash = createHash('sha256');
  const chunks = pub.base
    ? writeDelta(
        {
          virtualSize: pub.virtualSize,
          ...(job.image.diskSha256 ? { baseSha256: job.image.diskSha256 } : {}),
          base: pub.base,
        },
        pub.extents,
      )
    : writeDelta(
        { virtualSize: pub.virtualSize, resultSha256: () => fullHash.digest('hex') },
        hashedFull(pub.extents, fullHash),
      );
  // The trailer is the last chunk: it carries the result's SHA-256 (bytes 32..64).
  let last: Buffer | undefined;
  const tracked = (async function* () {
    for await (const c of chunks) {
      last = c;
      yield c;
    }
  })();
  const safeName = job.vmName.replace(/[^A-Za-z0-9._-]/g, '_');
  const key = `returns/${jobId}/${safeName}-${job.execution?.returnAttempts ?? 1}.bgdelta`;
  const stored = await askCloud(gw, jobId, () => storeArtifact(gw, key, tracked));
  const diskSha256 = last!.subarray(32, 64).toString('hex');
  const matchesOriginal = diskSha256 === job.image.diskSha256;
  const changedBytes = pub.changedBytes();
  const readBytes = pub.readBytes();
  let cancelled = false;
  await updateJob(gw, jobId, (j) => {
    if (CANCELLED.has(j.state)) {
      cancelled = true;
      return false;
    }
    recordResource(j, { type: 's3-object', id: key, location: gw.staging.bucket, retained: true }, gw.now());
    j.returned = {
      bucket: gw.staging.bucket,
      key,
      format: 'delta',
      sizeBytes: stored.sizeBytes,
      sha256: stored.sha256,
      diskSha256,
      ...(!full && j.image.diskSha256 ? { baseDiskSha256: j.image.diskSha256 } : {}),
      matchesOriginal,
    };
    j.bytes.exported = readBytes;
    j.bytes.changed = changedBytes;
    endStep(
      j,
      'succeeded',
      gw.now(),
      `${full ? 'full copy (no base snapshot)' : 'delta'}: ${changedBytes} bytes changed, ${readBytes} bytes read from ${pub.source}, ${stored.sizeBytes} bytes published; ` +
        (matchesOriginal
          ? 'disk content identical to the offloaded disk'
          : 'disk content changed while in the cloud'),
    );
  });
  if (cancelled) {
    // The cancel ran before the delta was recorded, so nobody else removes it.
    await gw.staging.delete(key);
    assertNotCancelled(await gw.store.get(jobId));
  }
  return {
    key,
    sizeBytes: stored.sizeBytes,
    sha256: stored.sha256,
    diskSha256,
    matchesOriginal,
    changedBytes,
    readBytes,
    full,
  };
}
