/**
 * qcow2 version 3 writer, one pass over a DiskStream with bounded memory.
 *
 * Why the head comes last: the header at byte 0 must hold the offsets of the L1 and refcount
 * tables, and the L1 table must hold the offsets of the L2 tables, which depend on how many data
 * clusters precede them — unknown until the disk has been read. So the file is laid out as
 *
 *   head  = header cluster | L1 table | refcount table      (sizes from the capacity alone)
 *   body  = per L2 span: its data clusters (compressed ones packed byte-wise), then its L2 table;
 *           a refcount block each time the body passes the range one block covers; the last
 *           refcount block at the end
 *
 * and produced as a body (streamed, in file order from `headSize`) plus a head (built at the end).
 * `writeQcow2File` writes both to a file; `writeQcow2` yields the whole file in order by spooling
 * the body to a temporary file. Host clusters are allocated in order without gaps, each used once
 * (compressed clusters: once per compressed cluster touching it), so the refcounts are exact.
 * Memory: one cluster, one L2 table, one refcount block, the L1 and refcount tables.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflateRaw, type ZlibOptions } from 'node:zlib';
import { ImageError } from './errors';
import { isAllZero, normalizeExtents, zeros, type DiskStream } from './extents';
import { QCOW2_MAGIC } from './qcow2';

const deflateRawP = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

const TWO_32 = 0x1_0000_0000;
const COPIED = 0x8000_0000; // bit 63: refcount exactly one
const COMPRESSED = 0x4000_0000; // bit 62
const HEADER_LENGTH = 112; // v3 header with the compression_type byte, padded to 8
const MAX_L1_ENTRIES = 4 * 1024 * 1024; // as the reader's default limit (and qemu's)
const MAX_CAPACITY = 64 * 1024 * 1024 * 1024 * 1024;

export interface Qcow2WriteOptions {
  /** log2 of the cluster size, 9..21 (default 16: 64 KiB clusters, as qemu-img). */
  clusterBits?: number;
  /**
   * Compress data clusters with raw deflate, as `qemu-img convert -c`; a cluster that does not
   * shrink is stored as it is.
   */
  compress?: boolean;
  /** zlib level when compressing (default 6). */
  compressionLevel?: number;
}

export interface Qcow2Parts {
  /** Bytes of the head (header, L1 table, refcount table); the body starts at this file offset. */
  readonly headSize: number;
  /** File bytes [headSize, end), in order. Consumed once. */
  readonly body: AsyncIterable<Buffer>;
  /** File bytes [0, headSize). Only once `body` has been consumed to its end. */
  head(): Buffer;
}

interface Layout {
  C: number;
  clusterBits: number;
  l2Entries: number;
  l1Entries: number;
  l1Clusters: number;
  /** Refcount entries per refcount block (16-bit refcounts). */
  B: number;
  rtEntries: number;
  rtClusters: number;
  headClusters: number;
}

function layout(capacity: number, clusterBits: number): Layout {
  const C = 2 ** clusterBits;
  const l2Entries = C / 8;
  const l1Entries = Math.ceil(capacity / (C * l2Entries));
  if (l1Entries > MAX_L1_ENTRIES) {
    throw new ImageError(
      'BG_QCOW2_LIMIT',
      `writeQcow2: a ${capacity}-byte disk needs ${l1Entries} L1 entries with ${C}-byte clusters (at most ${MAX_L1_ENTRIES}); use larger clusters`,
    );
  }
  const l1Clusters = Math.ceil((l1Entries * 8) / C);
  const B = C / 2;
  // Worst case: every cluster holds data and every span has an L2 table. Refcount blocks count
  // themselves, and the refcount table's own size depends on their number: iterate to a fixed point.
  let rtClusters = 1;
  for (;;) {
    const headClusters = 1 + l1Clusters + rtClusters;
    const withoutBlocks = headClusters + Math.ceil(capacity / C) + l1Entries;
    let blocks = Math.ceil(withoutBlocks / B);
    while (blocks < Math.ceil((withoutBlocks + blocks) / B)) blocks++;
    const need = Math.max(1, Math.ceil((blocks * 8) / C));
    if (need <= rtClusters) {
      return {
        C,
        clusterBits,
        l2Entries,
        l1Entries,
        l1Clusters,
        B,
        rtEntries: (rtClusters * C) / 8,
        rtClusters,
        headClusters,
      };
    }
    rtClusters = need;
  }
}

function writeU64(buf: Buffer, off: number, hi: number, lo: number): void {
  buf.writeUInt32BE(hi >>> 0, off);
  buf.writeUInt32BE(lo >>> 0, off + 4);
}

function hiLo(n: number): { hi: number; lo: number } {
  return { hi: Math.floor(n / TWO_32), lo: n % TWO_32 };
}

/** The qcow2 file as a body (streamed) and a head (built after the body); see the module comment. */
export function qcow2Parts(disk: DiskStream, opts: Qcow2WriteOptions = {}): Qcow2Parts {
  const clusterBits = opts.clusterBits ?? 16;
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `writeQcow2: clusterBits must be 9..21, got ${clusterBits}`,
    );
  }
  const capacity = disk.capacity;
  if (!Number.isSafeInteger(capacity) || capacity < 0 || capacity > MAX_CAPACITY) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `writeQcow2: capacity must be 0..64 TiB, got ${capacity}`,
    );
  }
  // Like qemu-img, a whole number of sectors: qemu reads a qcow2 size as size / 512 sectors and
  // would drop a partial last sector. The bytes past the capacity read as zeros.
  const virtualSize = Math.ceil(capacity / 512) * 512;
  const L = layout(virtualSize, clusterBits);
  const { C, B, l2Entries } = L;
  const H = L.headClusters;
  const headSize = H * C;
  const l1 = Buffer.alloc(L.l1Clusters * C);
  const rtOffsets: number[] = [];
  const compressOpts: ZlibOptions = { level: opts.compressionLevel ?? 6 };
  // Compressed descriptor: offset below bit x, additional sectors from bit x (x = 62 - (cb - 8)).
  const x32 = 62 - (clusterBits - 8) - 32;
  const maxCompressedOffset = 2 ** (x32 + 32);
  let done = false;

  async function* body(): AsyncGenerator<Buffer> {
    let pos = headSize;
    let win = 0; // the next refcount block to write covers clusters [win * B, (win + 1) * B)
    const pending = new Map<number, number>(); // refcounts of body clusters not yet in a block
    const inc = (cluster: number): void => {
      pending.set(cluster, (pending.get(cluster) ?? 0) + 1);
    };
    const countOf = (cluster: number): number => (cluster < H ? 1 : (pending.get(cluster) ?? 0));

    function* pad(): Generator<Buffer> {
      const r = pos % C;
      if (r !== 0) {
        yield zeros(C - r);
        pos += C - r;
      }
    }
    function* writeBlock(): Generator<Buffer> {
      inc(pos / C); // the block counts in whichever block covers it (this one, at the end)
      const block = Buffer.alloc(C);
      for (let i = 0; i < B; i++) {
        const c = win * B + i;
        const n = countOf(c);
        if (n !== 0) block.writeUInt16BE(n, i * 2);
        pending.delete(c);
      }
      if (win >= L.rtEntries) throw new Error('writeQcow2: refcount table overflow (layout bug)');
      rtOffsets[win] = pos;
      win++;
      yield block;
      pos += C;
    }
    /** Writes the refcount blocks whose clusters are all final (before the cluster `pos` is in). */
    function* flushReady(): Generator<Buffer> {
      while ((win + 1) * B <= Math.floor(pos / C)) {
        yield* pad();
        yield* writeBlock();
      }
    }

    let l2: Buffer | undefined;
    let span = -1;
    function* finishSpan(): Generator<Buffer> {
      if (!l2) return;
      yield* pad();
      inc(pos / C);
      const { hi, lo } = hiLo(pos);
      writeU64(l1, span * 8, (COPIED | hi) >>> 0, lo);
      yield l2;
      pos += C;
      l2 = undefined;
      yield* flushReady();
    }

    async function* emitCluster(index: number, data: Buffer): AsyncGenerator<Buffer> {
      if (isAllZero(data)) return; // stays unallocated
      const s = Math.floor(index / l2Entries);
      if (s !== span) {
        yield* finishSpan();
        span = s;
        l2 = Buffer.alloc(C);
      }
      const entryAt = (index % l2Entries) * 8;
      const packed = opts.compress ? await deflateRawP(data, compressOpts) : undefined;
      if (packed && packed.length < C && pos + packed.length < maxCompressedOffset) {
        const start = pos;
        const end = start + packed.length;
        const lastCluster = Math.floor((Math.ceil(end / 512) * 512 - 1) / C);
        for (let c = Math.floor(start / C); c <= lastCluster; c++) inc(c);
        const extraSectors = Math.floor((end - 1) / 512) - Math.floor(start / 512);
        const { hi, lo } = hiLo(start);
        writeU64(l2!, entryAt, (COMPRESSED | (extraSectors * 2 ** x32) | hi) >>> 0, lo);
        yield packed;
        pos = end;
      } else {
        yield* pad();
        inc(pos / C);
        const { hi, lo } = hiLo(pos);
        writeU64(l2!, entryAt, (COPIED | hi) >>> 0, lo);
        yield data;
        pos += C;
      }
      yield* flushReady();
    }

    yield* flushReady(); // refcount blocks that cover only the head (tiny clusters, big L1)
    let cur = -1;
    let cbuf: Buffer = Buffer.alloc(0);
    for await (const e of normalizeExtents(disk.extents, capacity, 'writeQcow2')) {
      if (e.kind === 'zero') {
        if (cur >= 0 && e.offset + e.length > (cur + 1) * C) {
          yield* emitCluster(cur, cbuf);
          cur = -1;
        }
        continue;
      }
      const end = e.offset + e.data.length;
      let off = e.offset;
      while (off < end) {
        const ci = Math.floor(off / C);
        const stop = Math.min((ci + 1) * C, end);
        if (ci !== cur) {
          if (cur >= 0) yield* emitCluster(cur, cbuf);
          cur = ci;
          if (off === ci * C && stop - off === C) {
            // a whole cluster in the extent: no copy
            cbuf = e.data.subarray(off - e.offset, stop - e.offset);
            off = stop;
            continue;
          }
          cbuf = Buffer.alloc(C);
        }
        e.data.copy(cbuf, off - ci * C, off - e.offset, stop - e.offset);
        off = stop;
      }
    }
    if (cur >= 0) yield* emitCluster(cur, cbuf);
    yield* finishSpan();
    yield* pad();
    yield* flushReady();
    yield* writeBlock(); // the last block, which covers itself
    done = true;
  }

  function head(): Buffer {
    if (!done)
      throw new ImageError('BG_IMAGE_STREAM_STATE', 'writeQcow2: head() before the body was consumed');
    const out = Buffer.alloc(headSize);
    out.writeUInt32BE(QCOW2_MAGIC, 0);
    out.writeUInt32BE(3, 4);
    out.writeUInt32BE(clusterBits, 20);
    const size = hiLo(virtualSize);
    writeU64(out, 24, size.hi, size.lo);
    out.writeUInt32BE(L.l1Entries, 36);
    if (L.l1Entries > 0) writeU64(out, 40, 0, C);
    const rtOffset = hiLo((1 + L.l1Clusters) * C);
    writeU64(out, 48, rtOffset.hi, rtOffset.lo);
    out.writeUInt32BE(L.rtClusters, 56);
    out.writeUInt32BE(4, 96); // refcount_order: 16-bit refcounts
    out.writeUInt32BE(HEADER_LENGTH, 100);
    // byte 104 compression_type 0 (zlib); no header extensions (the end marker is zeros)
    l1.copy(out, C);
    const rt = (1 + L.l1Clusters) * C;
    rtOffsets.forEach((o, i) => {
      const { hi, lo } = hiLo(o);
      writeU64(out, rt + i * 8, hi, lo);
    });
    return out;
  }

  return { headSize, body: body(), head };
}

/** Writes the disk as a qcow2 file at `path` (body first, then the head at offset 0). */
export async function writeQcow2File(
  disk: DiskStream,
  path: string,
  opts: Qcow2WriteOptions = {},
): Promise<{ bytes: number }> {
  const parts = qcow2Parts(disk, opts);
  const fh = await open(path, 'w');
  try {
    let pos = parts.headSize;
    for await (const chunk of parts.body) {
      await fh.write(chunk, 0, chunk.length, pos);
      pos += chunk.length;
    }
    const head = parts.head();
    await fh.write(head, 0, head.length, 0);
    return { bytes: pos };
  } finally {
    await fh.close();
  }
}

/**
 * The qcow2 file in order, from byte 0. The head can only be built after the whole disk has been
 * read, so the body is spooled to a temporary file (in `tmpDir`, default the OS's) and streamed
 * after the head; memory stays bounded, disk use is the output's size. Prefer `writeQcow2File`
 * or `qcow2Parts` when the sink can take the head last.
 */
export async function* writeQcow2(
  disk: DiskStream,
  opts: Qcow2WriteOptions & { tmpDir?: string } = {},
): AsyncGenerator<Buffer> {
  const parts = qcow2Parts(disk, opts);
  const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'bg-qcow2-'));
  try {
    const spool = join(dir, 'body');
    const fh = await open(spool, 'w');
    try {
      for await (const chunk of parts.body) await fh.write(chunk);
    } finally {
      await fh.close();
    }
    yield parts.head();
    for await (const chunk of createReadStream(spool, { highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
