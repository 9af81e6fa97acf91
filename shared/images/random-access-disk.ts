/**
 * What a disk opened for random access is: the allocation map from the format's metadata (no data
 * read where the metadata says zero) and reads of any range. The format readers (qcow2, VHD, VHDX,
 * VMDK, raw) implement these interfaces and `random-access.ts` picks one of them for a file, so
 * this module imports no format module: every reader and the dispatcher can depend on it without a
 * cycle. Later issues convert one range per Lambda from S3 ranged reads through this interface.
 */
import type { ImageFormat } from './detect';
import { ImageError } from './errors';
import type { ByteSource } from './source';

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

export interface OpenRandomAccessOptions {
  /** Skip detection. */
  format?: ImageFormat;
  /**
   * Resolves a file another file refers to (a VMDK descriptor's flat extent, a backing file):
   * formats that need one and get none fail with a clear error naming the file.
   */
  resolve?: (name: string) => Promise<ByteSource>;
}

/** Opens one format; each format module exports one, and `OPENERS` in random-access.ts lists them. */
export type RandomAccessOpener = (
  src: ByteSource,
  opts: OpenRandomAccessOptions,
) => Promise<RandomAccessDisk>;

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

/**
 * Throws BG_IMAGE_INVALID_ARGUMENT unless [offset, offset+length) lies within the disk: the check
 * every reader's `map`, `read` and `readInto` start with.
 */
export function checkDiskRange(name: string, capacity: number, offset: number, length: number): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > capacity
  ) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `${name}: invalid range of ${length} bytes at ${offset} (the disk has ${capacity} bytes)`,
    );
  }
}
