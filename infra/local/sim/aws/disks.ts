/**
 * Sparse disk files for snapshots and instance volumes.
 *
 * A disk is `<id>.img` (only data extents written, then ftruncated to capacity, so the file is
 * sparse on any filesystem that supports holes) plus `<id>.json` with the capacity and the list of
 * data ranges. Node cannot ask the kernel for holes (no SEEK_DATA), so the range list is how a disk
 * is read back as extents without reading zeros. Memory stays bounded: one chunk at a time.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
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
  }
}
