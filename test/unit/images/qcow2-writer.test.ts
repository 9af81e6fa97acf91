import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bufferSource,
  diskFromBuffer,
  hashDisk,
  isImageError,
  streamFrom,
  type DiskExtent,
  type DiskStream,
} from '../../../shared/images';
import { openQcow2Disk } from '../../../shared/images/qcow2';
import {
  qcow2Parts,
  writeQcow2,
  writeQcow2File,
  type Qcow2WriteOptions,
} from '../../../shared/images/qcow2-writer';
import {
  collect,
  pseudoRandom,
  qemuImg,
  rawDisk,
  sha256,
  writeSparseRaw,
} from '../../helpers/images/fixtures';
import { sparsePatches } from '../../helpers/images/qcow2';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir('bg-qcow2-write-');

/** qemu-img check must find nothing (no errors, no leaks) and compare must find the raw identical. */
async function expectQemuAccepts(qcow2: string, rawPath: string): Promise<void> {
  const check = await qemuImg('check', '-f', 'qcow2', qcow2);
  expect(check.code, check.stdout + check.stderr).toBe(0);
  expect(check.stdout).toContain('No errors were found on the image.');
  expect(check.stdout + check.stderr).not.toMatch(/leaked|ERROR|corruption/);
  const compare = await qemuImg('compare', '-f', 'raw', '-F', 'qcow2', rawPath, qcow2);
  expect(compare.code, compare.stdout + compare.stderr).toBe(0);
  expect(compare.stdout).toContain('Images are identical.');
}

const DISKS: Array<[string, number, 'sparse' | 'full' | 'empty']> = [
  ['sparse, not a multiple of the cluster', 3 * 1024 * 1024 + 5 * 512, 'sparse'],
  ['sparse, not a multiple of 512 bytes', 2 * 1024 * 1024 + 1001, 'sparse'],
  ['full of data', 1024 * 1024 + 512, 'full'],
  ['empty (all zero)', 1024 * 1024, 'empty'],
  ['zero-sized', 0, 'empty'],
];
const OPTIONS: Array<[string, Qcow2WriteOptions]> = [
  ['64 KiB clusters', {}],
  ['64 KiB clusters, compressed', { compress: true }],
  ['512-byte clusters', { clusterBits: 9 }],
  ['512-byte clusters, compressed', { clusterBits: 9, compress: true }],
  ['2 MiB clusters, compressed', { clusterBits: 21, compress: true }],
];

describe('writeQcow2File', () => {
  let n = 0;
  for (const [what, capacity, kind] of DISKS) {
    for (const [how, opts] of OPTIONS) {
      it(`${what}, ${how}: qemu-img check finds no error or leak, compare finds it identical, we read it back`, async () => {
        // Prepare
        n++;
        const patches =
          kind === 'sparse'
            ? sparsePatches(capacity, 40 + n)
            : kind === 'full'
              ? [{ offset: 0, data: pseudoRandom(capacity, n) }]
              : [];
        const raw = rawDisk(capacity, patches);
        // the image's virtual size is whole sectors, as qemu-img makes it: zeros after the capacity
        const sectors = Math.ceil(capacity / 512) * 512;
        const rawPath = join(tmp.dir, `w${n}.raw`);
        const out = join(tmp.dir, `w${n}.qcow2`);
        await writeSparseRaw(rawPath, sectors, patches);
        // Act
        const { bytes } = await writeQcow2File(diskFromBuffer(raw, { blockSize: 4096 }), out, opts);
        // Assess
        await expectQemuAccepts(out, rawPath);
        const file = await readFile(out);
        expect(file.length).toBe(bytes);
        const disk = await openQcow2Disk(bufferSource(file));
        expect(disk.capacity).toBe(sectors);
        expect(disk.header.version).toBe(3);
        expect((await hashDisk(streamFrom(disk))).sha256).toBe(sha256(rawDisk(sectors, patches)));
        if (kind === 'empty') expect(file.length).toBeLessThanOrEqual(4 * 2 ** (opts.clusterBits ?? 16));
      });
    }
  }

  it('keeps exact refcounts when the head alone spans several refcount blocks (1 GiB, 512-byte clusters)', async () => {
    // Prepare: a sparse 1 GiB disk given as extents, never as a buffer
    const capacity = 1024 * 1024 * 1024;
    const patches = [
      { offset: 0, data: pseudoRandom(5000, 1) },
      { offset: 700 * 1024 * 1024 + 3, data: Buffer.alloc(100_000, 'abc') },
      { offset: capacity - 4096, data: pseudoRandom(4096, 2) },
    ];
    async function* extents(): AsyncGenerator<DiskExtent> {
      let pos = 0;
      for (const p of patches) {
        if (p.offset > pos) yield { kind: 'zero', offset: pos, length: p.offset - pos };
        yield { kind: 'data', offset: p.offset, data: p.data };
        pos = p.offset + p.data.length;
      }
    }
    const rawPath = join(tmp.dir, 'big.raw');
    const out = join(tmp.dir, 'big.qcow2');
    await writeSparseRaw(rawPath, capacity, patches);
    // Act
    await writeQcow2File({ capacity, extents: extents() }, out, { clusterBits: 9, compress: true });
    // Assess
    await expectQemuAccepts(out, rawPath);
    const disk = await openQcow2Disk(bufferSource(await readFile(out)));
    expect(await disk.read(700 * 1024 * 1024, 10)).toEqual(Buffer.from('\0\0\0abcabca'));
  });
});

describe('writeQcow2 (the whole file in order) and qcow2Parts', () => {
  it('yields the same bytes as writeQcow2File and removes its spool file', async () => {
    // Prepare
    const capacity = 3 * 1024 * 1024;
    const raw = rawDisk(capacity, sparsePatches(capacity, 77));
    const path = join(tmp.dir, 'seq-file.qcow2');
    const spoolDir = join(tmp.dir, 'spool');
    await import('node:fs/promises').then((fs) => fs.mkdir(spoolDir));
    await writeQcow2File(diskFromBuffer(raw), path, { compress: true });
    // Act
    const streamed = await collect(writeQcow2(diskFromBuffer(raw), { compress: true, tmpDir: spoolDir }));
    // Assess
    expect(streamed.equals(await readFile(path))).toBe(true);
    expect(await readdir(spoolDir)).toEqual([]);
  });

  it('refuses head() before the body is consumed, bad cluster sizes and short extent streams', async () => {
    const parts = qcow2Parts(diskFromBuffer(Buffer.alloc(4096)), {});
    expect(() => parts.head()).toThrow(expect.objectContaining({ code: 'BG_IMAGE_STREAM_STATE' }));
    for (const clusterBits of [8, 22, 16.5]) {
      expect(() => qcow2Parts(diskFromBuffer(Buffer.alloc(0)), { clusterBits })).toThrow(
        expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
      );
    }
    const short: DiskStream = {
      capacity: 1024 * 1024,
      extents: (async function* () {
        yield { kind: 'data', offset: 0, data: Buffer.alloc(512, 1) } as DiskExtent;
      })(),
    };
    const err = await collect(qcow2Parts(short).body).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isImageError(err, 'BG_IMAGE_STREAM_STATE')).toBe(true);
  });
});
