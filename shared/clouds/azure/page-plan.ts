/**
 * The page writes of a parallel Azure upload: the fixed VHD Azure gets for a disk (virtual size a
 * whole number of MiB, then the footer), cut into ranges whose writes never hold a zero page —
 * a page blob starts zeroed — and read only where the format maps data (S3 ranged GETs underneath).
 */
import { ImageError, invalidArgument } from '../../images/errors';
import { isAllZero } from '../../images/extents';
import type { RandomAccessDisk } from '../../images/random-access-disk';
import { checkDiskRange } from '../../images/random-access-disk';
import { checkCount, type UploadRange } from '../../images/upload-plan';
import { buildFixedVhdFooter, type FixedVhdOptions } from '../../images/vhd';

const SECTOR = 512;
const KiB = 1024;
const MiB = 1024 * KiB;

/** Azure's largest Put Page (4 MiB); real Azure refuses more (azurite does not). */
export const AZURE_MAX_PAGE_BYTES = 4 * MiB;

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
    throw invalidArgument(
      `azurePageWrites: the layout is for a ${layout.capacity}-byte disk, not ${disk.capacity}`,
    );
  }
  if (
    !Number.isSafeInteger(maxPageBytes) ||
    maxPageBytes <= 0 ||
    maxPageBytes % SECTOR !== 0 ||
    maxPageBytes > AZURE_MAX_PAGE_BYTES
  ) {
    throw invalidArgument(
      `azurePageWrites: maxPageBytes must be a multiple of 512 up to 4 MiB, got ${maxPageBytes}`,
    );
  }
  if (!Number.isSafeInteger(readBytes) || readBytes <= 0 || readBytes % SECTOR !== 0) {
    throw invalidArgument(`azurePageWrites: readBytes must be a positive multiple of 512, got ${readBytes}`);
  }
  checkDiskRange('azurePageWrites', layout.fileSize, range.offset, range.length);
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
