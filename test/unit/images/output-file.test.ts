import { describe, expect, it } from 'vitest';
import { OutputFileWriter, type WritableFile, type WritePath } from '../../../shared/images/output-file';

const MiB = 1024 * 1024;

interface Call {
  path: WritePath;
  sync: boolean;
  at: number;
  length: number;
}

/**
 * Two views of one in-memory file, on a shared fake clock: each write advances it by
 * `cost(path, bytesBefore)` ms per MiB, where bytesBefore counts what that path wrote before.
 */
function fakeOutput(size: number, cost: (path: WritePath, before: number) => number) {
  const content = Buffer.alloc(size);
  const calls: Call[] = [];
  let clock = 0;
  const before: Record<WritePath, number> = { buffered: 0, direct: 0 };
  const closed: Record<WritePath, boolean> = { buffered: false, direct: false };
  const failures: Partial<Record<WritePath, NodeJS.ErrnoException>> = {};
  const file = (path: WritePath): WritableFile => {
    const put = (buffer: Buffer, offset: number, length: number, position: number, sync: boolean) => {
      const err = failures[path];
      if (err) throw err;
      // partial writes, as the kernel may do: at most 3 MiB at a time
      const n = Math.min(length, 3 * MiB);
      buffer.copy(content, position, offset, offset + n);
      calls.push({ path, sync, at: position, length: n });
      clock += (cost(path, before[path]) * n) / MiB;
      before[path] += n;
      return n;
    };
    return {
      write: async (b, o, l, p) => ({ bytesWritten: put(b, o, l, p, false) }),
      writeSync: (b, o, l, p) => put(b, o, l, p, true),
      close: async () => {
        closed[path] = true;
      },
    };
  };
  return {
    content,
    calls,
    closed,
    failures,
    now: () => clock,
    buffered: file('buffered'),
    direct: file('direct'),
  };
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const bytes = (calls: Call[], path: WritePath, sync?: boolean) =>
  calls
    .filter((c) => c.path === path && (sync === undefined || c.sync === sync))
    .reduce((s, c) => s + c.length, 0);

describe('OutputFileWriter (page cache or O_DIRECT, whichever is faster)', () => {
  it('puts every byte at its place whatever path each piece took, unaligned runs included', async () => {
    // Prepare: runs of every kind, the page cache turning slow halfway
    const size = 64 * MiB;
    const out = fakeOutput(size, (path, before) => (path === 'direct' ? 1.3 : before < 6 * MiB ? 0.4 : 5));
    const data = pattern(size, 7);
    const w = new OutputFileWriter(out.buffered, out.direct, { now: out.now, bufferedBudget: 32 * MiB });
    const runs: Array<[number, number]> = [
      [0, 8 * MiB],
      [8 * MiB, 4096],
      [9 * MiB + 512, 3000], // unaligned
      [10 * MiB, 20 * MiB],
      [31 * MiB, MiB + 4096],
      [40 * MiB, 24 * MiB],
    ];

    // Act
    for (const [at, length] of runs) await w.write(data, at, length, at);
    await w.close();

    // Assess
    for (const [at, length] of runs)
      expect(out.content.subarray(at, at + length).equals(data.subarray(at, at + length))).toBe(true);
    expect(w.written.buffered + w.written.direct).toBe(runs.reduce((s, [, l]) => s + l, 0));
    expect(
      out.calls.filter((c) => c.path === 'direct').every((c) => c.at % 4096 === 0 && c.length % 4096 === 0),
    ).toBe(true);
    expect(out.closed.direct).toBe(true);
    expect(out.closed.buffered).toBe(false); // the caller's
  });

  it('writes through the page cache in timed pieces while it is faster, the rest around it once it is not', async () => {
    // Prepare: the page cache costs 0.4 ms/MiB for its first 3 MiB, then 5; O_DIRECT 1.3
    const out = fakeOutput(16 * MiB, (path, before) =>
      path === 'direct' ? 1.3 : before < 3 * MiB ? 0.4 : 5,
    );
    const data = pattern(16 * MiB, 1);
    const w = new OutputFileWriter(out.buffered, out.direct, { now: out.now });

    // Act
    await w.write(data, 0, 16 * MiB, 0);

    // Assess: a timed MiB each way, buffered pieces until one cost more than O_DIRECT, then the rest
    // direct and asynchronous
    expect(out.calls.slice(0, 2).map((c) => [c.path, c.sync, c.length])).toEqual([
      ['direct', true, MiB],
      ['buffered', true, MiB],
    ]);
    expect(bytes(out.calls, 'buffered', false)).toBe(0);
    // pieces at 0.4, 0.4, then one at 5: averaged with the one before it, dearer than 1.3
    expect(bytes(out.calls, 'buffered', true)).toBe(4 * MiB);
    expect(bytes(out.calls, 'direct', false)).toBe(11 * MiB);
    expect(w.written).toEqual({ buffered: 4 * MiB, direct: 12 * MiB });
  });

  it('stays around the page cache while O_DIRECT is faster, and times both again every probeEvery runs', async () => {
    // Prepare: the page cache slow for the first MiB written through it (the first probe), fast afterwards
    const out = fakeOutput(64 * MiB, (path, before) => (path === 'direct' ? 1.3 : before < MiB ? 6 : 0.3));
    const data = pattern(64 * MiB, 2);
    const w = new OutputFileWriter(out.buffered, out.direct, { now: out.now, probeEvery: 4 });

    // Act: 16 runs of 4 MiB
    for (let i = 0; i < 16; i++) await w.write(data, i * 4 * MiB, 4 * MiB, i * 4 * MiB);

    // Assess: runs 1-3 all direct; at run 4 both are timed again, the page cache now wins
    const runOf = (c: Call) => Math.floor(c.at / (4 * MiB));
    for (const run of [1, 2, 3]) {
      const calls = out.calls.filter((c) => runOf(c) === run);
      expect(bytes(calls, 'direct', false), `run ${run}`).toBe(4 * MiB);
    }
    expect(out.calls.filter((c) => runOf(c) === 4).map((c) => [c.path, c.sync])).toEqual([
      ['direct', true],
      ['buffered', true],
      ['buffered', true],
      ['buffered', true],
    ]);
    // from then on the page cache, but for the 1 MiB that times O_DIRECT again at runs 8 and 12
    const later = out.calls.filter((c) => runOf(c) >= 5);
    expect(later.every((c) => c.sync)).toBe(true);
    expect(later.filter((c) => c.path === 'direct').map((c) => [runOf(c), c.length])).toEqual([
      [8, MiB],
      [12, MiB],
    ]);
    expect(bytes(later, 'buffered')).toBe(11 * 4 * MiB - 2 * MiB);
  });

  it('writes around the page cache once its budget is used', async () => {
    // Prepare: the page cache always faster, 6 MiB of it allowed
    const out = fakeOutput(32 * MiB, (path) => (path === 'direct' ? 1.3 : 0.3));
    const data = pattern(32 * MiB, 3);
    const w = new OutputFileWriter(out.buffered, out.direct, { now: out.now, bufferedBudget: 6 * MiB });

    // Act: 8 runs of 4 MiB
    for (let i = 0; i < 8; i++) await w.write(data, i * 4 * MiB, 4 * MiB, i * 4 * MiB);

    // Assess: the first run 1 MiB direct + 3 buffered; the second would pass the budget
    expect(w.written.buffered).toBe(3 * MiB);
    expect(w.written.direct).toBe(29 * MiB);
    expect(out.content.equals(data)).toBe(true);
  });

  it('falls back to the page cache for good when O_DIRECT is refused (EINVAL), losing nothing', async () => {
    // Prepare
    const out = fakeOutput(16 * MiB, () => 1);
    out.failures.direct = Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' });
    const data = pattern(16 * MiB, 4);
    const w = new OutputFileWriter(out.buffered, out.direct, { now: out.now });

    // Act
    for (let i = 0; i < 4; i++) await w.write(data, i * 4 * MiB, 4 * MiB, i * 4 * MiB);

    // Assess
    expect(out.content.equals(data)).toBe(true);
    expect(w.written).toEqual({ buffered: 16 * MiB, direct: 0 });
    expect(out.closed.direct).toBe(true);
  });

  it('passes on any other write error', async () => {
    // Prepare
    const out = fakeOutput(8 * MiB, () => 1);
    out.failures.buffered = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
    });
    const w = new OutputFileWriter(out.buffered, out.direct, { now: out.now });

    // Act / Assess
    await expect(w.write(pattern(8 * MiB, 5), 0, 8 * MiB, 0)).rejects.toThrow(/ENOSPC/);
  });

  it('uses the page cache alone where O_DIRECT is not available', async () => {
    // Prepare
    const out = fakeOutput(8 * MiB, (path) => (path === 'direct' ? 0.1 : 9));
    const data = pattern(8 * MiB, 6);
    const w = new OutputFileWriter(out.buffered, undefined, { now: out.now });

    // Act
    await w.write(data, 0, 8 * MiB, 0);

    // Assess
    expect(out.calls.every((c) => c.path === 'buffered')).toBe(true);
    expect(out.content.equals(data)).toBe(true);
  });
});
