/**
 * Incremental uploads of the AWS direct path (`burstgate offload --incremental`): instead of the
 * VM's image, the client uploads a delta (the format of shared/images/delta-format.ts, written by block-delta.ts) of the
 * 512 KiB blocks that differ from the VM's cached snapshot. Only those cross the WAN; the gateway
 * puts them into a child of the cached snapshot.
 *
 * - Inspect reads the delta front to back (every extent's SHA-256, the trailer's counts), checks that
 *   it was made against the cached image (the header's base SHA-256 and capacity are the cache
 *   entry's) and that every extent covers whole blocks, and stores an index of its extents next to
 *   it in staging, so the PutBlocks Map items read their blocks by ranged GETs. The disk's SHA-256 is
 *   the trailer's (the client hashed the whole local disk); the VM's profile is the cache entry's.
 * - PrepareSnapshot insists on that same entry being the parent (a delta cannot become a full upload).
 * - PutBlocks puts, per range, the delta's changed blocks that differ from the parent manifest, zeros
 *   where the delta says zero and the parent has data, and keeps the parent's hashes for the rest.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { readDelta } from '../../images/delta-reader';
import type { DeltaHeader } from '../../images/delta-format';
import { isAllZero } from '../../images/extents';
import { detectPartitionTable } from '../../images/partition';
import { EBS_BLOCK_BYTES, type BlockManifest, type EbsBlock } from '../../clouds/aws/ebs-blocks';
import { type UploadRange } from '../../images/upload-plan';
import type { ImageCacheEntry } from '../../store/image-cache';
import type { Gateway } from '../gateway';
import { ownerOf, type Job, type VmHardware } from '../job';
import { rejected } from './step-kit';

/** Where a delta's extent index waits for the PutBlocks items (staging/: expires if orphaned). */
export const deltaIndexKey = (jobId: string): string => `staging/${jobId}/delta-index.json`;

/** The extents of a delta upload: [disk offset, length, file offset of the data or -1 for zeros]. */
export interface DeltaIndex {
  version: 1;
  virtualSize: number;
  extents: Array<[number, number, number]>;
}

export interface InspectedDelta {
  header: DeltaHeader & { baseSha256: string; baseCapacity: number };
  diskSha256: string;
  capacity: number;
  partitionTable: 'gpt' | 'mbr';
  hardware?: VmHardware;
  index: DeltaIndex;
  dataBytes: number;
  zeroBytes: number;
}

/** The cache entry a delta job's upload must be applied to, or the reason it cannot be. */
export function deltaBaseProblem(
  header: { baseSha256?: string; baseCapacity?: number },
  entry: ImageCacheEntry | undefined,
  job: Pick<Job, 'vmName'> & { region: string },
): string | undefined {
  const where = `VM "${job.vmName}" in ${job.region}`;
  if (!entry) {
    return `the gateway holds no cached image for ${where}, so a delta has nothing to be applied to; upload the whole image (burstgate offload without --incremental)`;
  }
  if (header.baseSha256 !== entry.diskSha256 || header.baseCapacity !== entry.capacityBytes) {
    return (
      `the delta was made against a disk of ${header.baseCapacity} bytes with content SHA-256 ${header.baseSha256}, ` +
      `but the cached image of ${where} is ${entry.capacityBytes} bytes with ${entry.diskSha256} (uploaded by ${entry.jobId}); ` +
      'it changed meanwhile: run the incremental offload again, or upload the whole image'
    );
  }
  return undefined;
}

const aligned = (offset: number, length: number, capacity: number): boolean =>
  offset % EBS_BLOCK_BYTES === 0 &&
  ((offset + length) % EBS_BLOCK_BYTES === 0 || offset + length === capacity);

/**
 * Reads and checks the uploaded delta (a stream of the staged object) for the job, against the
 * VM's cache entry, and stores its extent index. Throws a StepFailure (rejected) when it does not fit.
 */
export async function inspectDelta(
  gw: Gateway,
  job: Job,
  region: string,
  stream: AsyncIterable<Buffer>,
): Promise<InspectedDelta> {
  const reader = await readDelta(stream, { name: `s3://${job.image.bucket}/${job.image.key}` });
  const header = reader.header;
  if (header.baseSha256 === undefined || header.baseCapacity === undefined) {
    await reader.close();
    throw rejected(
      'the delta does not name the disk it was made against (base SHA-256 and capacity); an incremental upload must',
    );
  }
  const entry = await gw.imageCache.get(ownerOf(job), region, job.vmName);
  const problem = deltaBaseProblem(header, entry, { vmName: job.vmName, region });
  if (problem) {
    await reader.close();
    throw rejected(problem, 'The delta does not fit the cached image');
  }
  const extents: DeltaIndex['extents'] = [];
  let pos = 72; // DELTA_HEADER_BYTES: records follow the header back to back
  let open: { offset: number; length: number } | undefined;
  let head: Buffer | undefined;
  let dataBytes = 0;
  let zeroBytes = 0;
  const checkAligned = (offset: number, length: number) => {
    if (!aligned(offset, length, header.virtualSize)) {
      throw rejected(
        `the delta's extent at ${offset} (${length} bytes) does not cover whole ${EBS_BLOCK_BYTES}-byte blocks; ` +
          'a delta for an EBS snapshot must (burstgate offload --incremental writes such deltas)',
      );
    }
  };
  for await (const piece of reader.pieces) {
    if (piece.kind === 'zero') {
      checkAligned(piece.offset, piece.length);
      extents.push([piece.offset, piece.length, -1]);
      if (piece.offset === 0) head = Buffer.alloc(0);
      zeroBytes += piece.length;
      pos += 32;
      continue;
    }
    if (!open) open = { offset: piece.offset, length: 0 };
    if (piece.offset === 0) head = piece.data.subarray(0, 8192);
    open.length += piece.data.length;
    if (piece.extentEnd) {
      checkAligned(open.offset, open.length);
      extents.push([open.offset, open.length, pos + 32]);
      dataBytes += open.length;
      pos += 32 + open.length + 32;
      open = undefined;
    }
  }
  const trailer = reader.trailer();
  if (!trailer) throw rejected('the delta ended before its trailer');
  // The partition table: the delta's first block if it carries it, else the cached image's.
  let partitionTable: 'gpt' | 'mbr' | 'none' | undefined =
    head !== undefined ? detectPartitionTable(head) : entry!.partitionTable;
  if (head === undefined && partitionTable === undefined) partitionTable = 'mbr'; // checked when cached
  if (partitionTable === 'none') {
    throw rejected(
      'the delta leaves the disk without an MBR or GPT partition table, so the instance could not boot from it',
    );
  }
  const index: DeltaIndex = { version: 1, virtualSize: header.virtualSize, extents };
  await gw.s3.send(
    new PutObjectCommand({
      Bucket: gw.staging.bucket,
      Key: deltaIndexKey(job.jobId),
      Body: JSON.stringify(index),
      ContentType: 'application/json',
    }),
  );
  return {
    header: { ...header, baseSha256: header.baseSha256, baseCapacity: header.baseCapacity },
    diskSha256: trailer.resultSha256,
    capacity: header.virtualSize,
    partitionTable: partitionTable!,
    ...(entry!.hardware ? { hardware: entry!.hardware } : {}),
    index,
    dataBytes,
    zeroBytes,
  };
}

export async function readDeltaIndex(gw: Gateway, key: string): Promise<DeltaIndex> {
  const out = await gw.s3.send(new GetObjectCommand({ Bucket: gw.staging.bucket, Key: key }));
  const text = await out.Body?.transformToString('utf8');
  if (text === undefined) throw new Error(`s3://${gw.staging.bucket}/${key} has no body`);
  const index = JSON.parse(text) as DeltaIndex;
  if (index.version !== 1 || !Array.isArray(index.extents)) {
    throw new Error(`s3://${gw.staging.bucket}/${key} is not a delta index`);
  }
  return index;
}

export async function deleteDeltaIndex(gw: Gateway, key: string): Promise<void> {
  await gw.s3.send(new DeleteObjectCommand({ Bucket: gw.staging.bucket, Key: key }));
}

/** A change one range of a delta job makes to the child snapshot. */
export type DeltaBlockChange =
  /** A non-zero block whose content differs from the parent's: to put. */
  | { kind: 'put'; block: EbsBlock }
  /** A block the parent holds that is zero now: to put as zeros. */
  | { kind: 'zero'; index: number };

/** Largest ranged GET of delta data at once (whole blocks). */
const READ_BYTES = 4 * 1024 * 1024;

/**
 * The changes the delta makes to one (block-aligned) range of the parent snapshot, ascending: data
 * blocks (zero-padded at the disk's end) are read from the staged delta by ranged GETs and put when
 * they differ from the parent's; zero extents and all-zero data blocks become zeros where the parent
 * has data. `hashes` receives the range's non-zero blocks of the result — the delta's, and the
 * parent's where the delta is silent — once the generator is done; `skipped` counts the delta's
 * blocks the parent already holds with the same bytes.
 */
export async function* deltaRangeChanges(
  gw: Gateway,
  job: Job,
  index: DeltaIndex,
  parent: BlockManifest,
  range: UploadRange,
  out: { hashes: Array<{ index: number; sha256Base64: string }>; skipped: number },
): AsyncGenerator<DeltaBlockChange> {
  const capacity = index.virtualSize;
  const start = range.offset;
  const end = Math.min(range.offset + range.length, capacity);
  const firstBlock = start / EBS_BLOCK_BYTES;
  const endBlock =
    range.offset + range.length >= capacity ? Number.MAX_SAFE_INTEGER : Math.ceil(end / EBS_BLOCK_BYTES);
  const covered = new Set<number>();
  const src = await gw.staging.byteSource(job.image.key, job.image.sizeBytes);
  try {
    for (const [offset, length, at] of index.extents) {
      const from = Math.max(offset, start);
      const to = Math.min(offset + length, end);
      if (from >= to) continue;
      for (let b = from / EBS_BLOCK_BYTES; b < Math.ceil(to / EBS_BLOCK_BYTES); b++) {
        covered.add(b);
        if (at < 0 && parent.blocks[b] !== undefined) yield { kind: 'zero', index: b };
      }
      if (at < 0) continue;
      for (let readAt = from; readAt < to; readAt += READ_BYTES) {
        const bytes = await src.read(at + (readAt - offset), Math.min(READ_BYTES, to - readAt));
        for (let i = 0; i < bytes.length; i += EBS_BLOCK_BYTES) {
          const b = (readAt + i) / EBS_BLOCK_BYTES;
          const piece = bytes.subarray(i, i + EBS_BLOCK_BYTES);
          if (isAllZero(piece)) {
            if (parent.blocks[b] !== undefined) yield { kind: 'zero', index: b };
            continue;
          }
          // its own memory, padded at the disk's end: the put may outlive this read
          const data = Buffer.alloc(EBS_BLOCK_BYTES);
          piece.copy(data);
          const sha256Base64 = createHash('sha256').update(data).digest('base64');
          out.hashes.push({ index: b, sha256Base64 });
          if (parent.blocks[b] === sha256Base64) out.skipped++;
          else yield { kind: 'put', block: { index: b, data, sha256Base64 } };
        }
      }
    }
  } finally {
    await src.close();
  }
  // the parent's blocks the delta does not touch stay as they are (past the parent's end: zeros)
  for (const [i, sha256Base64] of Object.entries(parent.blocks)) {
    const b = Number(i);
    if (b >= firstBlock && b < endBlock && !covered.has(b)) out.hashes.push({ index: b, sha256Base64 });
  }
  out.hashes.sort((x, y) => x.index - y.index);
}
