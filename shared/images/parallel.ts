/**
 * Conversions spread over worker threads. A local image that can be opened for random access is
 * cut into chunks of its virtual disk; each worker (parallel-worker.ts) opens the image itself and
 * converts the chunks it is given, so decompression (reading a streamOptimized VMDK, qcow2) and
 * compression (writing one) run on every core instead of one:
 *
 *   - raw and fixed-VHD outputs: workers write each chunk's data at its disk offset into the
 *     output file (pre-sized, so zeros stay holes); the main thread adds the VHD footer at the end.
 *   - streamOptimized VMDK output: workers return each chunk's compressed grain records; the main
 *     thread writes them in disk order through `StreamOptimizedVmdkAssembler` (grain tables,
 *     directory, footer, end-of-stream marker).
 *
 * Memory stays bounded: each worker holds one 4 MiB piece and one chunk's records; the main thread
 * keeps at most two chunks per worker in flight.
 */
import { createRequire } from 'node:module';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { alignedSharedBuffer } from './aligned';
import type { ImageFormat } from './detect';
import { ImageError, type ImageErrorCode } from './errors';
import {
  GRAIN_RECORD_BOUND,
  IMAGE_WORKER_KIND,
  openChunkConverter,
  type ImageWorkerData,
  type ImageWorkerReply,
  type OpenedInput,
} from './parallel-worker';
import { OutputFileWriter, openDirectOutput, type WritePath } from './output-file';
import type { RandomAccessDisk } from './random-access-disk';
import { buildFixedVhdFooter, fixedVhdCapacity } from './vhd';
import { StreamOptimizedVmdkAssembler, VMDK_WRITER_GRAIN_BYTES } from './vmdk-stream-writer';

/** Outputs the workers can produce. */
export type ParallelTarget = 'raw' | 'vhd-fixed' | 'vmdk-stream';
export const PARALLEL_TARGETS: ReadonlySet<string> = new Set<ParallelTarget>([
  'raw',
  'vhd-fixed',
  'vmdk-stream',
]);

export interface ParallelConvertOptions {
  /** Worker threads (default: the cores Node may use, at most 4); 0 converts the chunks on this thread. */
  workers?: number;
  /** Bytes of virtual disk per chunk, a multiple of 64 KiB (default 4 MiB). */
  chunkBytes?: number;
  /** Fixed VHD: round the virtual size up to a whole MiB (Azure). */
  azure?: boolean;
  /** Deflate level of VMDK grains (default 6; grains that look incompressible are stored). */
  compressionLevel?: number;
  /**
   * Raw and fixed-VHD outputs: write long aligned runs with O_DIRECT, around the page cache (default
   * true; file systems without O_DIRECT are written through it). false: the page cache only. See
   * output-file.ts.
   */
  directWrites?: boolean;
  onProgress?: (done: number, total: number) => void;
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

const DEFAULT_CHUNK = 4 * 1024 * 1024;
/** What `onDone` is given for a chunk that left nothing in its slot (the slot is already reused). */
const NO_DATA = Buffer.alloc(0);
/** Output slots when chunks are converted on the main thread: one being filled, two being written. */
const IN_THREAD_SLOTS = 3;
/** Below this virtual size `convertImage` streams the disk in one pass instead of converting chunks. */
export const PARALLEL_MIN_CAPACITY = 16 * 1024 * 1024;
/**
 * Allocated bytes from which `convertImage` starts worker threads (below, chunks run on this thread):
 * compressing pays for the threads early; copying (raw, fixed VHD out) only on bigger disks, where
 * decompressing the input is worth spreading (measured on 2 cores: 128 MiB of grains converted
 * faster on one thread, 1 GiB on two).
 */
export const PARALLEL_MIN_DATA: Readonly<Record<ParallelTarget, number>> = {
  'vmdk-stream': 64 * 1024 * 1024,
  raw: 256 * 1024 * 1024,
  'vhd-fixed': 256 * 1024 * 1024,
};

/**
 * How a worker is started. From the TypeScript sources (tests, `tsx`), an eval'd bootstrap loads
 * parallel-worker.ts through tsx; from a bundle, the bundle itself runs as the worker and
 * parallel-worker's top-level check starts the loop (entry points must run their own main only on
 * the main thread).
 */
function startWorker(data: ImageWorkerData): Worker {
  const self = new URL(import.meta.url);
  if (/\/parallel\.ts$/.test(self.pathname)) {
    // require.resolve finds the CommonJS build of tsx's API; its ES module sits beside it
    const tsx = pathToFileURL(
      createRequire(self)
        .resolve('tsx/esm/api')
        .replace(/\.cjs$/, '.mjs'),
    ).href;
    const entry = new URL('./parallel-worker.ts', self).href;
    const code = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(self.href)}));`;
    return new Worker(code, { eval: true, workerData: data });
  }
  return new Worker(self, { workerData: data });
}

function workerError(reply: { code?: string; message: string }): Error {
  return reply.code
    ? new ImageError(reply.code as ImageErrorCode, reply.message)
    : new Error(`image worker: ${reply.message}`);
}

interface Chunk {
  id: number;
  offset: number;
  length: number;
  /** The shared-memory slot its records go to (vmdk-grains). */
  slot?: number;
}

/**
 * Runs `workers` workers over the disk's chunks. `onDone` is called on the main thread for every
 * finished chunk (in completion order); `inOrder` holds chunks back so they reach it in disk order.
 */
async function runWorkers(
  job: Omit<ImageWorkerData, 'slots'>,
  capacity: number,
  opts: ParallelConvertOptions,
  onDone: (chunk: Chunk, reply: Extract<ImageWorkerReply, { type: 'done' }>, slot: Buffer) => Promise<void>,
  inOrder: boolean,
  opened?: OpenedInput,
): Promise<number> {
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % VMDK_WRITER_GRAIN_BYTES !== 0) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `chunkBytes must be a positive multiple of ${VMDK_WRITER_GRAIN_BYTES}, got ${chunkBytes}`,
    );
  }
  const count = Math.max(0, Math.floor(opts.workers ?? defaultWorkerCount()));
  // a chunk is handed out only with a free slot of shared output memory: two per worker keep each
  // busy while the main thread writes, one more lets the next chunk in disk order start
  const slots = count === 0 ? IN_THREAD_SLOTS : 2 * count + 1;
  // page-aligned: the slots are where the workers' preads land and what the main thread writes from
  const data: ImageWorkerData = { ...job, slots: alignedSharedBuffer(slots * job.slotBytes) };
  const slotBuffer = (i: number) => Buffer.from(data.slots, i * data.slotBytes, data.slotBytes);
  const chunks: Chunk[] = [];
  for (let off = 0, id = 0; off < capacity; off += chunkBytes, id++) {
    chunks.push({ id, offset: off, length: Math.min(chunkBytes, capacity - off) });
  }
  if (count === 0) {
    // The same chunk code on this thread: no worker to start, which pays off on small disks. Chunks
    // are read synchronously here while earlier ones are written on libuv's pool, one write after
    // the other (in disk order). A chunk waits only for its own slot's last write, and a chunk that
    // left nothing in its slot (a hole) keeps the slot for the next one: on a sparse disk the reads
    // of the next data chunk overlap the write of the last one instead of waiting for it.
    const converter = await openChunkConverter(data, opened);
    let dataBytes = 0;
    let doneBytes = 0;
    let chain: Promise<void> = Promise.resolve();
    let failure: { err: unknown } | undefined;
    const slotWritten: Array<Promise<void>> = Array.from({ length: slots }, () => Promise.resolve());
    let slot = 0;
    try {
      for (const c of chunks) {
        await slotWritten[slot];
        if (failure) throw failure.err;
        c.slot = slot;
        const r = await converter.convert({ ...c, slot });
        dataBytes += r.dataBytes;
        const buffer = slotBuffer(slot);
        chain = chain.then(async () => {
          if (failure) return;
          await onDone(c, { type: 'done', id: c.id, ...r }, buffer);
          doneBytes += c.length;
          opts.onProgress?.(doneBytes, capacity);
        });
        chain = chain.catch((err: unknown) => {
          failure ??= { err };
        });
        if ((r.runs?.length ?? 0) > 0 || (r.grains?.length ?? 0) > 0) {
          slotWritten[slot] = chain;
          slot = (slot + 1) % slots;
        }
      }
    } finally {
      await chain;
      await converter.close();
    }
    if (failure) throw failure.err;
    return dataBytes;
  }
  const workers: Worker[] = [];
  let dataBytes = 0;
  let doneBytes = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0; // next chunk to hand out
      let emitted = 0; // in-order mode: next chunk id to pass to onDone
      let failed = false;
      let running = 0;
      const held = new Map<number, { chunk: Chunk; reply: Extract<ImageWorkerReply, { type: 'done' }> }>();
      const inFlight = new Map<Worker, number>();
      const freeSlots = Array.from({ length: slots }, (_, i) => i);
      const limit = 2; // chunks queued per worker: the next one is there when one finishes
      let chain = Promise.resolve();
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      /** Passes a finished chunk to onDone and gives its slot back. */
      const emit = async (h: { chunk: Chunk; reply: Extract<ImageWorkerReply, { type: 'done' }> }) => {
        const slot = h.chunk.slot;
        await onDone(h.chunk, h.reply, slot === undefined ? NO_DATA : slotBuffer(slot));
        emitted++;
        doneBytes += h.chunk.length;
        if (slot !== undefined) freeSlots.push(slot);
        opts.onProgress?.(doneBytes, capacity);
      };
      const feed = (w: Worker) => {
        // in-order mode: do not run more than `limit` chunks per worker ahead of what was written
        while (!failed && next < chunks.length && inFlight.get(w)! < limit && freeSlots.length > 0) {
          const c = chunks[next++]!;
          c.slot = freeSlots.shift()!;
          inFlight.set(w, inFlight.get(w)! + 1);
          w.postMessage({ type: 'chunk', id: c.id, offset: c.offset, length: c.length, slot: c.slot });
        }
        if (next >= chunks.length && inFlight.get(w) === 0) w.postMessage({ type: 'stop' });
      };
      const finished = () => {
        if (!failed && emitted === chunks.length) resolve();
      };
      for (let i = 0; i < count; i++) {
        const w = startWorker(data);
        workers.push(w);
        inFlight.set(w, 0);
        running++;
        w.on('message', (m: ImageWorkerReply) => {
          if (failed) return;
          if (m.type === 'ready') return feed(w);
          if (m.type === 'error') return fail(workerError(m));
          inFlight.set(w, inFlight.get(w)! - 1);
          const chunk = chunks[m.id]!;
          dataBytes += m.dataBytes;
          held.set(m.id, { chunk, reply: m });
          if ((m.grains?.length ?? 0) === 0 && (m.runs?.length ?? 0) === 0) {
            // nothing in its slot to write (a hole): the slot goes back now, so a worker crossing
            // holes does not wait for the chunks before it to be written
            freeSlots.push(chunk.slot!);
            chunk.slot = undefined;
            for (const other of workers) feed(other);
          }
          // onDone runs one at a time, in disk order when asked (the VMDK assembler needs that)
          chain = chain
            .then(async () => {
              if (!inOrder) {
                const h = held.get(m.id)!;
                held.delete(m.id);
                await emit(h);
              } else {
                while (held.has(emitted)) {
                  const h = held.get(emitted)!;
                  held.delete(emitted);
                  await emit(h);
                }
              }
              for (const other of workers) feed(other);
              finished();
            })
            .catch(fail);
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          running--;
          if (code !== 0) fail(new Error(`image worker stopped with exit code ${code}`));
          else if (running === 0 && emitted < chunks.length) {
            // every worker stopped: either all chunks were handed out and are being written, or a bug
            chain.then(() => {
              if (emitted < chunks.length) fail(new Error('image workers stopped before the last chunk'));
            }, fail);
          }
        });
      }
      if (chunks.length === 0) resolve();
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return dataBytes;
}

/**
 * Converts a local image file whose disk is already open for random access (`disk`, used here only
 * for its size) into `output`. Returns the output's size and the disk's non-zero bytes.
 */
export async function convertInParallel(
  input: string,
  format: ImageFormat,
  disk: Pick<RandomAccessDisk, 'capacity'>,
  output: string,
  to: ParallelTarget,
  opts: ParallelConvertOptions = {},
  /** The input already open (see openChunkConverter): used when the chunks run on this thread. */
  opened?: OpenedInput,
): Promise<{ outputBytes: number; dataBytes: number; written?: Record<WritePath, number> }> {
  const capacity = disk.capacity;
  const compressionLevel = opts.compressionLevel ?? 6;
  const chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK;
  if (to === 'vmdk-stream') {
    const asm = new StreamOptimizedVmdkAssembler(capacity);
    const fh = await open(output, 'w');
    try {
      let at = 0;
      const write = async (bufs: Buffer[]) => {
        if (bufs.length === 0) return;
        const n = bufs.reduce((s, b) => s + b.length, 0);
        await fh.writev(bufs, at);
        at += n;
      };
      await write([asm.start()]);
      const dataBytes = await runWorkers(
        {
          kind: IMAGE_WORKER_KIND,
          input,
          format,
          mode: 'vmdk-grains',
          compressionLevel,
          // whole 64 KiB, so every slot starts page-aligned
          slotBytes:
            Math.ceil((Math.ceil(chunkBytes / VMDK_WRITER_GRAIN_BYTES) * GRAIN_RECORD_BOUND) / 65536) * 65536,
        },
        capacity,
        opts,
        async (_chunk, reply, records) => {
          const g = reply.grains!;
          const out: Buffer[] = [];
          for (let i = 0; i < g.length; i += 3) {
            asm.grain(g[i]!, records.subarray(g[i + 1]!, g[i + 1]! + g[i + 2]!), out);
          }
          // writev takes at most IOV_MAX (1024) buffers at once
          for (let i = 0; i < out.length; i += 1024) await write(out.slice(i, i + 1024));
        },
        true,
        opened,
      );
      await write(asm.finish());
      return { outputBytes: at, dataBytes };
    } finally {
      await fh.close();
    }
  }
  const vhd = { roundToMiB: opts.azure ?? false };
  const size = to === 'vhd-fixed' ? fixedVhdCapacity(capacity, vhd) : capacity;
  if (to === 'vhd-fixed' && size % 512 !== 0) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `a fixed VHD needs a size that is a multiple of 512 bytes, not ${size}; use --azure to round it up to whole MiB`,
    );
  }
  const trailer = to === 'vhd-fixed' ? buildFixedVhdFooter(size, vhd) : undefined;
  const fh = await open(output, 'w');
  // long aligned runs around the page cache, the rest through it: see output-file.ts
  const direct = (opts.directWrites ?? true) ? await openDirectOutput(output) : undefined;
  const writer = new OutputFileWriter(fh, direct);
  try {
    // pre-sized: what no chunk writes stays a hole
    await fh.truncate(size + (trailer?.length ?? 0));
    const dataBytes = await runWorkers(
      { kind: IMAGE_WORKER_KIND, input, format, mode: 'positioned', compressionLevel, slotBytes: chunkBytes },
      capacity,
      opts,
      async (_chunk, reply, data) => {
        const r = reply.runs!;
        // slots are page-aligned and runs are whole 64 KiB blocks but for the disk's last one
        for (let i = 0; i < r.length; i += 3) await writer.write(data, r[i + 2]!, r[i + 1]!, r[i]!);
      },
      false,
      opened,
    );
    if (trailer) await fh.write(trailer, 0, trailer.length, size);
    return { outputBytes: size + (trailer?.length ?? 0), dataBytes, written: { ...writer.written } };
  } finally {
    await writer.close();
    await fh.close();
  }
}
