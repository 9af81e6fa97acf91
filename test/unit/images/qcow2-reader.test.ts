import { execFile } from 'node:child_process';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bufferSource,
  fileSource,
  hashDisk,
  isImageError,
  openRandomAccess,
  streamFrom,
  type ImageErrorCode,
} from '../../../shared/images';
import { openQcow2, openQcow2Disk, type Qcow2ReaderOptions } from '../../../shared/images/qcow2';
import { pseudoRandom, qemuImg, sha256 } from '../../helpers/images/fixtures';
import { qemuQcow2, sparsePatches, type QemuQcow2Options } from '../../helpers/images/qcow2';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const execFileP = promisify(execFile);
const tmp = useTmpDir('bg-qcow2-read-');

async function expectCode(p: Promise<unknown>, code: ImageErrorCode, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isImageError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  if (message) expect((err as Error).message).toMatch(message);
}

/** Opens and reads every byte (hash) of a qcow2 buffer. */
async function readAll(file: Buffer, opts?: Qcow2ReaderOptions): Promise<string> {
  const disk = await openQcow2Disk(bufferSource(file, 'test.qcow2'), opts);
  return (await hashDisk(streamFrom(disk))).sha256;
}

/** Deterministic reads spread over the disk, including its first and last bytes. */
function readPlan(capacity: number, seed: number): Array<[number, number]> {
  const plan: Array<[number, number]> = [
    [0, Math.min(capacity, 1000)],
    [Math.max(0, capacity - 777), Math.min(capacity, 777)],
  ];
  const r = pseudoRandom(400, seed);
  for (let i = 0; i < 50 && capacity > 0; i++) {
    const offset = r.readUInt32BE(i * 8) % capacity;
    const length = Math.min(capacity - offset, r.readUInt32BE(i * 8 + 4) % 300_000);
    plan.push([offset, length]);
  }
  return plan;
}

const VARIANTS: Array<[string, QemuQcow2Options]> = [
  ['v2 (compat=0.10), 64 KiB clusters', { compat: '0.10' }],
  ['v3, 64 KiB clusters', {}],
  ['v3, 64 KiB clusters, compressed', { compress: true }],
  ['v3, 512-byte clusters', { clusterSize: 512 }],
  ['v3, 512-byte clusters, compressed', { clusterSize: 512, compress: true }],
  ['v2, 512-byte clusters, compressed', { compat: '0.10', clusterSize: 512, compress: true }],
  ['v3, 2 MiB clusters', { clusterSize: 2 * 1024 * 1024 }],
  ['v3, 2 MiB clusters, compressed', { clusterSize: 2 * 1024 * 1024, compress: true }],
];

// qemu-img rounds virtual sizes up to 512 bytes: sizes here are whole sectors, not whole clusters.
const DISKS: Array<[string, number, 'sparse' | 'full' | 'empty']> = [
  ['sparse, not a multiple of the cluster', 3 * 1024 * 1024 + 5 * 512, 'sparse'],
  ['full of data', 1024 * 1024 + 512, 'full'],
  ['empty (all zero)', 1024 * 1024, 'empty'],
  ['zero-sized', 0, 'empty'],
];

describe('openQcow2 on images qemu-img made', () => {
  let n = 0;
  for (const [variant, opts] of VARIANTS) {
    for (const [what, capacity, kind] of DISKS) {
      it(`${variant}: ${what} — content hash, map and random reads match the raw disk`, async () => {
        // Prepare
        n++;
        const patches =
          kind === 'sparse'
            ? sparsePatches(capacity, n)
            : kind === 'full'
              ? [{ offset: 0, data: pseudoRandom(capacity, n) }]
              : [];
        const img = await qemuQcow2(tmp.dir, `img${n}`, capacity, patches, opts);
        const src = await fileSource(img.path);
        try {
          // Act
          const disk = await openRandomAccess(src);
          const hashed = await hashDisk(streamFrom(disk, { chunkSize: 256 * 1024 }));
          const ranges = [];
          for await (const r of disk.map()) ranges.push(r);
          const reads = [];
          for (const [offset, length] of readPlan(capacity, n))
            reads.push([offset, length, await disk.read(offset, length)] as const);
          // Assess
          expect(disk.format).toBe('qcow2');
          expect(disk.capacity).toBe(capacity);
          expect(hashed.sha256).toBe(sha256(img.raw));
          let pos = 0;
          for (const r of ranges) {
            expect(r.offset).toBe(pos);
            if (r.zero)
              expect(img.raw.subarray(r.offset, r.offset + r.length).every((b) => b === 0)).toBe(true);
            pos += r.length;
          }
          expect(pos).toBe(capacity);
          if (kind === 'empty') expect(ranges.every((r) => r.zero)).toBe(true);
          if (kind === 'full') expect(ranges.every((r) => !r.zero)).toBe(true);
          for (const [offset, length, got] of reads)
            expect(got.equals(img.raw.subarray(offset, offset + length))).toBe(true);
        } finally {
          await src.close();
        }
      });
    }
  }

  it('reads v3 zero-flag clusters (with and without a preallocated host cluster) as zeros without reading them', async () => {
    // Prepare: data everywhere, then qemu-io turns ranges into zero clusters
    const capacity = 1024 * 1024;
    const img = await qemuQcow2(tmp.dir, 'zflag', capacity, [{ offset: 0, data: pseudoRandom(capacity, 7) }]);
    await execFileP('qemu-io', [
      '-f',
      'qcow2',
      '-c',
      'write -z 0 128k',
      '-c',
      'write -z -u 512k 64k',
      img.path,
    ]);
    const expected = Buffer.from(img.raw);
    expected.fill(0, 0, 128 * 1024);
    expected.fill(0, 512 * 1024, 576 * 1024);
    const disk = await openQcow2Disk(bufferSource(await readFile(img.path)));
    // Act
    const ranges = [];
    for await (const r of disk.map()) ranges.push(r);
    const hashed = await hashDisk(streamFrom(disk));
    // Assess
    expect(ranges).toEqual([
      { offset: 0, length: 128 * 1024, zero: true },
      { offset: 128 * 1024, length: 384 * 1024, zero: false },
      { offset: 512 * 1024, length: 64 * 1024, zero: true },
      { offset: 576 * 1024, length: capacity - 576 * 1024, zero: false },
    ]);
    expect(hashed.sha256).toBe(sha256(expected));
    expect(disk.header.version).toBe(3);
  });

  it('maps a sub-range with ranges clipped to it', async () => {
    const capacity = 2 * 1024 * 1024;
    const img = await qemuQcow2(tmp.dir, 'sub', capacity, [{ offset: 300_000, data: pseudoRandom(10, 1) }]);
    const disk = await openQcow2Disk(bufferSource(img.file));
    const ranges = [];
    for await (const r of disk.map(100_000, 400_000)) ranges.push(r);
    expect(ranges).toEqual([
      { offset: 100_000, length: 262_144 - 100_000, zero: true },
      { offset: 262_144, length: 65_536, zero: false },
      { offset: 327_680, length: 500_000 - 327_680, zero: true },
    ]);
    await expectCode(disk.read(capacity - 10, 11), 'BG_IMAGE_INVALID_ARGUMENT');
  });
});

describe('openQcow2 refuses what it cannot read, with typed errors', () => {
  it('names the backing file of an overlay', async () => {
    // Prepare
    const base = join(tmp.dir, 'base-disk.qcow2');
    const overlay = join(tmp.dir, 'overlay.qcow2');
    expect((await qemuImg('create', '-f', 'qcow2', base, '1M')).code).toBe(0);
    expect((await qemuImg('create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', overlay)).code).toBe(0);
    // Act + Assess
    await expectCode(
      openQcow2(bufferSource(await readFile(overlay), 'overlay.qcow2'), {}),
      'BG_QCOW2_BACKING_FILE',
      /unsupported: qcow2 with backing file ".*base-disk\.qcow2"; flatten it with qemu-img convert/,
    );
  });

  it.each([
    ['zstd compression', ['-o', 'compression_type=zstd'], 'BG_QCOW2_UNSUPPORTED', /zstd/],
    ['extended L2 entries', ['-o', 'extended_l2=on'], 'BG_QCOW2_UNSUPPORTED', /extended L2/],
    [
      'an external data file',
      ['-o', 'data_file=DATAFILE'],
      'BG_QCOW2_UNSUPPORTED',
      /external data file ".*ext-data\.raw"/,
    ],
  ] as const)('%s → %s', async (_what, args, code, message) => {
    const path = join(tmp.dir, `feat-${code}-${args[1].slice(0, 6)}.qcow2`);
    const a = args.map((s) => s.replace('DATAFILE', join(tmp.dir, 'ext-data.raw')));
    expect((await qemuImg('create', '-f', 'qcow2', ...a, path, '1M')).code).toBe(0);
    await expectCode(openQcow2(bufferSource(await readFile(path)), {}), code, message);
  });

  it('refuses a truncated file with BG_IMAGE_TRUNCATED, whether it is cut in the header, the tables or the data', async () => {
    // Prepare
    const capacity = 4 * 1024 * 1024;
    const img = await qemuQcow2(tmp.dir, 'trunc', capacity, [{ offset: 0, data: pseudoRandom(capacity, 3) }]);
    const compressed = await qemuQcow2(tmp.dir, 'truncc', capacity, sparsePatches(capacity, 9), {
      compress: true,
    });
    // Act + Assess
    for (const cut of [3, 50, 90, 100_000, Math.floor(img.file.length / 2), img.file.length - 1]) {
      await expectCode(readAll(img.file.subarray(0, cut)), 'BG_IMAGE_TRUNCATED');
    }
    await expectCode(
      readAll(compressed.file.subarray(0, compressed.file.length - 2000)),
      'BG_IMAGE_TRUNCATED',
    );
    const cutPath = join(tmp.dir, 'cut.qcow2');
    await writeFile(cutPath, img.file);
    await truncate(cutPath, 300_000);
    const src = await fileSource(cutPath);
    await expectCode(
      openRandomAccess(src).then(async (d) => hashDisk(streamFrom(d))),
      'BG_IMAGE_TRUNCATED',
    );
    await src.close();
  });

  describe('hostile headers', () => {
    let base: Buffer;
    const patched = (f: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(base);
      f(b);
      return b;
    };
    beforeAll(async () => {
      base = (await qemuQcow2(tmp.dir, 'hostile', 1024 * 1024, sparsePatches(1024 * 1024, 5))).file;
    });
    it.each<[string, (b: Buffer) => void, ImageErrorCode]>([
      ['bad magic', (b) => b.writeUInt32BE(0x514649fa, 0), 'BG_QCOW2_BAD_HEADER'],
      ['version 4', (b) => b.writeUInt32BE(4, 4), 'BG_QCOW2_BAD_HEADER'],
      ['version 1 (qcow)', (b) => b.writeUInt32BE(1, 4), 'BG_QCOW2_UNSUPPORTED'],
      ['cluster_bits 8', (b) => b.writeUInt32BE(8, 20), 'BG_QCOW2_BAD_HEADER'],
      ['cluster_bits 30', (b) => b.writeUInt32BE(30, 20), 'BG_QCOW2_LIMIT'],
      ['cluster_bits 200', (b) => b.writeUInt32BE(200, 20), 'BG_QCOW2_BAD_HEADER'],
      ['size 2^62', (b) => b.writeBigUInt64BE(1n << 62n, 24), 'BG_QCOW2_BAD_HEADER'],
      ['size 1 PiB', (b) => b.writeBigUInt64BE(1n << 50n, 24), 'BG_QCOW2_LIMIT'],
      ['size larger than the L1 table maps', (b) => b.writeBigUInt64BE(1n << 40n, 24), 'BG_QCOW2_CORRUPT'],
      ['L1 size 2^32 - 1', (b) => b.writeUInt32BE(0xffff_ffff, 36), 'BG_QCOW2_LIMIT'],
      ['L1 table past the end of the file', (b) => b.writeBigUInt64BE(1n << 40n, 40), 'BG_IMAGE_TRUNCATED'],
      ['L1 table offset unaligned', (b) => b.writeBigUInt64BE(0x30001n, 40), 'BG_QCOW2_CORRUPT'],
      [
        'L2 offsets past the end of the file',
        (b) => b.writeBigUInt64BE((1n << 63n) | (1n << 44n), 0x30000),
        'BG_IMAGE_TRUNCATED',
      ],
      ['L2 offset unaligned', (b) => b.writeBigUInt64BE((1n << 63n) | 0x40200n, 0x30000), 'BG_QCOW2_CORRUPT'],
      ['AES encryption', (b) => b.writeUInt32BE(1, 32), 'BG_QCOW2_ENCRYPTED'],
      ['LUKS encryption', (b) => b.writeUInt32BE(2, 32), 'BG_QCOW2_ENCRYPTED'],
      ['the corrupt bit', (b) => b.writeUInt32BE(2, 76), 'BG_QCOW2_CORRUPT'],
      ['an unknown incompatible feature', (b) => b.writeUInt32BE(1 << 9, 76), 'BG_QCOW2_UNSUPPORTED'],
      ['header_length 13', (b) => b.writeUInt32BE(13, 100), 'BG_QCOW2_BAD_HEADER'],
      [
        'a header extension longer than the cluster',
        (b) => b.writeUInt32BE(0x7fff_ffff, 0x74),
        'BG_QCOW2_BAD_HEADER',
      ],
      ['refcount_order 7', (b) => b.writeUInt32BE(7, 96), 'BG_QCOW2_BAD_HEADER'],
      ['backing file name past the end', (b) => b.writeBigUInt64BE(1n << 40n, 8), 'BG_QCOW2_BACKING_FILE'],
    ])('%s → %s', async (_what, patch, code) => {
      await expectCode(readAll(patched(patch)), code);
    });

    it('accepts the dirty bit and reads the same bytes', async () => {
      const dirty = patched((b) => b.writeUInt32BE(1, 76));
      const disk = await openQcow2Disk(bufferSource(dirty));
      expect(disk.header.dirty).toBe(true);
      expect(await readAll(dirty)).toBe(await readAll(base));
    });

    it('enforces the documented limits when given smaller ones', async () => {
      await expectCode(readAll(base, { maxVirtualSize: 1000 }), 'BG_QCOW2_LIMIT', /maxVirtualSize/);
      await expectCode(readAll(base, { maxClusterSize: 4096 }), 'BG_QCOW2_LIMIT', /maxClusterSize/);
      await expectCode(readAll(base, { maxL1Entries: 0 }), 'BG_QCOW2_LIMIT', /maxL1Entries/);
    });
  });
});
