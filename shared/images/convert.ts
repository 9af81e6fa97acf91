/**
 * Whole-file operations behind `burstgate image info|convert|verify`: open any supported image
 * file (OVA included) as one pass of extents, hash it on the way, write it in another format.
 * Bounded memory: nothing here holds more than the readers and writers do.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { ImageError } from './errors';
import { streamFrom, tapDisk, type DiskExtent, type DiskStream } from './extents';
import { detectImageFormat, type ImageFormat } from './detect';
import { inspectOva, type OvaInspection } from './ova';
import { openDiskImage } from './open';
import { detectPartitionTable, type PartitionTable } from './partition';
import {
  convertInParallel,
  defaultWorkerCount,
  PARALLEL_MIN_CAPACITY,
  PARALLEL_MIN_DATA,
  PARALLEL_TARGETS,
  type ParallelConvertOptions,
  type ParallelTarget,
} from './parallel';
import { mappedDataBytes } from './random-access-disk';
import { openRandomAccess } from './random-access';
import { fileSource, type ByteSource } from './source';
import { readAheadFileSource, type OpenedInput } from './parallel-worker';
import { buildFixedVhdFooter, fixedVhdCapacity } from './vhd';
import { writeDynamicVhdTo } from './vhd-dynamic';
import { writeQcow2File } from './qcow2-writer';
import { writeMonolithicSparseVmdk } from './vmdk-sparse-writer';
import { writeStreamOptimizedVmdk } from './vmdk-stream-writer';

/** Output formats of `convertImage`. */
export type ConvertTarget = 'vmdk-stream' | 'vhd-fixed' | 'vhd-dynamic' | 'raw' | 'qcow2' | 'vmdk-sparse';

export interface WriteOptions {
  /** Azure: round the virtual size up to a whole MiB (fixed VHD only). */
  azure?: boolean;
}

/** Writes one disk to a file; returns the bytes the file holds. */
export type DiskFileWriter = (disk: DiskStream, path: string, opts: WriteOptions) => Promise<number>;

async function writeStreamTo(chunks: AsyncIterable<Buffer>, path: string): Promise<number> {
  await pipeline(Readable.from(chunks), createWriteStream(path));
  return (await stat(path)).size;
}

/**
 * Writes a disk into a file with positioned writes: zero extents become holes (the file is
 * truncated to size first), so a mostly empty disk costs what its data costs. `trailer` goes at
 * the end (a fixed VHD's footer).
 */
export async function writeDiskToFile(
  disk: DiskStream,
  path: string,
  opts: { size?: number; trailer?: Buffer } = {},
): Promise<number> {
  const fh = await open(path, 'w');
  try {
    const size = opts.size ?? disk.capacity;
    await fh.truncate(size + (opts.trailer?.length ?? 0));
    // Contiguous data extents go out together in one writev of up to BATCH bytes: one system
    // call per few MiB instead of one per 64 KiB grain.
    let batch: Buffer[] = [];
    let batchAt = 0;
    let batchBytes = 0;
    const flush = async () => {
      if (batchBytes > 0) await fh.writev(batch, batchAt);
      batch = [];
      batchBytes = 0;
    };
    for await (const e of disk.extents) {
      if (e.kind !== 'data') continue;
      if (batchBytes > 0 && (batchAt + batchBytes !== e.offset || batchBytes >= WRITE_BATCH)) await flush();
      if (batchBytes === 0) batchAt = e.offset;
      batch.push(e.data);
      batchBytes += e.data.length;
    }
    await flush();
    if (opts.trailer) await fh.write(opts.trailer, 0, opts.trailer.length, size);
  } finally {
    await fh.close();
  }
  return (await stat(path)).size;
}

const WRITE_BATCH = 8 * 1024 * 1024;

/** Target → writer. Each format module adds its writer here (one line). */
export const WRITERS: Partial<Record<ConvertTarget, DiskFileWriter>> = {
  'vmdk-stream': (disk, path) => writeStreamTo(writeStreamOptimizedVmdk(disk), path),
  'vhd-fixed': (disk, path, opts) => {
    const vhd = { roundToMiB: opts.azure ?? false };
    const size = fixedVhdCapacity(disk.capacity, vhd);
    if (size % 512 !== 0) {
      throw new ImageError(
        'BG_IMAGE_UNALIGNED',
        `a fixed VHD needs a size that is a multiple of 512 bytes, not ${size}; use --azure to round it up to whole MiB`,
      );
    }
    return writeDiskToFile(disk, path, { size, trailer: buildFixedVhdFooter(size, vhd) });
  },
  raw: (disk, path) => writeDiskToFile(disk, path),
  'vmdk-sparse': async (disk, path) => (await writeMonolithicSparseVmdk(disk, path)).fileSize,
  qcow2: async (disk, path) => {
    await writeQcow2File(disk, path);
    return (await stat(path)).size;
  },
  'vhd-dynamic': async (disk, path) => {
    const fh = await open(path, 'w');
    try {
      await writeDynamicVhdTo(disk, { write: (data, position) => fh.write(data, 0, data.length, position) });
    } finally {
      await fh.close();
    }
    return (await stat(path)).size;
  },
};

export interface ImageSummary {
  format: ImageFormat;
  fileBytes: number;
  capacity: number;
  /** Non-zero bytes of the virtual disk when it was read; allocated bytes per the format's map when not. */
  dataBytes: number;
  /** SHA-256 of the virtual disk's content, zeros included (the same for one disk in any format); set when it was read. */
  sha256?: string;
  partitionTable: PartitionTable;
  /** For an OVA: what its descriptor and manifest say. */
  ova?: Omit<OvaInspection, 'disks'>;
}

export interface OpenOptions {
  /** Called as the virtual disk is read: bytes done of capacity. */
  onProgress?: (done: number, total: number) => void;
  /** Compute the content SHA-256 on the way (costs a pass of SHA-256 over the whole virtual size). */
  hash?: boolean;
}

/** Counts data bytes and keeps the first sectors as extents pass; hashes them too when asked. */
function measure(disk: DiskStream, hash: boolean) {
  if (hash) return tapDisk(disk, 8192);
  const head = Buffer.alloc(Math.min(8192, disk.capacity));
  let dataBytes = 0;
  let done = false;
  async function* extents(): AsyncGenerator<DiskExtent> {
    for await (const e of disk.extents) {
      if (e.kind === 'data') {
        dataBytes += e.data.length;
        if (e.offset < head.length)
          e.data.copy(head, e.offset, 0, Math.min(e.data.length, head.length - e.offset));
      }
      yield e;
    }
    done = true;
  }
  return {
    disk: { capacity: disk.capacity, extents: extents() },
    result: () => ({ sha256: undefined as string | undefined, dataBytes, head, done }),
  };
}

function withProgress(disk: DiskStream, onProgress?: (done: number, total: number) => void): DiskStream {
  if (!onProgress) return disk;
  async function* extents(): AsyncGenerator<DiskExtent> {
    for await (const e of disk.extents) {
      yield e;
      onProgress!(e.offset + (e.kind === 'data' ? e.data.length : e.length), disk.capacity);
    }
  }
  return { capacity: disk.capacity, extents: extents() };
}

/**
 * Reads an image file once, handing its (first) disk to `use` as a DiskStream, and measures it.
 * OVAs are streamed (manifest verified at the end); other formats are opened for random access.
 */
export async function withImageFile(
  path: string,
  use: (disk: DiskStream, format: ImageFormat) => Promise<void>,
  opts: OpenOptions = {},
): Promise<ImageSummary> {
  const fileBytes = (await stat(path)).size;
  const src = await fileSource(path);
  let format: ImageFormat;
  try {
    const head = await src.read(0, Math.min(64 * 1024, src.size));
    const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : undefined;
    format = detectImageFormat(head, src.size, tail);
    if (format !== 'ova') {
      // A streamOptimized VMDK is made to be read front to back (grains inflate in parallel on
      // the way); everything else is read through its random-access map.
      const whole =
        format === 'vmdk-stream-optimized'
          ? (
              await openDiskImage(createReadStream(path, { highWaterMark: 1024 * 1024 }), {
                totalSize: src.size,
                format,
              })
            ).disk
          : streamFrom(await openRandomAccess(src, { format }));
      const tap = measure(withProgress(whole, opts.onProgress), opts.hash ?? false);
      await use(tap.disk, format);
      const r = tap.result();
      if (!r.done) throw new ImageError('BG_IMAGE_STREAM_STATE', `${path}: the disk was not read to its end`);
      return {
        format,
        fileBytes,
        capacity: whole.capacity,
        dataBytes: r.dataBytes,
        ...(r.sha256 ? { sha256: r.sha256 } : {}),
        partitionTable: detectPartitionTable(r.head),
      };
    }
  } finally {
    await src.close();
  }
  let used = false;
  const inspection = await inspectOva(createReadStream(path), {
    onDisk: async (_name, disk) => {
      if (used) return; // one disk per conversion; the others are still hashed and verified
      used = true;
      await use(withProgress(disk, opts.onProgress), 'ova');
    },
  });
  const { disks, ...ova } = inspection;
  const first = disks[0];
  if (!first) throw new ImageError('BG_OVA_NO_DISK', `${path}: the OVA holds no disk`);
  return {
    format: 'ova',
    fileBytes,
    capacity: first.capacity,
    dataBytes: first.dataBytes,
    sha256: first.contentSha256,
    partitionTable: first.partitionTable,
    ova,
  };
}

/**
 * `image info`: format, sizes and partition table. Without `hash`, a non-OVA image is described
 * from its metadata only (allocated bytes from the format's map, no data read); with `hash` (and
 * always for an OVA, whose disk can only be streamed) the whole disk is read and hashed.
 */
export async function describeImage(
  path: string,
  opts: OpenOptions & { hash?: boolean } = {},
): Promise<ImageSummary> {
  if (!opts.hash) {
    const src = await fileSource(path);
    try {
      const head = await src.read(0, Math.min(64 * 1024, src.size));
      const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : undefined;
      const format = detectImageFormat(head, src.size, tail);
      if (format !== 'ova') {
        const disk = await openRandomAccess(src, { format });
        const allocated = await mappedDataBytes(disk);
        const first = await disk.read(0, Math.min(disk.capacity, 8192));
        return {
          format,
          fileBytes: src.size,
          capacity: disk.capacity,
          dataBytes: allocated,
          partitionTable: detectPartitionTable(first),
        };
      }
    } finally {
      await src.close();
    }
  }
  return withImageFile(
    path,
    async (disk) => {
      for await (const _ of disk.extents) {
        // the tap measures as extents pass
      }
    },
    opts,
  );
}

/**
 * Whether `convertImage` can convert in chunks (parallel.ts): a local non-OVA image (opened for
 * random access, so each worker reads its own chunks), an output the chunks can be written to, no
 * content hash asked for (SHA-256 is one pass in disk order) and a disk of at least 16 MiB. Worker
 * threads are used when the disk holds enough data to pay for starting them; else the chunks are
 * converted on this thread. Returns what the summary needs from the input, read here.
 */
interface ParallelPlan {
  format: ImageFormat;
  capacity: number;
  fileBytes: number;
  head: Buffer;
  workers: number;
  /**
   * When the chunks run on this thread: the input as the plan opened it, handed to the converter
   * (its grain tables are read and its code is warm). The caller closes it.
   */
  opened?: OpenedInput;
}

async function parallelPlan(
  input: string,
  to: ConvertTarget,
  opts: OpenOptions & ParallelConvertOptions,
): Promise<ParallelPlan | undefined> {
  if (opts.hash || !PARALLEL_TARGETS.has(to)) return undefined;
  // The chunk converter's own source: synchronous reads through a read-ahead window. The plan reads
  // scattered metadata (a 2 GiB VMDK's 64 grain tables), and one libuv round trip per read cost
  // more than the reads (13-30 ms in all).
  let src: ByteSource;
  try {
    src = readAheadFileSource(input);
  } catch {
    src = await fileSource(input); // reports a missing or unreadable file as every reader does
  }
  let keep = false;
  try {
    const head = await src.read(0, Math.min(64 * 1024, src.size));
    const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : undefined;
    const format = detectImageFormat(head, src.size, tail);
    if (format === 'ova') return undefined;
    const disk = await openRandomAccess(src, { format });
    if (disk.capacity < PARALLEL_MIN_CAPACITY) return undefined;
    let workers = opts.workers;
    if (workers === undefined) {
      // threads pay off when there is data to convert: what the format maps as allocated, or for a
      // raw file what the file system holds (holes are free to read)
      let allocated = 0;
      if (format === 'raw') allocated = (await stat(input)).blocks * 512;
      else allocated = await mappedDataBytes(disk);
      workers = allocated >= PARALLEL_MIN_DATA[to as ParallelTarget] ? defaultWorkerCount() : 0;
      if (workers > 1 && to !== 'vmdk-stream' && allocated < src.size * 1.5) {
        // Raw and fixed-VHD outputs are written by this thread alone; reading (and inflating stored
        // or barely compressed grains) is lighter than that writing, so one worker keeps it busy and
        // a second only competes for the cores (profiled, 1 GiB of random grains: the one worker
        // idle 60 % of the time). Well-compressed input inflates slower: it gets them all.
        workers = 1;
      }
    }
    keep = workers === 0 && src.peek !== undefined;
    return {
      format,
      capacity: disk.capacity,
      fileBytes: src.size,
      head: await disk.read(0, Math.min(disk.capacity, 8192)),
      workers,
      ...(keep ? { opened: { src, disk } } : {}),
    };
  } catch (err) {
    keep = false;
    throw err;
  } finally {
    if (!keep) await src.close();
  }
}

/**
 * `image convert`: writes `<output>.part`, then renames it to `output`; on any error the partial
 * file is removed, so a failed conversion leaves nothing behind. Runs on worker threads when it can
 * (see `parallelPlan`), else in one pass on this thread.
 */
export async function convertImage(
  input: string,
  output: string,
  to: ConvertTarget,
  opts: OpenOptions &
    WriteOptions &
    Pick<ParallelConvertOptions, 'workers' | 'chunkBytes' | 'directWrites'> = {},
): Promise<ImageSummary & { outputBytes: number }> {
  const writer = WRITERS[to];
  if (!writer) {
    throw new ImageError(
      'BG_IMAGE_UNSUPPORTED_FORMAT',
      `cannot write "${to}" (supported: ${Object.keys(WRITERS).join(', ')})`,
    );
  }
  const partial = `${output}.part`;
  let outputBytes = 0;
  try {
    const plan = await parallelPlan(input, to, opts);
    if (plan) {
      let r: Awaited<ReturnType<typeof convertInParallel>>;
      try {
        r = await convertInParallel(
          input,
          plan.format,
          plan,
          partial,
          to as ParallelTarget,
          { ...opts, workers: plan.workers },
          plan.opened,
        );
      } finally {
        await plan.opened?.src.close();
      }
      await rename(partial, output);
      return {
        format: plan.format,
        fileBytes: plan.fileBytes,
        capacity: plan.capacity,
        dataBytes: r.dataBytes,
        partitionTable: detectPartitionTable(plan.head),
        outputBytes: r.outputBytes,
      };
    }
    const summary = await withImageFile(
      input,
      async (disk) => {
        outputBytes = await writer(disk, partial, opts);
      },
      opts,
    );
    await rename(partial, output);
    return { ...summary, outputBytes };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
