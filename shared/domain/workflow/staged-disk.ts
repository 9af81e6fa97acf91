/**
 * The staged image's virtual disk, opened for random access straight from S3 (ranged GETs through
 * the #3 readers): an OVA's disk entry in place, without extracting it. Inspect records where the
 * disk lies in the object (`job.image.disk`), so later steps open it without reading the OVA again.
 */
import type { ImageFormat } from '../../images/detect';
import { subSource } from '../../images/ova';
import { mappedDataBytes, type RandomAccessDisk } from '../../images/random-access-disk';
import { openRandomAccess } from '../../images/random-access';
import { checkRange, type ByteSource } from '../../images/source';
import type { Gateway } from '../gateway';
import type { Job } from '../job';

const MiB = 1024 * 1024;
/** One ranged GET fetches this much around a small read: readers ask for grains and tables of a few KiB. */
export const READ_AHEAD_BYTES = 4 * MiB;

/**
 * A ByteSource that serves small reads from the last window it fetched, and fetches a whole
 * window for a small read that misses: sequential grain reads of a VMDK then cost one GET per
 * 4 MiB instead of one per grain. Reads of a window or more go straight to the source.
 */
export function readAhead(src: ByteSource, windowBytes = READ_AHEAD_BYTES): ByteSource {
  let window: { offset: number; data: Buffer } | undefined;
  return {
    size: src.size,
    name: src.name,
    read: async (offset, length) => {
      checkRange(src, offset, length);
      if (window && offset >= window.offset && offset + length <= window.offset + window.data.length) {
        return window.data.subarray(offset - window.offset, offset - window.offset + length);
      }
      if (length >= windowBytes) return src.read(offset, length);
      const data = await src.read(offset, Math.min(windowBytes, src.size - offset));
      window = { offset, data };
      return data.subarray(0, length);
    },
    close: () => src.close(),
  };
}

export interface StagedDisk {
  disk: RandomAccessDisk;
  close(): Promise<void>;
}

/** Opens the job's staged virtual disk; the job must have been inspected. */
export async function openStagedDisk(gw: Gateway, job: Job): Promise<StagedDisk> {
  const where = job.image.disk;
  if (!where) {
    throw new Error(`job ${job.jobId} has no inspected disk location; the inspect step records it`);
  }
  const object = await gw.staging.byteSource(job.image.key, job.image.sizeBytes);
  const name = `s3://${job.image.bucket}/${job.image.key}`;
  const src =
    where.offset === 0 && where.size === object.size
      ? object
      : subSource(object, where.offset, where.size, `${name}:disk`);
  try {
    const disk = await openRandomAccess(readAhead(src), { format: where.format as ImageFormat });
    return { disk, close: () => object.close() };
  } catch (err) {
    await object.close();
    throw err;
  }
}

/**
 * Bytes of the staged disk its format maps as data, from the map alone (tables, never data): what
 * a full copy would have to read. The direct uploads report it next to what they wrote.
 */
export async function stagedAllocatedBytes(gw: Gateway, job: Job): Promise<number> {
  const staged = await openStagedDisk(gw, job);
  try {
    return await mappedDataBytes(staged.disk);
  } finally {
    await staged.close();
  }
}
