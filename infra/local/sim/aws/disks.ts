/**
 * Sparse disk files for snapshots and instance volumes.
 *
 * A disk is `<id>.img` (only data extents written, then ftruncated to capacity, so the file is
 * sparse on any filesystem that supports holes) plus `<id>.json` with the capacity and the list of
 * data ranges. Node cannot ask the kernel for holes (no SEEK_DATA), so the range list is how a disk
 * is read back as extents without reading zeros. Memory stays bounded: one chunk at a time.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, truncate } from 'node:fs/promises';
import { join } from 'node:path';

import { isAllZero, type DiskExtent, type DiskStream } from '../../../../shared/images';

const BLOCK = 64 * 1024;
const READ_CHUNK = 1024 * 1024;

export interface DiskMeta {
  capacity: number;
  dataBytes: number;
  /** Sorted, non-overlapping, non-adjacent [start, end) byte ranges that hold data. */
  ranges: [number, number][];
}

type Ranges = [number, number][];

/**
 * `base` with every window [start, end) replaced by that window's `add` ranges (sorted, inside the
 * window). Windows are sorted and do not overlap. One pass over both lists, so overlaying all the
 * blocks of a snapshot costs O(ranges + blocks), not O(ranges × blocks).
 */
export function overlayRanges(
  base: readonly (readonly [number, number])[],
  windows: readonly { start: number; end: number; add: readonly (readonly [number, number])[] }[],
): Ranges {
  const out: Ranges = [];
  const push = (s: number, e: number) => {
    if (e <= s) return;
    const last = out[out.length - 1];
    if (last && last[1] >= s) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  };
  let i = 0;
  const emitBase = (from: number, to: number) => {
    while (i < base.length && (base[i] as [number, number])[1] <= from) i++;
    for (let j = i; j < base.length; j++) {
      const [s, e] = base[j] as [number, number];
      if (s >= to) break;
      push(Math.max(s, from), Math.min(e, to));
    }
  };
  let cursor = 0;
  for (const w of windows) {
    emitBase(cursor, w.start);
    for (const [s, e] of w.add) push(s, e);
    cursor = w.end;
  }
  emitBase(cursor, Infinity);
  return out;
}

/** The non-zero 64 KiB-grid pieces of `data` written at `offset`, as absolute ranges. */
export function dataRanges(offset: number, data: Buffer): Ranges {
  const out: Ranges = [];
  for (let off = 0; off < data.length;) {
    const abs = offset + off;
    const end = Math.min(data.length, off + (BLOCK - (abs % BLOCK)));
    if (!isAllZero(data.subarray(off, end))) {
      const last = out[out.length - 1];
      if (last && last[1] === abs) last[1] = offset + end;
      else out.push([abs, offset + end]);
    }
    off = end;
  }
  return out;
}

function sumRanges(ranges: Ranges): number {
  return ranges.reduce((n, [s, e]) => n + e - s, 0);
}

export interface WriteDiskOptions {
  signal?: AbortSignal;
  /** How many leading bytes `onHead` receives (default 64 KiB, capped at the capacity). */
  headBytes?: number;
  /** Called once, as soon as the first `headBytes` bytes are known; a throw aborts the write. */
  onHead?: (head: Buffer) => void | Promise<void>;
  /** Called with the number of bytes of virtual disk consumed so far. */
  onProgress?: (consumed: number) => void;
}

export class DiskStore {
  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  imgPath(id: string): string {
    return join(this.dir, `${id}.img`);
  }

  private metaPath(id: string): string {
    return join(this.dir, `${id}.json`);
  }

  /** A file next to the disk that belongs to it (block maps, journals); removed with the disk. */
  sidecarPath(id: string, ext: 'blocks.json' | 'journal'): string {
    return join(this.dir, `${id}.${ext}`);
  }

  exists(id: string): boolean {
    return existsSync(this.metaPath(id));
  }

  meta(id: string): DiskMeta {
    return JSON.parse(readFileSync(this.metaPath(id), 'utf8')) as DiskMeta;
  }

  /** Writes a DiskStream as a sparse file; all-zero 64 KiB blocks inside data extents are skipped. */
  async write(id: string, disk: DiskStream, opts: WriteDiskOptions = {}): Promise<DiskMeta> {
    await this.init();
    this.remove(id);
    const capacity = disk.capacity;
    const headLen = Math.min(opts.headBytes ?? 64 * 1024, capacity);
    const head = Buffer.alloc(headLen);
    let headDone = false;
    const ranges: [number, number][] = [];
    let dataBytes = 0;
    const addRange = (start: number, end: number) => {
      const last = ranges[ranges.length - 1];
      if (last && last[1] === start) last[1] = end;
      else ranges.push([start, end]);
      dataBytes += end - start;
    };
    const tmpImg = this.imgPath(id) + '.partial';
    const fh = await open(tmpImg, 'w');
    try {
      for await (const e of disk.extents as AsyncIterable<DiskExtent>) {
        opts.signal?.throwIfAborted();
        const len = e.kind === 'data' ? e.data.length : e.length;
        if (!headDone && e.offset >= headLen) {
          headDone = true;
          await opts.onHead?.(head);
        }
        if (e.kind === 'data') {
          if (e.offset < headLen) e.data.copy(head, e.offset, 0, Math.min(len, headLen - e.offset));
          for (let off = 0; off < len;) {
            // align sub-blocks to the disk's 64 KiB grid so holes line up across copies
            const abs = e.offset + off;
            const end = Math.min(len, off + (BLOCK - (abs % BLOCK)));
            const part = e.data.subarray(off, end);
            if (!isAllZero(part)) {
              await fh.write(part, 0, part.length, abs);
              addRange(abs, abs + part.length);
            }
            off = end;
          }
        }
        opts.onProgress?.(e.offset + len);
      }
      if (!headDone) await opts.onHead?.(head);
      await fh.truncate(capacity);
      await fh.sync();
    } catch (err) {
      await fh.close();
      rmSync(tmpImg, { force: true });
      throw err;
    }
    await fh.close();
    const meta: DiskMeta = { capacity, dataBytes, ranges };
    renameSync(tmpImg, this.imgPath(id));
    writeFileSync(this.metaPath(id), JSON.stringify(meta));
    return meta;
  }

  /** Replaces a disk's metadata atomically (the ranges must describe the bytes in its file). */
  writeMeta(id: string, capacity: number, ranges: Ranges): DiskMeta {
    const meta: DiskMeta = { capacity, dataBytes: sumRanges(ranges), ranges };
    const tmp = `${this.metaPath(id)}.tmp`;
    writeFileSync(tmp, JSON.stringify(meta));
    renameSync(tmp, this.metaPath(id));
    return meta;
  }

  /** An all-zero disk: a sparse file of `capacity` bytes and no data ranges. */
  async createEmpty(id: string, capacity: number): Promise<DiskMeta> {
    await this.init();
    this.remove(id);
    const fh = await open(this.imgPath(id), 'w');
    try {
      await fh.truncate(capacity);
    } finally {
      await fh.close();
    }
    return this.writeMeta(id, capacity, []);
  }

  /** Makes a disk larger; the new tail reads as zeros (a volume bigger than its snapshot). */
  async grow(id: string, capacity: number): Promise<DiskMeta> {
    const meta = this.meta(id);
    if (capacity <= meta.capacity) return meta;
    await truncate(this.imgPath(id), capacity);
    return this.writeMeta(id, capacity, meta.ranges);
  }

  /**
   * Writes bytes into the disk file without touching its ranges: the caller records what holds data
   * (EBS blocks are journalled first and their ranges computed when the snapshot is sealed).
   */
  async writeBytes(id: string, offset: number, data: Buffer): Promise<void> {
    const fh = await open(this.imgPath(id), 'r+');
    try {
      await fh.write(data, 0, data.length, offset);
    } finally {
      await fh.close();
    }
  }

  /**
   * A write into a live disk (a guest writing to its volume): the bytes land in the file and the
   * data ranges over [offset, offset + length) are replaced by the non-zero parts of `data`.
   */
  async writeData(id: string, offset: number, data: Buffer): Promise<DiskMeta> {
    const meta = this.meta(id);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > meta.capacity) {
      throw new Error(
        `disk ${id}: write of ${data.length} bytes at ${offset} is outside its ${meta.capacity} bytes`,
      );
    }
    const add = dataRanges(offset, data);
    for (const [s, e] of add) await this.writeBytes(id, s, data.subarray(s - offset, e - offset));
    const ranges = overlayRanges(meta.ranges, [{ start: offset, end: offset + data.length, add }]);
    return this.writeMeta(id, meta.capacity, ranges);
  }

  /** `length` bytes at `offset`; bytes outside the data ranges (and past the end) read as zeros. */
  async readAt(id: string, offset: number, length: number): Promise<Buffer> {
    const meta = this.meta(id);
    const out = Buffer.alloc(length);
    const end = offset + length;
    const fh = await open(this.imgPath(id), 'r');
    try {
      for (const [s, e] of meta.ranges) {
        if (e <= offset) continue;
        if (s >= end) break;
        const from = Math.max(s, offset);
        const to = Math.min(e, end);
        let got = 0;
        while (got < to - from) {
          const { bytesRead } = await fh.read(out, from - offset + got, to - from - got, from + got);
          if (bytesRead === 0) throw new Error(`disk ${id}: file ends before byte ${to}`);
          got += bytesRead;
        }
      }
    } finally {
      await fh.close();
    }
    return out;
  }

  /** Reads a stored disk back as a DiskStream (contiguous extents covering [0, capacity)). */
  read(id: string): DiskStream {
    const meta = this.meta(id);
    const path = this.imgPath(id);
    async function* gen(): AsyncGenerator<DiskExtent> {
      const fh = await open(path, 'r');
      try {
        let pos = 0;
        for (const [start, end] of meta.ranges) {
          if (start > pos) yield { kind: 'zero', offset: pos, length: start - pos };
          for (let off = start; off < end; off += READ_CHUNK) {
            const n = Math.min(READ_CHUNK, end - off);
            const buf = Buffer.allocUnsafe(n);
            let got = 0;
            while (got < n) {
              const { bytesRead } = await fh.read(buf, got, n - got, off + got);
              if (bytesRead === 0) throw new Error(`disk ${id}: file ends before byte ${off + n}`);
              got += bytesRead;
            }
            yield { kind: 'data', offset: off, data: buf };
          }
          pos = end;
        }
        if (pos < meta.capacity) yield { kind: 'zero', offset: pos, length: meta.capacity - pos };
      } finally {
        await fh.close();
      }
    }
    return { capacity: meta.capacity, extents: gen() };
  }

  /** A sparse copy: only the data ranges are read and written. */
  async copy(srcId: string, dstId: string): Promise<DiskMeta> {
    return this.write(dstId, this.read(srcId));
  }

  rename(srcId: string, dstId: string): void {
    renameSync(this.imgPath(srcId), this.imgPath(dstId));
    renameSync(this.metaPath(srcId), this.metaPath(dstId));
  }

  remove(id: string): void {
    rmSync(this.metaPath(id), { force: true });
    rmSync(this.imgPath(id), { force: true });
    rmSync(this.imgPath(id) + '.partial', { force: true });
    rmSync(`${this.metaPath(id)}.tmp`, { force: true });
    rmSync(this.sidecarPath(id, 'blocks.json'), { force: true });
    rmSync(this.sidecarPath(id, 'journal'), { force: true });
  }
}
