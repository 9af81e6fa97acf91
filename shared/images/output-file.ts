/**
 * Where a conversion's data runs go when they are written at their disk offsets (raw and fixed-VHD
 * outputs): through the page cache, or around it with O_DIRECT — chosen write by write, by which
 * has been faster in this conversion.
 *
 * Why both: on the VMs measured here, what a buffered write costs depends on whether the fresh
 * page-cache pages the kernel hands out are backed by the host yet. 128 MiB in 4 MiB writes took
 * 58-66 ms in one run and 558 ms in the next (1.7 ms or 18 ms per write, the same all through a
 * run), while O_DIRECT took 143-191 ms in every run (4-6 ms per write); 1 GiB buffered took 0.4 s or
 * 3-3.5 s of system time, O_DIRECT 0.65-0.95 s. Always-direct is steady but gives up the fast runs;
 * always-buffered is 3-10× slower in the slow ones, and a run can turn from fast to slow halfway
 * (the warm pages used up). So the page cache is written in timed pieces of 1 MiB while it is the
 * faster; once a piece costs more per byte than O_DIRECT did, the rest of the run goes around it.
 * Both paths are timed at first and again every `probeEvery` runs (a 1 MiB write each), to notice
 * when things change. Timed writes are synchronous: the time an asynchronous write takes to be
 * seen done includes whatever this thread did meanwhile (decompressing the next chunk), which made
 * buffered writes look 5-10× slower than they were; O_DIRECT's bulk stays asynchronous, so the next
 * chunk is read while it is written. Measured on a 2 GiB sparse VMDK → fixed VHD (128 MiB of data),
 * 8 runs each, alternating: 190-282 ms (median 235) this way, 233-403 ms with a timed probe and the
 * rest written asynchronously, 285-362 ms always-direct; qemu-img 257-426 ms.
 *
 * Buffered bytes are bounded (`bufferedBudget`): past that a long conversion writes around the page
 * cache, so it neither fills memory with dirty pages nor evicts everything else from the cache (the
 * kernel's dirty-page throttling would also show up as slow buffered writes, and switch it). What
 * was written buffered reaches the disk when the kernel writes it back, as with `cp` or `qemu-img`.
 * Buffered and direct writes never touch the same page: direct ones are page-aligned whole runs.
 */
import { constants, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { totalmem } from 'node:os';

/** What the writer needs of an open file (see `writableFile`; tests pass their own). */
export interface WritableFile {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  /** The same, blocking this thread: for the timed writes. */
  writeSync(buffer: Buffer, offset: number, length: number, position: number): number;
  close(): Promise<void>;
}

/** A FileHandle as a WritableFile. */
export function writableFile(fh: FileHandle): WritableFile {
  return {
    write: (b, o, l, p) => fh.write(b, o, l, p),
    writeSync: (b, o, l, p) => writeSync(fh.fd, b, o, l, p),
    close: () => fh.close(),
  };
}

export interface OutputWriterOptions {
  /**
   * Bytes written through the page cache at the most; then O_DIRECT wherever the run allows it.
   * Default: 1/16 of the machine's memory, at most 1 GiB. 0: always direct where possible.
   */
  bufferedBudget?: number;
  /** Both paths are timed again every this many runs that could go either way (default 16). */
  probeEvery?: number;
  /** Milliseconds, for the costs (default performance.now). */
  now?: () => number;
}

export type WritePath = 'buffered' | 'direct';

/** O_DIRECT needs the offset, the length and the memory aligned to the device's block. */
export const DIRECT_ALIGN = 4096;
/** Bytes of a timed write: a probe, or a piece of a run written through the page cache. */
const PIECE = 1024 * 1024;
/** Runs shorter than this are not probed: the probes would be all of them. */
const MIN_PROBE_RUN = 2 * PIECE;

export function defaultBufferedBudget(): number {
  return Math.min(1024 * 1024 * 1024, Math.floor(totalmem() / 16));
}

/**
 * Recent cost of one path in ms per byte: a new sample weighs half (one slow piece does not switch
 * paths on its own), and a probe after a pause replaces what is known (it may be long out of date).
 */
class PathCost {
  perByte = 0;
  samples = 0;
  add(ms: number, bytes: number, fresh: boolean): void {
    const c = ms / bytes;
    this.perByte = this.samples === 0 || fresh ? c : (this.perByte + c) / 2;
    this.samples++;
  }
}

export class OutputFileWriter {
  private direct: WritableFile | undefined;
  private readonly costs: Record<WritePath, PathCost> = { buffered: new PathCost(), direct: new PathCost() };
  private readonly budget: number;
  private readonly probeEvery: number;
  private readonly now: () => number;
  private bufferedBytes = 0;
  /** Runs that could go either way, for the probes' rhythm. */
  private runs = 0;
  /** Bytes written each way: for tests and reports. */
  readonly written: Record<WritePath, number> = { buffered: 0, direct: 0 };

  /** `direct` is the same file opened with O_DIRECT, or undefined where that is not possible. */
  constructor(
    private readonly buffered: WritableFile,
    direct: WritableFile | undefined,
    opts: OutputWriterOptions = {},
  ) {
    this.direct = direct;
    this.budget = opts.bufferedBudget ?? defaultBufferedBudget();
    this.probeEvery = Math.max(2, opts.probeEvery ?? 16);
    this.now = opts.now ?? (() => performance.now());
  }

  /** Writes data[from, from+length) at `at` in the file. `data` must not change until it resolves. */
  async write(data: Buffer, from: number, length: number, at: number): Promise<void> {
    if (!this.eligible(from, length, at)) return this.writeBy('buffered', data, from, length, at);
    if (this.bufferedBytes + length > this.budget) return this.writeBy('direct', data, from, length, at);
    let done = 0;
    if (length >= MIN_PROBE_RUN && this.runs++ % this.probeEvery === 0) {
      // both timed again, whichever is the faster now
      for (const path of ['direct', 'buffered'] as const) {
        if (this.probe(path, data, from + done, PIECE, at + done, true)) done += PIECE;
      }
    }
    // through the page cache in timed pieces while that is the faster; the rest around it
    while (done < length && this.faster() === 'buffered') {
      const n = Math.min(PIECE, length - done);
      this.probe('buffered', data, from + done, n, at + done, false);
      done += n;
    }
    if (done < length) await this.writeBy(this.faster(), data, from + done, length - done, at + done);
  }

  /** Closes the O_DIRECT handle (the buffered one is the caller's). */
  async close(): Promise<void> {
    const d = this.direct;
    this.direct = undefined;
    await d?.close();
  }

  private eligible(from: number, length: number, at: number): boolean {
    return (
      this.direct !== undefined &&
      at % DIRECT_ALIGN === 0 &&
      length % DIRECT_ALIGN === 0 &&
      from % DIRECT_ALIGN === 0
    );
  }

  /** A timed synchronous write; false when O_DIRECT was refused (nothing written, buffered from now on). */
  private probe(
    path: WritePath,
    data: Buffer,
    from: number,
    length: number,
    at: number,
    fresh: boolean,
  ): boolean {
    const file = path === 'direct' ? this.direct! : this.buffered;
    const t0 = this.now();
    try {
      for (let done = 0; done < length;) done += file.writeSync(data, from + done, length - done, at + done);
    } catch (err) {
      if (path !== 'direct' || (err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      this.dropDirect();
      return false;
    }
    this.costs[path].add(Math.max(this.now() - t0, 1e-6), length, fresh);
    this.count(path, length);
    return true;
  }

  private async writeBy(path: WritePath, data: Buffer, from: number, length: number, at: number) {
    if (path === 'direct') {
      try {
        await writeAll(this.direct!, data, from, length, at);
        this.count('direct', length);
        return;
      } catch (err) {
        // EINVAL: an alignment the file system wants and JavaScript cannot see; buffered from now on
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        this.dropDirect();
      }
    }
    await writeAll(this.buffered, data, from, length, at);
    this.count('buffered', length);
  }

  private dropDirect(): void {
    void this.direct?.close().catch(() => undefined);
    this.direct = undefined;
  }

  /** The path with the lower recent cost per byte; buffered until both were probed. */
  private faster(): WritePath {
    const { buffered, direct } = this.costs;
    if (!this.direct || buffered.samples === 0 || direct.samples === 0) return 'buffered';
    return buffered.perByte <= direct.perByte ? 'buffered' : 'direct';
  }

  private count(path: WritePath, length: number): void {
    this.written[path] += length;
    if (path === 'buffered') this.bufferedBytes += length;
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
