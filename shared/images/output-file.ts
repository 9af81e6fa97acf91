/**
 * How a conversion's data runs are written at their disk offsets (raw and fixed-VHD outputs, one
 * writing thread: parallel.ts). The policy is fixed, one path per kind of run (README.md, "I/O
 * policy"):
 *
 *   - a run of at least DIRECT_MIN_BYTES whose file offset, length and memory offset are multiples
 *     of DIRECT_ALIGN: O_DIRECT, around the page cache;
 *   - every other run (shorter ones, the disk's unaligned last run), and every run when the file
 *     system refuses O_DIRECT (tmpfs): the page cache.
 *
 * Why O_DIRECT for the long runs: on the VMs measured here a buffered write's cost depends on
 * whether the page-cache pages the kernel hands out are backed by the host yet, which changes from
 * one run to the next (`dd` of 1 GiB in 4 MiB writes: 0.20-1.95 s through the page cache, median
 * 1.15 s; 0.47-0.58 s with O_DIRECT). The built CLI, VMDK-stream → VHD-fixed, medians of 7
 * interleaved runs: 1.66 s with O_DIRECT against 3.10 s through the page cache on 1 GiB random,
 * 0.41 s against 0.43 s on 2 GiB sparse.
 * Why not for short runs: O_DIRECT waits for the device on every write (`dd` of 128 MiB in 64 KiB
 * O_DIRECT writes: 0.24-0.31 s, in 4 MiB ones 0.08-0.22 s), while the page cache only copies.
 *
 * An O_DIRECT write refused with EINVAL (an alignment the file system wants and JavaScript cannot
 * see) is written through the page cache instead, and so is every later run. Buffered and direct
 * runs never share a page: direct ones are whole pages. What went through the page cache reaches the
 * disk when the kernel writes it back, as with `cp` or `qemu-img`.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** What the writer needs of an open file (a FileHandle; tests pass their own). */
export interface WritableFile {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  close(): Promise<void>;
}

export type WritePath = 'buffered' | 'direct';

/** O_DIRECT needs the file offset, the length and the memory aligned to the device's block. */
export const DIRECT_ALIGN = 4096;
/** Runs at least this long go around the page cache (when aligned). */
export const DIRECT_MIN_BYTES = 1024 * 1024;

/** The path the policy gives a run of `length` bytes from memory offset `from` to file offset `at`. */
export function writePathFor(from: number, length: number, at: number): WritePath {
  const aligned = at % DIRECT_ALIGN === 0 && length % DIRECT_ALIGN === 0 && from % DIRECT_ALIGN === 0;
  return aligned && length >= DIRECT_MIN_BYTES ? 'direct' : 'buffered';
}

export class OutputFileWriter {
  private direct: WritableFile | undefined;
  /** Bytes written each way: for tests and reports. */
  readonly written: Record<WritePath, number> = { buffered: 0, direct: 0 };

  /**
   * `buffered` is the output file (the caller's: it stays open); `direct` the same file opened with
   * O_DIRECT (see openDirectOutput), or undefined where that is not possible.
   */
  constructor(
    private readonly buffered: WritableFile,
    direct: WritableFile | undefined,
  ) {
    this.direct = direct;
  }

  /**
   * Writes data[from, from+length) at `at` in the file. `data` must not change until it resolves.
   * Its memory counts as aligned where its offset in its ArrayBuffer is: true of the page-aligned
   * buffers of aligned.ts; any other buffer O_DIRECT may refuse (then the page cache takes it).
   */
  async write(data: Buffer, from: number, length: number, at: number): Promise<void> {
    if (this.direct && writePathFor(data.byteOffset + from, length, at) === 'direct') {
      try {
        await writeAll(this.direct, data, from, length, at);
        this.written.direct += length;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        this.dropDirect();
      }
    }
    await writeAll(this.buffered, data, from, length, at);
    this.written.buffered += length;
  }

  /** Closes the O_DIRECT handle (the buffered one is the caller's). */
  async close(): Promise<void> {
    const d = this.direct;
    this.direct = undefined;
    await d?.close();
  }

  private dropDirect(): void {
    void this.direct?.close().catch(() => undefined);
    this.direct = undefined;
  }
}

async function writeAll(
  f: WritableFile,
  data: Buffer,
  from: number,
  length: number,
  at: number,
): Promise<void> {
  for (let done = 0; done < length;) {
    const { bytesWritten } = await f.write(data, from + done, length - done, at + done);
    done += bytesWritten;
  }
}

/** `path` opened a second time with O_DIRECT, or undefined where the file system refuses it (tmpfs). */
export async function openDirectOutput(path: string): Promise<FileHandle | undefined> {
  try {
    return await open(path, constants.O_WRONLY | constants.O_DIRECT);
  } catch {
    return undefined;
  }
}
