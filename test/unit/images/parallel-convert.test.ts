import { describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  convertImage,
  fileSource,
  isImageError,
  looksIncompressible,
  openRandomAccess,
  type ConvertTarget,
} from '../../../shared/images';
import { pseudoRandom, qemuImg, writeSparseRaw, type Patch } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const MiB = 1024 * 1024;
const tmp = useTmpDir('bg-parallel-');

/**
 * 20 MiB + 3 sectors (not a multiple of the 1 MiB chunks, nor of a 64 KiB grain), with data that
 * straddles chunk and grain boundaries, a compressible run, an all-zero stretch and the last sector.
 */
const CAPACITY = 20 * MiB + 3 * 512;
function patches(): Patch[] {
  const text = Buffer.from('burstgate compressible line of text\n'.repeat(40000)).subarray(0, 1.5 * MiB);
  return [
    { offset: 0, data: pseudoRandom(4096, 1) },
    { offset: MiB - 1000, data: pseudoRandom(3000, 2) }, // across the first chunk boundary
    { offset: 3 * MiB + 123, data: text },
    { offset: 9 * MiB, data: pseudoRandom(2 * MiB + 17, 3) },
    { offset: CAPACITY - 512, data: pseudoRandom(512, 4) },
  ];
}

/** Inputs made by qemu-img from one raw disk, in every format the chunked path opens. */
const INPUTS: Array<{ name: string; args: string[] }> = [
  { name: 'raw', args: [] },
  { name: 'qcow2', args: ['-O', 'qcow2'] },
  { name: 'qcow2-compressed', args: ['-O', 'qcow2', '-c'] },
  { name: 'vmdk-stream', args: ['-O', 'vmdk', '-o', 'subformat=streamOptimized'] },
  { name: 'vmdk-sparse', args: ['-O', 'vmdk'] },
  { name: 'vhd-dynamic', args: ['-O', 'vpc'] },
  { name: 'vhdx', args: ['-O', 'vhdx'] },
];
const TARGETS: ConvertTarget[] = ['raw', 'vhd-fixed', 'vmdk-stream'];

async function compareWithRaw(out: string, to: ConvertTarget, raw: string): Promise<number> {
  const fmt = to === 'vhd-fixed' ? 'vpc' : to === 'raw' ? 'raw' : 'vmdk';
  return (await qemuImg('compare', '-f', fmt, '-F', 'raw', out, raw)).code;
}

describe('chunked conversion (worker threads and on this thread)', () => {
  it('converts every input format to raw, fixed VHD and streamOptimized VMDK identically', async () => {
    // Prepare
    const raw = join(tmp.dir, 'src.raw');
    await writeSparseRaw(raw, CAPACITY, patches());
    const inputs: Array<{ name: string; path: string }> = [];
    for (const input of INPUTS) {
      const path = input.name === 'raw' ? raw : join(tmp.dir, `src.${input.name}`);
      if (input.name !== 'raw') {
        const r = await qemuImg('convert', '-f', 'raw', ...input.args, raw, path);
        expect(r.code, r.stderr).toBe(0);
      }
      inputs.push({ name: input.name, path });
    }
    for (const input of inputs) {
      // with hash the disk is streamed in one pass on this thread: the reference summary
      const sequential = await convertImage(input.path, join(tmp.dir, `seq-${input.name}.raw`), 'raw', {
        hash: true,
      });
      for (const to of TARGETS) {
        for (const workers of [2, 0]) {
          const out = join(tmp.dir, `out-${input.name}-${workers}.${to}`);
          // Act
          const r = await convertImage(input.path, out, to, { workers, chunkBytes: MiB });
          // Assess
          const what = `${input.name} → ${to} with ${workers} workers`;
          expect(await compareWithRaw(out, to, raw), what).toBe(0);
          if (to === 'vmdk-stream') expect((await qemuImg('check', out)).code, what).toBe(0);
          expect(r.capacity, what).toBe(sequential.capacity); // qemu rounds a VHD up to its CHS geometry
          expect(r.dataBytes, what).toBe(sequential.dataBytes);
          expect(r.partitionTable, what).toEqual(sequential.partitionTable);
        }
      }
    }
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('writes the same disk through the page cache when asked not to use O_DIRECT', async () => {
    // Prepare
    const raw = join(tmp.dir, 'buffered.raw');
    await writeSparseRaw(raw, CAPACITY, patches());
    for (const to of ['raw', 'vhd-fixed'] as const) {
      for (const workers of [1, 0]) {
        const out = join(tmp.dir, `buffered-${workers}.${to}`);
        // Act
        await convertImage(raw, out, to, { workers, chunkBytes: MiB, directWrites: false });
        // Assess
        expect(await compareWithRaw(out, to, raw), `${to} with ${workers} workers`).toBe(0);
      }
    }
  });

  it('writes the same disk with its long aligned runs around the page cache (O_DIRECT)', async () => {
    // Prepare
    const raw = join(tmp.dir, 'direct.raw');
    await writeSparseRaw(raw, CAPACITY, patches());
    for (const to of ['raw', 'vhd-fixed'] as const) {
      for (const workers of [1, 0]) {
        for (const chunkBytes of [4 * MiB, MiB]) {
          const out = join(tmp.dir, `direct-${workers}-${chunkBytes}.${to}`);
          // Act: runs of up to 4 MiB, or of at most 1 MiB (the shortest that go around the cache)
          await convertImage(raw, out, to, { workers, chunkBytes });
          // Assess
          const what = `${to} with ${workers} workers, ${chunkBytes / MiB} MiB chunks`;
          expect(await compareWithRaw(out, to, raw), what).toBe(0);
        }
      }
    }
  });

  it('keeps disk order when a worker runs ahead across holes while another converts data', async () => {
    // Prepare: data chunks far apart, long holes between them (the slots of hole chunks are reused
    // before the chunks ahead of them are written)
    const capacity = 48 * MiB;
    const raw = join(tmp.dir, 'holes.raw');
    await writeSparseRaw(raw, capacity, [
      { offset: 0, data: pseudoRandom(3 * MiB, 11) },
      { offset: 17 * MiB + 4096, data: pseudoRandom(MiB, 12) },
      { offset: 18 * MiB, data: Buffer.from('text\n'.repeat(200000)) },
      { offset: capacity - 70000, data: pseudoRandom(70000, 13) },
    ]);
    for (const to of TARGETS) {
      const out = join(tmp.dir, `holes.${to}`);
      // Act
      await convertImage(raw, out, to, { workers: 2, chunkBytes: MiB });
      // Assess
      expect(await compareWithRaw(out, to, raw), to).toBe(0);
      if (to === 'vmdk-stream') expect((await qemuImg('check', out)).code, to).toBe(0);
    }
  });

  it('reports progress per chunk up to the whole disk', async () => {
    // Prepare
    const raw = join(tmp.dir, 'progress.raw');
    await writeSparseRaw(raw, CAPACITY, patches());
    const seen: number[] = [];
    // Act
    await convertImage(raw, join(tmp.dir, 'progress.vmdk'), 'vmdk-stream', {
      workers: 2,
      chunkBytes: 2 * MiB,
      onProgress: (done, total) => {
        expect(total).toBe(CAPACITY);
        seen.push(done);
      },
    });
    // Assess
    expect(seen.length).toBe(Math.ceil(CAPACITY / (2 * MiB)));
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.at(-1)).toBe(CAPACITY);
  });

  it('fails with the reader error from a worker and leaves no output', async () => {
    // Prepare: a streamOptimized VMDK whose grain data in the middle of the disk is overwritten
    const raw = join(tmp.dir, 'corrupt.raw');
    await writeSparseRaw(raw, CAPACITY, [{ offset: 9 * MiB, data: pseudoRandom(2 * MiB, 9) }]);
    const vmdk = join(tmp.dir, 'corrupt.vmdk');
    expect((await qemuImg('convert', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, vmdk)).code).toBe(
      0,
    );
    const bytes = await readFile(vmdk);
    const middle = Math.floor(bytes.length / 2);
    bytes.fill(0xa5, middle, middle + 4096);
    await writeFile(vmdk, bytes);
    for (const workers of [2, 0]) {
      const out = join(tmp.dir, `corrupt-${workers}.vhd`);
      // Act
      const err = await convertImage(vmdk, out, 'vhd-fixed', { workers, chunkBytes: MiB }).catch(
        (e: unknown) => e,
      );
      // Assess
      expect(isImageError(err), String(err)).toBe(true);
      expect((err as { code: string }).code).toMatch(/^BG_VMDK_(CORRUPT_GRAIN|BAD_MARKER)$/);
      expect((await readdir(tmp.dir)).filter((f) => f.startsWith(`corrupt-${workers}`))).toEqual([]);
    }
  });

  it('refuses a chunk size that is not a multiple of a grain', async () => {
    // Prepare
    const raw = join(tmp.dir, 'chunk.raw');
    await writeSparseRaw(raw, CAPACITY, patches());
    // Act
    const err = await convertImage(raw, join(tmp.dir, 'chunk.vhd'), 'vhd-fixed', {
      workers: 2,
      chunkBytes: 1000,
    }).catch((e: unknown) => e);
    // Assess
    expect(isImageError(err, 'BG_IMAGE_INVALID_ARGUMENT')).toBe(true);
    expect((await readdir(tmp.dir)).filter((f) => f.startsWith('chunk.vhd'))).toEqual([]);
  });
});

describe('looksIncompressible (grains stored instead of deflated)', () => {
  it('says yes to random bytes and no to text, zeros, small repeats and a short grain', () => {
    // Prepare
    const grain = 64 * 1024;
    const random = pseudoRandom(grain, 7);
    const text = Buffer.from(
      'the quick brown fox jumps over the lazy dog 0123456789\n'.repeat(2000),
    ).subarray(0, grain);
    const repeated = Buffer.concat(Array.from({ length: 64 }, () => pseudoRandom(1024, 5)));
    const skewed = Buffer.from(random.map((b) => b & 0x3f));
    // Act + Assess
    expect(looksIncompressible(random)).toBe(true);
    expect(looksIncompressible(text)).toBe(false);
    expect(looksIncompressible(Buffer.alloc(grain))).toBe(false);
    expect(looksIncompressible(repeated)).toBe(false);
    expect(looksIncompressible(skewed)).toBe(false);
    expect(looksIncompressible(random.subarray(0, 2048))).toBe(false);
  });
});

describe('readInto (reused buffers)', () => {
  it('gives what read gives, zeros included, into a buffer holding older bytes, for every format', async () => {
    // Prepare
    const raw = join(tmp.dir, 'into.raw');
    await writeSparseRaw(raw, CAPACITY, patches());
    const ranges = [
      [0, MiB],
      [MiB - 4096, 2 * MiB + 512],
      [4 * MiB, 4 * MiB], // all holes
      [9 * MiB - 100, 3 * MiB],
      [CAPACITY - 70000, 70000],
    ] as const;
    for (const input of INPUTS) {
      const path = input.name === 'raw' ? raw : join(tmp.dir, `into.${input.name}`);
      if (input.name !== 'raw')
        expect((await qemuImg('convert', '-f', 'raw', ...input.args, raw, path)).code).toBe(0);
      const src = await fileSource(path);
      try {
        const disk = await openRandomAccess(src);
        expect(disk.readInto, input.name).toBeDefined();
        for (const [offset, length] of ranges) {
          const target = Buffer.alloc(length, 0xa5);
          // Act
          await disk.readInto!(offset, target);
          // Assess
          expect(target.equals(await disk.read(offset, length)), `${input.name} ${offset}+${length}`).toBe(
            true,
          );
        }
      } finally {
        await src.close();
      }
    }
  });
});
