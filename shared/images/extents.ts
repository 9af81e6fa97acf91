import { createHash } from 'node:crypto';
import { ImageError } from './errors';
import type { RandomAccessDisk } from './random-access-disk';

export type DiskExtent =
  /** `offset` is in bytes into the virtual disk. */
  { kind: 'data'; offset: number; data: Buffer } | { kind: 'zero'; offset: number; length: number };

/**
 * A virtual disk as a stream: extents in strictly increasing offset order, contiguous, covering
 * [0, capacity). Consumed once.
 */
export interface DiskStream {
  readonly capacity: number;
  readonly extents: AsyncIterable<DiskExtent>;
}

export interface ZeroDetectOptions {
  /** Zero detection granularity in bytes (default 64 KiB). */
  blockSize?: number;
}

export const DEFAULT_BLOCK_SIZE = 64 * 1024;
const ZERO_CHUNK_SIZE = 1024 * 1024;
let zeroChunk: Buffer | undefined;

/** A shared, read-only 1 MiB buffer of zeros. Never write to it. */
export function zeros(length: number): Buffer {
  if (length > ZERO_CHUNK_SIZE) return Buffer.alloc(length);
  zeroChunk ??= Buffer.alloc(ZERO_CHUNK_SIZE);
  return zeroChunk.subarray(0, length);
}

/** True when every byte of buf is 0. */
export function isAllZero(buf: Buffer): boolean {
  for (let off = 0; off < buf.length; off += ZERO_CHUNK_SIZE) {
    const part = buf.subarray(off, Math.min(buf.length, off + ZERO_CHUNK_SIZE));
    if (!part.equals(zeros(part.length))) return false;
  }
  return true;
}

function checkCapacity(capacity: number, what: string): void {
  if (!Number.isSafeInteger(capacity) || capacity < 0) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `${what}: capacity must be a non-negative safe integer number of bytes, got ${capacity}`,
    );
  }
}

/**
 * Merges adjacent zero extents and drops empty ones; checks that the producer's extents are
 * contiguous and end exactly at capacity. Used by every producer in this module.
 */
export async function* normalizeExtents(
  source: AsyncIterable<DiskExtent> | Iterable<DiskExtent>,
  capacity: number,
  what: string,
): AsyncGenerator<DiskExtent> {
  let pos = 0;
  let zeroStart = -1;
  for await (const e of source) {
    if (e.offset !== pos) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `${what}: extent at byte ${e.offset} does not follow the previous one, which ended at byte ${pos}; extents must be contiguous and in order`,
      );
    }
    const len = e.kind === 'data' ? e.data.length : e.length;
    if (len === 0) continue;
    if (pos + len > capacity) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `${what}: extent at byte ${e.offset} of ${len} bytes runs past the capacity of ${capacity} bytes`,
      );
    }
    if (e.kind === 'zero') {
      if (zeroStart < 0) zeroStart = pos;
    } else {
      if (zeroStart >= 0) {
        yield { kind: 'zero', offset: zeroStart, length: pos - zeroStart };
        zeroStart = -1;
      }
      yield e;
    }
    pos += len;
  }
  if (zeroStart >= 0) yield { kind: 'zero', offset: zeroStart, length: pos - zeroStart };
  if (pos !== capacity) {
    throw new ImageError(
      'BG_IMAGE_STREAM_STATE',
      `${what}: extents end at byte ${pos} but the capacity is ${capacity} bytes`,
    );
  }
}

/** Splits a buffer into data and zero extents, zero-detecting in blocks. Offsets start at `base`. */
export function* splitZeroBlocks(
  buf: Buffer,
  base: number,
  blockSize = DEFAULT_BLOCK_SIZE,
): Generator<DiskExtent> {
  let dataStart = -1;
  let zeroStart = -1;
  for (let off = 0; off < buf.length; off += blockSize) {
    const end = Math.min(buf.length, off + blockSize);
    const zero = isAllZero(buf.subarray(off, end));
    if (zero) {
      if (dataStart >= 0) {
        yield { kind: 'data', offset: base + dataStart, data: buf.subarray(dataStart, off) };
        dataStart = -1;
      }
      if (zeroStart < 0) zeroStart = off;
    } else {
      if (zeroStart >= 0) {
        yield { kind: 'zero', offset: base + zeroStart, length: off - zeroStart };
        zeroStart = -1;
      }
      if (dataStart < 0) dataStart = off;
    }
  }
  if (dataStart >= 0) yield { kind: 'data', offset: base + dataStart, data: buf.subarray(dataStart) };
  if (zeroStart >= 0) yield { kind: 'zero', offset: base + zeroStart, length: buf.length - zeroStart };
}

/**
 * A DiskStream over a random-access disk (or the range [offset, offset+length) of it, whose
 * extents then start at 0, as every DiskStream's do — add `offset` back for disk positions).
 * Mapped-zero ranges are emitted without reading; data ranges are read in chunks of at most
 * `chunkSize` and zero-detected in 64 KiB blocks, so zero ranges never reach a writer as data.
 * Bounded memory: one chunk.
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

/** A DiskStream over an in-memory buffer; zero-detects in 64 KiB blocks (blockSize option). */
export function diskFromBuffer(buf: Buffer, opts: ZeroDetectOptions = {}): DiskStream {
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  return {
    capacity: buf.length,
    extents: normalizeExtents(splitZeroBlocks(buf, 0, blockSize), buf.length, 'diskFromBuffer'),
  };
}

/**
 * A DiskStream over a raw byte stream of exactly `capacity` bytes. Zero-detects per block and
 * coalesces zero runs. BG_IMAGE_TRUNCATED if the input ends early; BG_IMAGE_TRAILING_DATA if it is
 * longer (unless allowTrailing, in which case the rest is left unread).
 */
export function rawToDisk(
  input: AsyncIterable<Buffer>,
  capacity: number,
  opts: ZeroDetectOptions & { what?: string; allowTrailing?: boolean } = {},
): DiskStream {
  checkCapacity(capacity, 'rawToDisk');
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  const what = opts.what ?? 'raw disk image';
  async function* gen(): AsyncGenerator<DiskExtent> {
    let pos = 0;
    let pending: Buffer[] = [];
    let pendingLen = 0;
    const it = input[Symbol.asyncIterator]();
    try {
      while (pos + pendingLen < capacity) {
        const r = await it.next();
        if (r.done) {
          throw new ImageError(
            'BG_IMAGE_TRUNCATED',
            `${what} ends early: expected ${capacity} bytes but the input ended at byte ${pos + pendingLen}; the file is incomplete — transfer it again`,
          );
        }
        const v = r.value as Buffer | Uint8Array;
        let chunk = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        if (pos + pendingLen + chunk.length > capacity) {
          if (!opts.allowTrailing) {
            throw new ImageError(
              'BG_IMAGE_TRAILING_DATA',
              `${what} is longer than its declared size: more than ${capacity} bytes (extra data at byte ${capacity}); check the size you passed`,
            );
          }
          chunk = chunk.subarray(0, capacity - pos - pendingLen);
        }
        pending.push(chunk);
        pendingLen += chunk.length;
        // emit whole blocks, keep the remainder
        const whole = pos + pendingLen === capacity ? pendingLen : pendingLen - (pendingLen % blockSize);
        if (whole >= blockSize || (whole > 0 && pos + pendingLen === capacity)) {
          const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
          yield* splitZeroBlocks(all.subarray(0, whole), pos, blockSize);
          pos += whole;
          const rest = all.subarray(whole);
          pending = rest.length > 0 ? [rest] : [];
          pendingLen = rest.length;
        }
      }
      if (!opts.allowTrailing) {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          if (r.value.length > 0) {
            throw new ImageError(
              'BG_IMAGE_TRAILING_DATA',
              `${what} is longer than its declared size: more than ${capacity} bytes (extra data at byte ${capacity}); check the size you passed`,
            );
          }
        }
      }
    } finally {
      await it.return?.();
    }
  }
  return { capacity, extents: normalizeExtents(gen(), capacity, what) };
}

/** The full virtual content as raw bytes; zero extents are emitted in bounded chunks. */
export async function* diskToRaw(
  disk: DiskStream,
  opts: { chunkSize?: number } = {},
): AsyncGenerator<Buffer> {
  const chunkSize = Math.min(opts.chunkSize ?? ZERO_CHUNK_SIZE, ZERO_CHUNK_SIZE);
  for await (const e of disk.extents) {
    if (e.kind === 'data') {
      yield e.data;
    } else {
      for (let left = e.length; left > 0; left -= chunkSize) yield zeros(Math.min(left, chunkSize));
    }
  }
}

/** SHA-256 of the full virtual content including zeros; bounded memory. */
export async function hashDisk(
  disk: DiskStream,
): Promise<{ sha256: string; capacity: number; dataBytes: number }> {
  const h = createHash('sha256');
  let dataBytes = 0;
  let pos = 0;
  for await (const e of disk.extents) {
    if (e.kind === 'data') {
      h.update(e.data);
      dataBytes += e.data.length;
      pos += e.data.length;
    } else {
      for (let left = e.length; left > 0; left -= ZERO_CHUNK_SIZE)
        h.update(zeros(Math.min(left, ZERO_CHUNK_SIZE)));
      pos += e.length;
    }
  }
  if (pos !== disk.capacity) {
    throw new ImageError(
      'BG_IMAGE_STREAM_STATE',
      `hashDisk: extents cover ${pos} bytes but the capacity is ${disk.capacity} bytes`,
    );
  }
  return { sha256: h.digest('hex'), capacity: disk.capacity, dataBytes };
}

/**
 * Wraps a DiskStream so that it is hashed as it passes (SHA-256 of the full content, data bytes)
 * and its first `headBytes` bytes are captured, e.g. for partition-table detection.
 */
export function tapDisk(
  disk: DiskStream,
  headBytes = 64 * 1024,
): {
  disk: DiskStream;
  result: () => { sha256: string; dataBytes: number; head: Buffer; consumedBytes: number; done: boolean };
} {
  const h = createHash('sha256');
  let dataBytes = 0;
  let consumed = 0;
  let done = false;
  const headLen = Math.min(headBytes, disk.capacity);
  const head = Buffer.alloc(headLen);
  let digest: string | undefined;
  async function* gen(): AsyncGenerator<DiskExtent> {
    for await (const e of disk.extents) {
      if (e.kind === 'data') {
        h.update(e.data);
        dataBytes += e.data.length;
        if (e.offset < headLen) e.data.copy(head, e.offset, 0, Math.min(e.data.length, headLen - e.offset));
        consumed = e.offset + e.data.length;
      } else {
        for (let left = e.length; left > 0; left -= ZERO_CHUNK_SIZE)
          h.update(zeros(Math.min(left, ZERO_CHUNK_SIZE)));
        consumed = e.offset + e.length;
      }
      yield e;
    }
    done = true;
  }
  return {
    disk: { capacity: disk.capacity, extents: gen() },
    result: () => {
      if (done) digest ??= h.digest('hex');
      return { sha256: digest ?? '', dataBytes, head, consumedBytes: consumed, done };
    },
  };
}
