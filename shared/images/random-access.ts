/**
 * Disks opened for random access: the allocation map from the format's metadata (no data read
 * where the metadata says zero) and reads of any range. Later issues convert one range per Lambda
 * from S3 ranged reads through this interface.
 */
import { detectImageFormat, type ImageFormat } from './detect';
import { ImageError } from './errors';
import type { DiskExtent, DiskStream } from './extents';
import { splitZeroBlocks } from './extents';
import { openQcow2 } from './qcow2';
import { readSourceInto, type ByteSource } from './source';
import { openFixedVhd } from './vhd';
import { openVhdx } from './vhdx';
import { openDynamicVhd } from './vhd-dynamic';
import { openDescriptorVmdk } from './vmdk-flat';
import { openSparseVmdk } from './vmdk-sparse';

export interface MappedRange {
  offset: number;
  length: number;
  /** True when the format says these bytes are zero (unallocated, or a zero cluster/grain). */
  zero: boolean;
}

export interface RandomAccessDisk {
  readonly format: ImageFormat;
  /** Virtual size in bytes. */
  readonly capacity: number;
  /** Ranges covering [offset, offset+length) in order, contiguous; adjacent ranges of one kind may or may not be merged. */
  map(offset?: number, length?: number): AsyncIterable<MappedRange>;
  /** The virtual disk's bytes in [offset, offset+length) (zeros where unallocated). */
  read(offset: number, length: number): Promise<Buffer>;
  /** Optional: the same bytes as `read(offset, target.length)`, into the caller's (reused) buffer. */
  readInto?(offset: number, target: Buffer): Promise<void>;
  /** Optional: the bytes `map()` reports as data, counted from the format's tables without building ranges. */
  allocatedBytes?(): Promise<number>;
}

/** Bytes the disk's format maps as data: `disk.allocatedBytes` when it has it, else summed from `map`. */
export async function mappedDataBytes(disk: RandomAccessDisk): Promise<number> {
  if (disk.allocatedBytes) return disk.allocatedBytes();
  let bytes = 0;
  for await (const r of disk.map()) if (!r.zero) bytes += r.length;
  return bytes;
}

/** `disk.readInto` when the disk has it, else `read` and a copy. */
export async function readDiskInto(disk: RandomAccessDisk, offset: number, target: Buffer): Promise<void> {
  if (disk.readInto) return disk.readInto(offset, target);
  (await disk.read(offset, target.length)).copy(target);
}

/** Opens one format; registered in OPENERS below. */
export type RandomAccessOpener = (
  src: ByteSource,
  opts: OpenRandomAccessOptions,
) => Promise<RandomAccessDisk>;

export interface OpenRandomAccessOptions {
  /** Skip detection. */
  format?: ImageFormat;
  /**
   * Resolves a file another file refers to (a VMDK descriptor's flat extent, a backing file):
   * formats that need one and get none fail with a clear error naming the file.
   */
  resolve?: (name: string) => Promise<ByteSource>;
}

const HEAD = 64 * 1024;

/** The raw format: every byte is data; zeros are found by looking. */
export const openRaw: RandomAccessOpener = async (src) => ({
  format: 'raw',
  capacity: src.size,
  map: async function* (offset = 0, length = src.size - offset) {
    if (length > 0) yield { offset, length, zero: false };
  },
  read: (offset, length) => src.read(offset, length),
  readInto: (offset, target) => readSourceInto(src, offset, target),
});

/**
 * Format → opener. Each format module adds its opener here (one line), so `openRandomAccess`
 * stays the one entry point.
 */
export const OPENERS: Partial<Record<ImageFormat, RandomAccessOpener>> = {
  raw: openRaw,
  qcow2: openQcow2,
  'vmdk-monolithic-sparse': openSparseVmdk,
  'vmdk-stream-optimized': openSparseVmdk,
  'vmdk-descriptor': openDescriptorVmdk,
  'vhd-fixed': openFixedVhd,
  'vhd-dynamic': openDynamicVhd,
  vhdx: openVhdx,
};

export async function openRandomAccess(
  src: ByteSource,
  opts: OpenRandomAccessOptions = {},
): Promise<RandomAccessDisk> {
  let format = opts.format;
  if (!format) {
    const head = await src.read(0, Math.min(HEAD, src.size));
    const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : undefined;
    format = detectImageFormat(head, src.size, tail);
  }
  const opener = OPENERS[format];
  if (!opener) {
    throw new ImageError(
      'BG_IMAGE_UNSUPPORTED_FORMAT',
      `${src.name}: "${format}" images cannot be opened for random access (supported: ${Object.keys(OPENERS).join(', ')})`,
    );
  }
  return opener(src, { ...opts, format });
}

/**
 * A DiskStream over a random-access disk (or the range [offset, offset+length) of it, whose
 * extents then start at 0, as every DiskStream's do — add `offset` back for disk positions).
 * Mapped-zero ranges are emitted
 * without reading; data ranges are read in chunks of at most `chunkSize` and zero-detected in
 * 64 KiB blocks, so zero ranges never reach a writer as data. Bounded memory: one chunk.
 */
export function streamFrom(
  disk: RandomAccessDisk,
  opts: { offset?: number; length?: number; chunkSize?: number } = {},
): DiskStream {
  const start = opts.offset ?? 0;
  const length = opts.length ?? disk.capacity - start;
  const chunkSize = opts.chunkSize ?? 4 * 1024 * 1024;
  async function* extents(): AsyncGenerator<DiskExtent> {
    for await (const r of disk.map(start, length)) {
      if (r.zero) {
        yield { kind: 'zero', offset: r.offset - start, length: r.length };
        continue;
      }
      for (let off = r.offset; off < r.offset + r.length; off += chunkSize) {
        const n = Math.min(chunkSize, r.offset + r.length - off);
        yield* splitZeroBlocks(await disk.read(off, n), off - start);
      }
    }
  }
  return { capacity: length, extents: extents() };
}
