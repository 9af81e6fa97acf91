/**
 * Raw (sparse file) writer: the file is truncated to the capacity, so it starts as one hole, and
 * only data is written at its offsets; zero extents (and all-zero blocks inside data extents) stay
 * holes. Memory: the extent being written.
 */
import { open, unlink } from 'node:fs/promises';
import { DEFAULT_BLOCK_SIZE, isAllZero, normalizeExtents, type DiskStream } from './extents';

export interface RawWriterOptions {
  /** Also leave all-zero blocks of data extents as holes (default true). */
  zeroDetect?: boolean;
  /** Zero detection granularity (default 64 KiB). */
  blockSize?: number;
}

/**
 * Writes `disk` to `path` as a raw image with holes. Returns the bytes written (the data). On
 * failure the partial file is removed and the error rethrown.
 */
export async function writeRawSparse(
  disk: DiskStream,
  path: string,
  opts: RawWriterOptions = {},
): Promise<number> {
  const zeroDetect = opts.zeroDetect ?? true;
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  const fh = await open(path, 'w');
  let written = 0;
  let ok = false;
  try {
    await fh.truncate(disk.capacity);
    for await (const e of normalizeExtents(disk.extents, disk.capacity, `raw image ${path}`)) {
      if (e.kind === 'zero') continue;
      if (!zeroDetect) {
        await writeAll(e.data, e.offset);
        continue;
      }
      // write runs of non-zero blocks, aligned to blockSize in the virtual disk
      let runStart = -1;
      let off = 0;
      while (off < e.data.length) {
        const next = Math.min(e.data.length, off + blockSize - ((e.offset + off) % blockSize));
        const zero = isAllZero(e.data.subarray(off, next));
        if (!zero && runStart < 0) runStart = off;
        if (zero && runStart >= 0) {
          await writeAll(e.data.subarray(runStart, off), e.offset + runStart);
          runStart = -1;
        }
        off = next;
      }
      if (runStart >= 0) await writeAll(e.data.subarray(runStart), e.offset + runStart);
    }
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(path).catch(() => undefined);
  }
  return written;

  async function writeAll(buf: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
    written += buf.length;
  }
}
