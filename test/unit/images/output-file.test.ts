import { describe, expect, it } from 'vitest';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alignedBuffer } from '../../../shared/images/aligned';
import { useTmpDir } from '../../helpers/images/tmp-dir';
import {
  DIRECT_ALIGN,
  DIRECT_MIN_BYTES,
  OutputFileWriter,
  openDirectOutput,
  writePathFor,
  type WritableFile,
  type WritePath,
} from '../../../shared/images/output-file';

const MiB = 1024 * 1024;
const tmp = useTmpDir('bg-output-file-');

interface Call {
  path: WritePath;
  at: number;
  length: number;
}

/** Two views of one in-memory file, as the buffered and the O_DIRECT handle of one output. */
function fakeOutput(size: number) {
  const content = Buffer.alloc(size);
  const calls: Call[] = [];
  const closed: Record<WritePath, boolean> = { buffered: false, direct: false };
  const failures: Partial<Record<WritePath, NodeJS.ErrnoException>> = {};
  const file = (path: WritePath): WritableFile => ({
    write: async (buffer, offset, length, position) => {
      const err = failures[path];
      if (err) throw err;
      // partial writes, as the kernel may do: at most 3 MiB at a time
      const n = Math.min(length, 3 * MiB);
      buffer.copy(content, position, offset, offset + n);
      calls.push({ path, at: position, length: n });
      return { bytesWritten: n };
    },
    close: async () => {
      closed[path] = true;
    },
  });
  return { content, calls, closed, failures, buffered: file('buffered'), direct: file('direct') };
}

/** Page-aligned memory, as the conversion's slots are. */
function pattern(size: number, seed: number): Buffer {
  const b = alignedBuffer(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const bytesBy = (calls: Call[], path: WritePath) =>
  calls.filter((c) => c.path === path).reduce((s, c) => s + c.length, 0);

describe('writePathFor (the fixed write policy)', () => {
  it('sends long runs aligned in file, length and memory around the page cache, every other run through it', () => {
    const cases: Array<[string, number, number, number, WritePath]> = [
      ['4 MiB, aligned', 0, 4 * MiB, 64 * MiB, 'direct'],
      ['exactly the minimum', 8192, DIRECT_MIN_BYTES, 4096, 'direct'],
      ['one page under the minimum', 0, DIRECT_MIN_BYTES - DIRECT_ALIGN, 0, 'buffered'],
      ['64 KiB', 0, 64 * 1024, 0, 'buffered'],
      ['file offset off a page', 0, 4 * MiB, 512, 'buffered'],
      ['length not whole pages (the disk ends inside a page)', 0, 4 * MiB + 512, 0, 'buffered'],
      ['memory off a page', 16, 4 * MiB, 0, 'buffered'],
    ];
    for (const [what, from, length, at, path] of cases)
      expect(writePathFor(from, length, at), what).toBe(path);
  });
});

describe('OutputFileWriter', () => {
  it('puts every byte at its place, each run by the path the policy gives it', async () => {
    // Prepare: runs of every kind
    const size = 64 * MiB;
    const out = fakeOutput(size);
    const data = pattern(size, 7);
    const w = new OutputFileWriter(out.buffered, out.direct);
    const runs: Array<[number, number, WritePath]> = [
      [0, 8 * MiB, 'direct'],
      [8 * MiB, 4096, 'buffered'],
      [9 * MiB + 512, 3000, 'buffered'],
      [10 * MiB, 20 * MiB, 'direct'],
      [31 * MiB, MiB + 4096, 'direct'],
      [40 * MiB, 512 * 1024, 'buffered'],
      [48 * MiB, 16 * MiB - 1000, 'buffered'], // the disk's unaligned last run
    ];

    // Act
    for (const [at, length] of runs) await w.write(data, at, length, at);
    await w.close();

    // Assess
    for (const [at, length, path] of runs) {
      const what = `${length} bytes at ${at}`;
      expect(out.content.subarray(at, at + length).equals(data.subarray(at, at + length)), what).toBe(true);
      expect(
        bytesBy(
          out.calls.filter((c) => c.at >= at && c.at < at + length),
          path,
        ),
        what,
      ).toBe(length);
    }
    const sum = (path: WritePath) => runs.filter((r) => r[2] === path).reduce((s, r) => s + r[1], 0);
    expect(w.written).toEqual({ buffered: sum('buffered'), direct: sum('direct') });
    expect(
      out.calls.filter((c) => c.path === 'direct').every((c) => c.at % 4096 === 0 && c.length % 4096 === 0),
    ).toBe(true);
    expect(out.closed.direct).toBe(true);
    expect(out.closed.buffered).toBe(false); // the caller's
  });

  it('judges memory alignment by where the run sits in its ArrayBuffer', async () => {
    // Prepare: a view starting 16 bytes into page-aligned memory, as a pooled Buffer might
    const out = fakeOutput(8 * MiB);
    const memory = pattern(8 * MiB + 16, 8);
    const view = memory.subarray(16);
    const w = new OutputFileWriter(out.buffered, out.direct);

    // Act
    await w.write(view, 0, 4 * MiB, 0);
    await w.write(memory, 4 * MiB, 4 * MiB, 4 * MiB);

    // Assess
    expect(out.calls.map((c) => c.path)).toEqual(['buffered', 'buffered', 'direct', 'direct']);
    expect(out.content.subarray(0, 4 * MiB).equals(view.subarray(0, 4 * MiB))).toBe(true);
  });

  it('falls back to the page cache for good when O_DIRECT is refused (EINVAL), losing nothing', async () => {
    // Prepare
    const out = fakeOutput(16 * MiB);
    out.failures.direct = Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
    const data = pattern(16 * MiB, 4);
    const w = new OutputFileWriter(out.buffered, out.direct);

    // Act
    for (let i = 0; i < 4; i++) await w.write(data, i * 4 * MiB, 4 * MiB, i * 4 * MiB);

    // Assess
    expect(out.content.equals(data)).toBe(true);
    expect(w.written).toEqual({ buffered: 16 * MiB, direct: 0 });
    expect(out.closed.direct).toBe(true);
  });

  it('passes on any other write error, from either path', async () => {
    for (const path of ['buffered', 'direct'] as const) {
      // Prepare
      const out = fakeOutput(8 * MiB);
      out.failures[path] = Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
      });
      const w = new OutputFileWriter(out.buffered, out.direct);
      const length = path === 'direct' ? 8 * MiB : 64 * 1024;

      // Act / Assess
      await expect(w.write(pattern(8 * MiB, 5), 0, length, 0), path).rejects.toThrow(/ENOSPC/);
    }
  });

  it('uses the page cache alone where O_DIRECT is not available', async () => {
    // Prepare
    const out = fakeOutput(8 * MiB);
    const data = pattern(8 * MiB, 6);
    const w = new OutputFileWriter(out.buffered, undefined);

    // Act
    await w.write(data, 0, 8 * MiB, 0);
    await w.close();

    // Assess
    expect(out.calls.every((c) => c.path === 'buffered')).toBe(true);
    expect(out.content.equals(data)).toBe(true);
    expect(w.written).toEqual({ buffered: 8 * MiB, direct: 0 });
  });

  it('writes a real file: long runs from aligned memory with O_DIRECT where the file system has it', async () => {
    // Prepare: a run of each kind, from page-aligned memory
    const path = join(tmp.dir, 'out.raw');
    const data = pattern(6 * MiB, 9);
    const fh = await open(path, 'w');
    const direct = await openDirectOutput(path);
    const w = new OutputFileWriter(fh, direct);

    // Act
    try {
      await w.write(data, 0, 4 * MiB, 0);
      await w.write(data, 4 * MiB, 64 * 1024, 4 * MiB);
      await w.write(data, 4 * MiB + 64 * 1024, 2 * MiB - 64 * 1024 - 300, 4 * MiB + 64 * 1024);
    } finally {
      await w.close();
      await fh.close();
    }

    // Assess: O_DIRECT took the long run (the temp dir's file system has it unless it is tmpfs)
    const expected = data.subarray(0, 6 * MiB - 300);
    expect((await readFile(path)).equals(expected)).toBe(true);
    const long = direct
      ? { buffered: 2 * MiB - 300, direct: 4 * MiB }
      : { buffered: 6 * MiB - 300, direct: 0 };
    expect(w.written).toEqual(long);
  });
});
