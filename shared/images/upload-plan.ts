/**
 * Range planners for parallel cloud uploads from a `RandomAccessDisk` (#4 Azure page writes, #5 EBS
 * direct blocks): the work is cut into ranges (one Map-state item, one Lambda each), and each range
 * yields only the writes the cloud needs — never a zero page or block, since page blobs and EBS
 * snapshots start zeroed — reading only what the format maps as data (S3 ranged GETs underneath).
 */
import { createHash } from 'node:crypto';
import { ImageError } from './errors';
import { isAllZero } from './extents';
import type { RandomAccessDisk } from './random-access-disk';
import { buildFixedVhdFooter, type FixedVhdOptions } from './vhd';

const SECTOR = 512;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Azure's largest Put Page (4 MiB); real Azure refuses more (azurite does not). */
export const AZURE_MAX_PAGE_BYTES = 4 * MiB;
/** The EBS direct APIs' fixed block size. */
export const EBS_BLOCK_BYTES = 512 * KiB;
/**
 * Disk bytes one EBS upload range (one PutBlocks Lambda) covers unless configured: 1 GiB is at most
 * 2048 PutSnapshotBlock calls, minutes at EBS's per-snapshot put rate, far inside Lambda's 15.
 */
export const EBS_DEFAULT_CHUNK_BYTES = 1024 * MiB;

function invalid(message: string): ImageError {
  return new ImageError('BG_IMAGE_INVALID_ARGUMENT', message);
}

function checkCount(value: number, what: string, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalid(`${what} must be an integer ≥ ${min}, got ${value}`);
  }
}

/** The fixed VHD Azure gets for a disk: the virtual size a whole number of MiB, then the footer. */
export interface AzureVhdLayout {
  /** The source disk's capacity. */
  capacity: number;
  /** `capacity` rounded up to a whole MiB (the padding reads as zeros and is never written). */
  virtualSize: number;
  /** virtualSize + 512: the page blob's size. */
  fileSize: number;
  /** The 512-byte footer at `virtualSize`, as `writeFixedVhd(…, { roundToMiB: true })` writes it. */
  footer: Buffer;
}

/**
 * The Azure layout of a disk. Pass `uniqueId` and `timestamp` to get the same footer in every Lambda
 * (and on retries); by default they are random and now, like writeFixedVhd's.
 */
export function azureVhdLayout(
  capacity: number,
  footer: Pick<FixedVhdOptions, 'uniqueId' | 'timestamp'> = {},
): AzureVhdLayout {
  checkCount(capacity, 'azureVhdLayout capacity', 1);
  const virtualSize = Math.ceil(capacity / MiB) * MiB;
  return {
    capacity,
    virtualSize,
    fileSize: virtualSize + SECTOR,
    footer: buildFixedVhdFooter(virtualSize, { ...footer, roundToMiB: true }),
  };
}

/** One Map-state item: bytes [offset, offset + length) of the file or disk. Small JSON. */
export interface UploadRange {
  index: number;
  offset: number;
  length: number;
}

/**
 * Cuts [0, totalBytes) into ranges of `chunkBytes`, in order. `chunkBytes` must be a positive
 * multiple of `alignment` (Azure: 4 MiB, so pages never straddle ranges; EBS: 512 KiB blocks) —
 * anything else is refused rather than rounded, so the chunk size a deployment configures is the
 * one that runs. A remainder shorter than `alignment` (a VHD footer, a last partial block) joins the
 * range before it instead of becoming a range (a Lambda) of its own.
 */
export function planRanges(totalBytes: number, chunkBytes: number, alignment: number): UploadRange[] {
  checkCount(totalBytes, 'planRanges totalBytes');
  checkCount(alignment, 'planRanges alignment', 1);
  checkCount(chunkBytes, 'planRanges chunkBytes', 1);
  if (chunkBytes % alignment !== 0) {
    throw invalid(
      `planRanges: the chunk size ${chunkBytes} bytes is not a multiple of ${alignment} bytes; use ${Math.ceil(chunkBytes / alignment) * alignment} (or ${Math.max(1, Math.floor(chunkBytes / alignment)) * alignment})`,
    );
  }
  const ranges: UploadRange[] = [];
  for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
    const length = Math.min(chunkBytes, totalBytes - offset);
    const last = ranges[ranges.length - 1];
    if (length < alignment && last) last.length += length;
    else ranges.push({ index: ranges.length, offset, length });
  }
  return ranges;
}

function checkRange(range: UploadRange, total: number, what: string): void {
  checkCount(range.offset, `${what} range offset`);
  checkCount(range.length, `${what} range length`);
  if (range.offset + range.length > total) {
    throw invalid(`${what}: range ${range.offset}+${range.length} runs past the end (${total} bytes)`);
  }
}

/** One Put Page: 512-aligned offset, a multiple of 512 bytes, at most 4 MiB, never all zero. */
export interface PageWrite {
  offset: number;
  data: Buffer;
}

export interface AzurePageWriteOptions {
  /** The layout every range shares (default `azureVhdLayout(disk.capacity)`, random footer id). */
  layout?: AzureVhdLayout;
  /** Largest page write, a multiple of 512 up to 4 MiB (default 4 MiB). */
  maxPageBytes?: number;
  /** Largest single read from the disk (default 4 MiB): the memory bound, with one pending page. */
  readBytes?: number;
}

/** Runs [start, end) of sectors of `buf` that hold a non-zero byte. */
function* nonZeroSectorRuns(buf: Buffer): Generator<[number, number]> {
  let runStart = -1;
  const block = 64 * KiB;
  for (let b = 0; b < buf.length; b += block) {
    const blockEnd = Math.min(buf.length, b + block);
    // Most 64 KiB blocks are all data or all zero: one comparison decides; mixed ones go by sector.
    if (isAllZero(buf.subarray(b, blockEnd))) {
      if (runStart >= 0) yield [runStart, b];
      runStart = -1;
      continue;
    }
    for (let s = b; s < blockEnd; s += SECTOR) {
      const zero = isAllZero(buf.subarray(s, Math.min(blockEnd, s + SECTOR)));
      if (zero && runStart >= 0) {
        yield [runStart, s];
        runStart = -1;
      } else if (!zero && runStart < 0) {
        runStart = s;
      }
    }
  }
  if (runStart >= 0) yield [runStart, buf.length];
}

/**
 * The page writes of one range of the fixed VHD file Azure gets (`layout.fileSize` bytes): the
 * disk's data where the format maps data (mapped-zero ranges are never read), zero-detected per
 * 512-byte sector, in writes of at most `maxPageBytes`; the footer last, by the range holding it.
 * Applying every range's writes to a zeroed page blob gives exactly the fixed VHD
 * `WRITERS['vhd-fixed'](disk, path, { azure: true })` writes (with the same footer).
 */
export async function* azurePageWrites(
  disk: RandomAccessDisk,
  range: UploadRange,
  opts: AzurePageWriteOptions = {},
): AsyncGenerator<PageWrite> {
  const layout = opts.layout ?? azureVhdLayout(disk.capacity);
  const maxPageBytes = opts.maxPageBytes ?? AZURE_MAX_PAGE_BYTES;
  const readBytes = opts.readBytes ?? 4 * MiB;
  if (layout.capacity !== disk.capacity) {
    throw invalid(`azurePageWrites: the layout is for a ${layout.capacity}-byte disk, not ${disk.capacity}`);
  }
  if (
    !Number.isSafeInteger(maxPageBytes) ||
    maxPageBytes <= 0 ||
    maxPageBytes % SECTOR !== 0 ||
    maxPageBytes > AZURE_MAX_PAGE_BYTES
  ) {
    throw invalid(`azurePageWrites: maxPageBytes must be a multiple of 512 up to 4 MiB, got ${maxPageBytes}`);
  }
  if (!Number.isSafeInteger(readBytes) || readBytes <= 0 || readBytes % SECTOR !== 0) {
    throw invalid(`azurePageWrites: readBytes must be a positive multiple of 512, got ${readBytes}`);
  }
  checkRange(range, layout.fileSize, 'azurePageWrites');
  if (range.offset % SECTOR !== 0 || range.length % SECTOR !== 0) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `azurePageWrites: range ${range.offset}+${range.length} is not 512-byte aligned; plan ranges with planRanges(layout.fileSize, chunk, 4 MiB)`,
    );
  }
  const end = range.offset + range.length;
  const dataEnd = Math.min(end, disk.capacity);

  let pendingAt = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (): PageWrite | undefined => {
    if (pendingBytes === 0) return undefined;
    const write = {
      offset: pendingAt,
      data: pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes),
    };
    pending = [];
    pendingBytes = 0;
    return write;
  };

  let readPos = range.offset;
  if (range.offset < dataEnd) {
    for await (const r of disk.map(range.offset, dataEnd - range.offset)) {
      if (r.zero) continue;
      // Pages are whole sectors: widen the data range to 512 bytes; past the capacity it is padding.
      const from = Math.max(readPos, Math.floor(r.offset / SECTOR) * SECTOR);
      const to = Math.min(end, Math.ceil((r.offset + r.length) / SECTOR) * SECTOR);
      for (let off = from; off < to; off += readBytes) {
        const n = Math.min(readBytes, to - off);
        const inDisk = Math.min(n, disk.capacity - off);
        let buf = await disk.read(off, inDisk);
        if (inDisk < n) buf = Buffer.concat([buf, Buffer.alloc(n - inDisk)]);
        for (const [s, e] of nonZeroSectorRuns(buf)) {
          for (let p = s; p < e;) {
            if (pendingBytes > 0 && (pendingAt + pendingBytes !== off + p || pendingBytes === maxPageBytes)) {
              yield flush()!;
            }
            if (pendingBytes === 0) pendingAt = off + p;
            const take = Math.min(e - p, maxPageBytes - pendingBytes);
            pending.push(buf.subarray(p, p + take));
            pendingBytes += take;
            p += take;
          }
        }
      }
      readPos = Math.max(readPos, to);
    }
  }
  const last = flush();
  if (last) yield last;
  if (range.offset <= layout.virtualSize && layout.virtualSize < end) {
    yield { offset: layout.virtualSize, data: layout.footer };
  }
}

/** One EBS direct block: a full `blockBytes` (the last one zero-padded) and its base64 SHA-256. */
export interface EbsBlock {
  index: number;
  data: Buffer;
  /** What PutSnapshotBlock's Checksum (ChecksumAlgorithm SHA256) wants. */
  sha256Base64: string;
}

/** The EBS volume size for a disk: whole GiB, rounded up (at least 1). */
export function ebsVolumeSizeGiB(capacity: number): number {
  checkCount(capacity, 'ebsVolumeSizeGiB capacity');
  return Math.max(1, Math.ceil(capacity / GiB));
}

/** Blocks needed to hold `capacity` bytes (the last one partial). */
export function ebsBlockCount(capacity: number, blockBytes = EBS_BLOCK_BYTES): number {
  checkCount(capacity, 'ebsBlockCount capacity');
  return Math.ceil(capacity / blockBytes);
}

export interface EbsBlockOptions {
  /** Block size (default 512 KiB, the only size EBS has; smaller values are for tests). */
  blockBytes?: number;
  /** Largest single read (default 4 MiB): contiguous data blocks are read together. */
  readBytes?: number;
}

function sha256Base64(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

/**
 * The non-zero blocks of one range of the disk, ascending. A block the format maps as zero is never
 * read; a read block that holds only zeros is skipped too (snapshots start zeroed). The range must
 * start on a block boundary and end on one or at the capacity (plan with
 * `planRanges(disk.capacity, chunk, blockBytes)`).
 */
export async function* ebsBlocks(
  disk: RandomAccessDisk,
  range: UploadRange,
  opts: EbsBlockOptions = {},
): AsyncGenerator<EbsBlock> {
  const blockBytes = opts.blockBytes ?? EBS_BLOCK_BYTES;
  const readBytes = opts.readBytes ?? 4 * MiB;
  checkCount(blockBytes, 'ebsBlocks blockBytes', 1);
  checkCount(readBytes, 'ebsBlocks readBytes', 1);
  checkRange(range, disk.capacity, 'ebsBlocks');
  const end = range.offset + range.length;
  if (range.offset % blockBytes !== 0 || (end % blockBytes !== 0 && end !== disk.capacity)) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `ebsBlocks: range ${range.offset}+${range.length} does not start and end on ${blockBytes}-byte blocks (or the disk's end); plan ranges with planRanges(capacity, chunk, ${blockBytes})`,
    );
  }
  const perRead = Math.max(1, Math.floor(readBytes / blockBytes));
  let groupFirst = -1;
  let groupCount = 0;

  async function* readGroup(): AsyncGenerator<EbsBlock> {
    if (groupCount === 0) return;
    const start = groupFirst * blockBytes;
    const buf = await disk.read(start, Math.min(groupCount * blockBytes, disk.capacity - start));
    for (let i = 0; i < groupCount; i++) {
      let data = buf.subarray(i * blockBytes, (i + 1) * blockBytes);
      if (isAllZero(data)) continue;
      if (data.length < blockBytes) {
        const padded = Buffer.alloc(blockBytes);
        data.copy(padded);
        data = padded;
      }
      yield { index: groupFirst + i, data, sha256Base64: sha256Base64(data) };
    }
    groupCount = 0;
  }

  let nextBlock = Math.floor(range.offset / blockBytes);
  if (range.length === 0) return;
  for await (const r of disk.map(range.offset, range.length)) {
    if (r.zero) continue;
    const first = Math.max(nextBlock, Math.floor(r.offset / blockBytes));
    const last = Math.floor((r.offset + r.length - 1) / blockBytes);
    for (let b = first; b <= last; b++) {
      if (groupCount > 0 && (groupFirst + groupCount !== b || groupCount === perRead)) yield* readGroup();
      if (groupCount === 0) groupFirst = b;
      groupCount++;
    }
    nextBlock = Math.max(nextBlock, last + 1);
  }
  yield* readGroup();
}

/** Block index → base64 SHA-256 of the non-zero blocks of a disk (absent: an all-zero block). JSON as is. */
export interface BlockManifest {
  version: 1;
  blockBytes: number;
  capacity: number;
  /** Decimal block index → base64 SHA-256 of the full (padded) block. */
  blocks: Record<string, string>;
}

const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** A manifest of the blocks one or more ranges uploaded. */
export function blockManifest(
  capacity: number,
  blocks: Iterable<Pick<EbsBlock, 'index' | 'sha256Base64'>>,
  blockBytes = EBS_BLOCK_BYTES,
): BlockManifest {
  checkCount(capacity, 'blockManifest capacity');
  checkCount(blockBytes, 'blockManifest blockBytes', 1);
  const count = ebsBlockCount(capacity, blockBytes);
  const out: Record<string, string> = {};
  for (const b of blocks) {
    if (!Number.isSafeInteger(b.index) || b.index < 0 || b.index >= count) {
      throw invalid(`blockManifest: block ${b.index} is outside a ${capacity}-byte disk of ${count} blocks`);
    }
    if (!BASE64_SHA256.test(b.sha256Base64)) {
      throw invalid(`blockManifest: block ${b.index} has checksum "${b.sha256Base64}", not a base64 SHA-256`);
    }
    if (out[b.index] !== undefined && out[b.index] !== b.sha256Base64) {
      throw invalid(`blockManifest: block ${b.index} is listed twice with different checksums`);
    }
    out[b.index] = b.sha256Base64;
  }
  return { version: 1, blockBytes, capacity, blocks: out };
}

/** Checks a manifest read back from JSON (S3, a Map state's results). */
export function parseBlockManifest(value: unknown): BlockManifest {
  const v = value as Partial<BlockManifest> | null;
  if (
    v === null ||
    typeof v !== 'object' ||
    v.version !== 1 ||
    typeof v.blocks !== 'object' ||
    v.blocks === null
  ) {
    throw invalid(
      'parseBlockManifest: not a version 1 block manifest ({ version: 1, blockBytes, capacity, blocks })',
    );
  }
  return blockManifest(
    v.capacity as number,
    Object.entries(v.blocks).map(([index, sha]) => ({
      index: /^(0|[1-9][0-9]*)$/.test(index) ? Number(index) : Number.NaN,
      sha256Base64: String(sha),
    })),
    v.blockBytes as number,
  );
}

/** One manifest from the ranges' manifests (the Map state's results); ranges must not overlap. */
export function mergeBlockManifests(parts: BlockManifest[]): BlockManifest {
  const first = parts[0];
  if (!first) throw invalid('mergeBlockManifests: no manifests');
  const blocks: Record<string, string> = {};
  for (const p of parts) {
    if (p.blockBytes !== first.blockBytes || p.capacity !== first.capacity) {
      throw invalid(
        `mergeBlockManifests: manifests of ${first.capacity} bytes in ${first.blockBytes}-byte blocks and ${p.capacity} bytes in ${p.blockBytes}-byte blocks cannot be merged`,
      );
    }
    for (const [i, sha] of Object.entries(p.blocks)) {
      if (blocks[i] !== undefined) throw invalid(`mergeBlockManifests: block ${i} is in two manifests`);
      blocks[i] = sha;
    }
  }
  return { version: 1, blockBytes: first.blockBytes, capacity: first.capacity, blocks };
}

/**
 * Indices (ascending) of the blocks whose content differs between two manifests of one disk: a
 * checksum that differs, or a block present in only one (the other holds zeros there), including
 * blocks past the smaller capacity of a grown or shrunk disk.
 */
export function changedBlocks(a: BlockManifest, b: BlockManifest): number[] {
  if (a.blockBytes !== b.blockBytes) {
    throw invalid(`changedBlocks: ${a.blockBytes}-byte and ${b.blockBytes}-byte blocks cannot be compared`);
  }
  const changed = new Set<number>();
  for (const [i, sha] of Object.entries(a.blocks)) if (b.blocks[i] !== sha) changed.add(Number(i));
  for (const [i, sha] of Object.entries(b.blocks)) if (a.blocks[i] !== sha) changed.add(Number(i));
  return [...changed].sort((x, y) => x - y);
}

/** A run of consecutive blocks as a byte range of the disk (the last block cut at the capacity). */
export interface BlockRun {
  firstBlock: number;
  blockCount: number;
  offset: number;
  length: number;
}

/**
 * Ascending block indices (ListChangedBlocks, `changedBlocks`) as runs of consecutive blocks, each
 * at most `maxRunBytes` (default unlimited) — the extents of a delta, whose lengths are declared
 * before their data.
 */
export function blockRuns(
  indices: Iterable<number>,
  opts: { capacity: number; blockBytes?: number; maxRunBytes?: number },
): BlockRun[] {
  const blockBytes = opts.blockBytes ?? EBS_BLOCK_BYTES;
  const count = ebsBlockCount(opts.capacity, blockBytes);
  const maxBlocks = Math.max(1, Math.floor((opts.maxRunBytes ?? Number.MAX_SAFE_INTEGER) / blockBytes));
  const runs: BlockRun[] = [];
  let prev = -1;
  for (const i of indices) {
    if (!Number.isSafeInteger(i) || i <= prev || i >= count) {
      throw invalid(`blockRuns: block ${i} is not after ${prev} and inside the disk's ${count} blocks`);
    }
    const last = runs[runs.length - 1];
    if (last && last.firstBlock + last.blockCount === i && last.blockCount < maxBlocks) last.blockCount++;
    else runs.push({ firstBlock: i, blockCount: 1, offset: i * blockBytes, length: 0 });
    prev = i;
  }
  for (const r of runs) {
    r.length = Math.min(r.blockCount * blockBytes, opts.capacity - r.offset);
  }
  return runs;
}
