/**
 * The worker-thread side of `convertInParallel` (parallel.ts): each worker opens the input image
 * for random access on its own, takes chunks of the virtual disk from the main thread and either
 * writes their data straight into the output file (raw, fixed VHD: the data sits at its disk
 * offset) or compresses their grains into streamOptimized VMDK grain records that the main thread
 * puts in order. Reads and writes are synchronous here: this thread does nothing else, and a
 * synchronous read costs less than a round trip through libuv's pool.
 *
 * The module starts the worker loop on load when it is running as such a worker (workerData says
 * so), which works both from the TypeScript sources and from a bundle that runs itself as the worker.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { alignedBuffer } from './aligned';
import type { ImageFormat } from './detect';
import { isImageError } from './errors';
import { isAllZero } from './extents';
import { openRandomAccess } from './random-access';
import { readDiskInto, type RandomAccessDisk } from './random-access-disk';
import { checkRange, type ByteSource } from './source';
import { compressGrain, grainRecord, grainRecordSize, VMDK_WRITER_GRAIN_BYTES } from './vmdk-stream-writer';

/** `workerData.kind` of a conversion worker. */
export const IMAGE_WORKER_KIND = 'burstgate-image-worker';

export interface ImageWorkerData {
  kind: typeof IMAGE_WORKER_KIND;
  input: string;
  format: ImageFormat;
  /** 'positioned': data to be written at its disk offset; 'vmdk-grains': grain records. */
  mode: 'positioned' | 'vmdk-grains';
  compressionLevel: number;
  /**
   * Where a chunk's output goes: slot k is bytes [k*slotBytes, (k+1)*slotBytes) of this shared
   * memory; the main thread writes a slot out and then hands it to the next chunk, so data is
   * never copied between threads and memory stays fixed.
   */
  slots: SharedArrayBuffer;
  slotBytes: number;
}

/** Main thread → worker. */
export type ImageWorkerRequest =
  { type: 'chunk'; id: number; offset: number; length: number; slot: number } | { type: 'stop' };

/** Worker → main thread. */
export type ImageWorkerReply =
  | { type: 'ready' }
  | {
      type: 'done';
      id: number;
      /** Non-zero bytes of the chunk (zero-detected per 64 KiB block, as the sequential path counts). */
      dataBytes: number;
      /** vmdk-grains: per grain [index, byte offset in the chunk's slot, record length]. */
      grains?: number[];
      /** positioned: per run of data [disk offset, length, byte offset in the chunk's slot]. */
      runs?: number[];
    }
  | { type: 'error'; code?: string; message: string };

/** Reads are at most this big; a grain's data plus its marker is served from one window. */
const PIECE = 4 * 1024 * 1024;
const BLOCK = 64 * 1024;
const WINDOW = 4 * 1024 * 1024;

/**
 * A file read synchronously through a read-ahead window: the random-access readers ask for a
 * 12-byte grain marker, then the grain, then the next marker — one system call per window instead
 * of two per grain. What is served from the window is a copy: readers keep some reads (grain
 * tables, L2 tables) in caches, and a view would pin the whole window; the window itself is reused.
 * `peek` lends a view for what is used at once (a compressed grain inflated into its destination).
 */
export function readAheadFileSource(path: string, window = WINDOW): ByteSource {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const direct = openDirect(path);
  const win = alignedBuffer(Math.min(window, size));
  let winAt = 0;
  let winLength = 0;
  const readAt = (buf: Buffer, offset: number): void => {
    let done = 0;
    while (done < buf.length) {
      const n = readSync(fd, buf, done, buf.length - done, offset + done);
      if (n === 0) throw new Error(`${path} shrank while being read`);
      done += n;
    }
  };
  /** The window, moved to start at `offset` unless it holds [offset, offset+length) already. */
  const windowAt = (offset: number, length: number): Buffer => {
    if (offset < winAt || offset + length > winAt + winLength) {
      winAt = offset;
      winLength = Math.min(win.length, size - offset);
      readAt(win.subarray(0, winLength), offset);
    }
    return win.subarray(offset - winAt, offset - winAt + length);
  };
  const readInto = async (offset: number, out: Buffer): Promise<void> => {
    checkRange({ size, name: path }, offset, out.length);
    if (out.length > win.length / 2) {
      if (direct !== undefined && readDirect(direct, out, offset)) return;
      return readAt(out, offset);
    }
    const inWindow = offset >= winAt && offset + out.length <= winAt + winLength;
    const ahead = offset >= winAt + winLength && offset < winAt + winLength + win.length;
    if (!inWindow && !ahead && winLength > 0) {
      // a jump (a grain table at the front of a qemu-made VMDK, between its grains at the back):
      // read just these bytes and keep the window where the data is, or every table read would
      // cost two window refills (measured: 380 MiB read for a 130 MiB file)
      return readAt(out, offset);
    }
    windowAt(offset, out.length).copy(out);
  };
  return {
    size,
    name: path,
    read: async (offset, length) => {
      const out = Buffer.allocUnsafe(length);
      await readInto(offset, out);
      return out;
    },
    readInto,
    // grain markers and compressed grains are inflated straight from the window
    peek: (offset, length) => {
      checkRange({ size, name: path }, offset, length);
      return length > win.length / 2 ? undefined : windowAt(offset, length);
    },
    close: async () => {
      closeSync(fd);
      if (direct !== undefined) closeSync(direct);
    },
  };
}

/**
 * Big reads (a 4 MiB piece of a raw disk) go around the page cache when they can: reading a hole
 * through the cache makes the kernel allocate, zero and cache a page per 4 KiB, while an O_DIRECT
 * read of a hole just fills the buffer. This is what stands in for SEEK_DATA, which Node does not
 * offer (qemu-img skips holes with it). Kept for its gain in `npm run bench:images` (README.md,
 * "I/O policy"): 16 GiB sparse raw → VMDK-stream, 2.54 s against 5.91 s (medians). O_DIRECT needs
 * the buffer, offset and length aligned to the device's block: reads that are not (or a file system
 * that refuses O_DIRECT, like tmpfs) use the ordinary descriptor.
 */
function openDirect(path: string): number | undefined {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_DIRECT);
  } catch {
    return undefined;
  }
}

const DIRECT_ALIGN = 4096;

/** Reads `out.length` bytes at `offset` with O_DIRECT; false when it cannot (then nothing was promised). */
function readDirect(fd: number, out: Buffer, offset: number): boolean {
  if (offset % DIRECT_ALIGN !== 0 || out.length % DIRECT_ALIGN !== 0) return false;
  try {
    let done = 0;
    while (done < out.length) {
      const n = readSync(fd, out, done, out.length - done, offset + done);
      if (n === 0) return false; // the file shrank: let the ordinary path report it
      done += n;
    }
    return true;
  } catch (err) {
    // EINVAL: the buffer is not aligned (JavaScript cannot see addresses) or the file system says no
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') return false;
    throw err;
  }
}

/** True when the format's map says [offset, offset+length) holds no data. */
async function mappedZero(disk: RandomAccessDisk, offset: number, length: number): Promise<boolean> {
  for await (const r of disk.map(offset, length)) if (!r.zero) return false;
  return true;
}

/**
 * The non-zero 64 KiB blocks of `buf` (disk bytes at `at`, slot bytes at `slotAt`) as runs
 * [disk offset, length, slot offset] appended to `runs`; returns their bytes.
 */
function nonZeroRuns(buf: Buffer, at: number, slotAt: number, runs: number[]): number {
  let bytes = 0;
  let runStart = -1;
  const flush = (end: number) => {
    if (runStart < 0) return;
    runs.push(at + runStart, end - runStart, slotAt + runStart);
    bytes += end - runStart;
    runStart = -1;
  };
  for (let off = 0; off < buf.length; off += BLOCK) {
    const end = Math.min(buf.length, off + BLOCK);
    if (isAllZero(buf.subarray(off, end))) flush(off);
    else if (runStart < 0) runStart = off;
  }
  flush(buf.length);
  return bytes;
}

/**
 * Reads a chunk's data into its slot (mapped-zero pieces are not read) and lists its non-zero runs;
 * the main thread writes them at their disk offsets. One thread writing the output is faster than
 * several: writers of one file queue on its inode lock.
 */
async function positionedChunk(disk: RandomAccessDisk, slot: Buffer, offset: number, length: number) {
  let dataBytes = 0;
  const runs: number[] = [];
  for (let at = offset; at < offset + length; at += PIECE) {
    const n = Math.min(PIECE, offset + length - at);
    if (await mappedZero(disk, at, n)) continue;
    const buf = slot.subarray(at - offset, at - offset + n);
    await readDiskInto(disk, at, buf);
    dataBytes += nonZeroRuns(buf, at, at - offset, runs);
  }
  return { dataBytes, runs };
}

/**
 * Room for one 64 KiB grain record whatever deflate does: zlib's bound for incompressible input is
 * the input plus 5 bytes per 16 KiB plus 11, far below this.
 */
export const GRAIN_RECORD_BOUND = grainRecordSize(VMDK_WRITER_GRAIN_BYTES + 4096);

async function grainChunk(
  disk: RandomAccessDisk,
  piece: Buffer,
  level: number,
  out: Buffer,
  offset: number,
  length: number,
) {
  const G = VMDK_WRITER_GRAIN_BYTES;
  if (offset % G !== 0 || Math.ceil(length / G) * GRAIN_RECORD_BOUND > out.length) {
    throw new Error(`chunk of ${length} bytes at ${offset} is not grain-aligned or does not fit its slot`);
  }
  const grains: number[] = [];
  let used = 0;
  let dataBytes = 0;
  for (let at = offset; at < offset + length; at += PIECE) {
    const n = Math.min(PIECE, offset + length - at);
    if (await mappedZero(disk, at, n)) continue;
    const buf = piece.subarray(0, n);
    await readDiskInto(disk, at, buf);
    for (let off = 0; off < n; off += G) {
      let grain = buf.subarray(off, Math.min(n, off + G));
      if (isAllZero(grain)) continue;
      dataBytes += grain.length;
      if (grain.length < G) {
        // the disk's last grain: a record always holds a whole grain
        const whole = Buffer.alloc(G);
        grain.copy(whole);
        grain = whole;
      }
      const index = (at + off) / G;
      const compressed = compressGrain(grain, level);
      const size = grainRecordSize(compressed.length);
      if (size > GRAIN_RECORD_BOUND) throw new Error(`grain ${index} compressed to ${size} bytes`);
      grainRecord(index, compressed, out.subarray(used, used + size));
      grains.push(index, used, size);
      used += size;
    }
  }
  return { dataBytes, grains };
}

/** Converts chunks of one input as `data` says; the same code runs in a worker or on the main thread. */
export interface ChunkConverter {
  convert(chunk: { id: number; offset: number; length: number; slot: number }): Promise<{
    dataBytes: number;
    grains?: number[];
    runs?: number[];
  }>;
  close(): Promise<void>;
}

/** An input already open for random access (its source reads synchronously: `peek` works). */
export interface OpenedInput {
  src: ByteSource;
  disk: RandomAccessDisk;
}

/**
 * Opens `data.input` for the chunks, or uses `opened` (the caller keeps it and closes it; the
 * converter's `close` leaves it open).
 */
export async function openChunkConverter(
  data: ImageWorkerData,
  opened?: OpenedInput,
): Promise<ChunkConverter> {
  const src = opened?.src ?? readAheadFileSource(data.input);
  const closeOwn = () => (opened ? Promise.resolve() : src.close());
  try {
    const disk = opened?.disk ?? (await openRandomAccess(src, { format: data.format }));
    // one piece buffer for the converter's life: no 4 MiB allocation (and page faults) per piece
    const piece = data.mode === 'vmdk-grains' ? alignedBuffer(PIECE) : undefined;
    return {
      convert: async (c) => {
        const slot = Buffer.from(data.slots, c.slot * data.slotBytes, data.slotBytes);
        if (data.mode === 'positioned') return positionedChunk(disk, slot, c.offset, c.length);
        return grainChunk(disk, piece!, data.compressionLevel, slot, c.offset, c.length);
      },
      close: closeOwn,
    };
  } catch (err) {
    await closeOwn();
    throw err;
  }
}

async function runImageWorker(data: ImageWorkerData): Promise<void> {
  const port = parentPort!;
  const reply = (m: ImageWorkerReply) => port.postMessage(m);
  let converter: ChunkConverter | undefined;
  const queue: ImageWorkerRequest[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (m: ImageWorkerRequest) => {
    queue.push(m);
    wake?.();
  });
  try {
    converter = await openChunkConverter(data);
    reply({ type: 'ready' });
    for (;;) {
      if (queue.length === 0) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      const m = queue.shift()!;
      if (m.type === 'stop') break;
      reply({ type: 'done', id: m.id, ...(await converter.convert(m)) });
    }
  } catch (err) {
    reply({
      type: 'error',
      ...(isImageError(err) ? { code: err.code } : {}),
      message: (err as Error).message ?? String(err),
    });
  } finally {
    await converter?.close();
    port.close();
  }
}

if (!isMainThread && (workerData as Partial<ImageWorkerData> | undefined)?.kind === IMAGE_WORKER_KIND) {
  void runImageWorker(workerData as ImageWorkerData);
}
