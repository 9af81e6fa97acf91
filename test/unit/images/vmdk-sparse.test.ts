/**
 * Random access to monolithicSparse and streamOptimized VMDKs written by qemu-img (the reference):
 * generated random sparse raw disks → qemu-img convert → openSparseVmdk → same SHA-256, same bytes
 * at random ranges. Plus differencing, truncated and hostile headers.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isImageError, type ImageErrorCode } from '../../../shared/images/errors';
import { diskFromBuffer, hashDisk, streamFrom, type DiskExtent } from '../../../shared/images/extents';
import { bufferSource, fileSource } from '../../../shared/images/source';
import { openRandomAccess } from '../../../shared/images/random-access';
import type { RandomAccessDisk } from '../../../shared/images/random-access-disk';
import { FLAG_COMPRESSED, FLAG_ZERO_GRAIN_GTE, GD_AT_END, SECTOR } from '../../../shared/images/vmdk-format';
import { openSparseVmdk } from '../../../shared/images/vmdk-sparse';
import { writeMonolithicSparseVmdk } from '../../../shared/images/vmdk-sparse-writer';
import { writeStreamOptimizedVmdk } from '../../../shared/images/vmdk-stream-writer';
import {
  join,
  pseudoRandom,
  qemuImg,
  randomPatches,
  rawDisk,
  sha256,
  writeSparseRaw,
  type Patch,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir('bg-vmdk-sparse-');
const KiB = 1024;
const MiB = 1024 * KiB;

const cases: Array<{ name: string; capacity: number; patches: Patch[] }> = [
  // 40 MiB + 7 sectors: two grain tables, last grain partial
  {
    name: 'random-sparse',
    capacity: 40 * MiB + 7 * SECTOR,
    patches: randomPatches(3, 40 * MiB + 7 * SECTOR, 12),
  },
  { name: 'empty', capacity: 3 * MiB + SECTOR, patches: [] },
  {
    name: 'full',
    capacity: 2 * MiB + 3 * SECTOR,
    patches: [{ offset: 0, data: pseudoRandom(2 * MiB + 3 * SECTOR, 9) }],
  },
  {
    name: 'edges',
    capacity: 5 * MiB,
    patches: [
      { offset: 0, data: Buffer.from('first') },
      { offset: 5 * MiB - 4, data: Buffer.from('last') },
      { offset: 64 * KiB - 1, data: Buffer.from('xy') },
    ],
  },
];

async function expectSameAsRaw(disk: RandomAccessDisk, raw: Buffer, seed: number): Promise<void> {
  expect(disk.capacity).toBe(raw.length);
  const hashed = await hashDisk(streamFrom(disk, { chunkSize: 1 * MiB + 3 * SECTOR }));
  expect(hashed.sha256).toBe(sha256(raw));
  const r = pseudoRandom(200 * 8, seed);
  for (let i = 0; i < 200; i++) {
    const offset = r.readUInt32LE(i * 8) % raw.length;
    const length = Math.min(raw.length - offset, r.readUInt32LE(i * 8 + 4) % (300 * KiB));
    const got = await disk.read(offset, length);
    if (!got.equals(raw.subarray(offset, offset + length))) {
      throw new Error(`read(${offset}, ${length}) differs from the raw bytes`);
    }
  }
  let pos = 0;
  for await (const m of disk.map()) {
    expect(m.offset).toBe(pos);
    if (m.zero) expect(raw.subarray(m.offset, m.offset + m.length).every((b) => b === 0)).toBe(true);
    pos += m.length;
  }
  expect(pos).toBe(raw.length);
}

async function qemuVmdk(name: string, raw: string, subformat: string): Promise<string> {
  const out = join(tmp.dir, `${name}-${subformat}.vmdk`);
  const r = await qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${subformat}`, raw, out);
  if (r.code !== 0) throw new Error(`qemu-img convert failed: ${r.stderr}`);
  return out;
}

describe('openSparseVmdk on VMDKs qemu-img writes', () => {
  it.each(cases.flatMap((c) => ['monolithicSparse', 'streamOptimized'].map((s) => [c.name, s, c] as const)))(
    '%s as %s reads like the raw disk',
    async (name, subformat, c) => {
      // Prepare
      const rawPath = join(tmp.dir, `${name}.raw`);
      await writeSparseRaw(rawPath, c.capacity, c.patches);
      const vmdk = await qemuVmdk(name, rawPath, subformat);
      const raw = rawDisk(c.capacity, c.patches);
      const src = await fileSource(vmdk);
      try {
        // Act
        const disk = await openRandomAccess(src);
        // Assess
        expect(disk.format).toBe(
          subformat === 'streamOptimized' ? 'vmdk-stream-optimized' : 'vmdk-monolithic-sparse',
        );
        await expectSameAsRaw(disk, raw, c.capacity);
      } finally {
        await src.close();
      }
    },
  );

  it('maps unallocated grains as zero without reading them, and data grains as data', async () => {
    // Prepare
    const capacity = 8 * MiB;
    const patches = [{ offset: 3 * MiB + 100, data: pseudoRandom(1000, 4) }];
    const rawPath = join(tmp.dir, 'map.raw');
    await writeSparseRaw(rawPath, capacity, patches);
    const vmdk = await readFile(await qemuVmdk('map', rawPath, 'monolithicSparse'));
    // Act
    const disk = await openSparseVmdk(bufferSource(vmdk, 'map.vmdk'));
    const ranges = [];
    for await (const m of disk.map()) ranges.push(m);
    // Assess
    expect(ranges).toEqual([
      { offset: 0, length: 3 * MiB, zero: true },
      { offset: 3 * MiB, length: 64 * KiB, zero: false },
      { offset: 3 * MiB + 64 * KiB, length: capacity - 3 * MiB - 64 * KiB, zero: true },
    ]);
    expect(disk.gdFrom).toBe('header');
    expect(disk.compressed).toBe(false);
  });

  it('reads zero grains (GTE 1) as zeros, as qemu-img does, through a one-table cache', async () => {
    // Prepare: a 64 MiB disk with data in both grain tables; then mark its second grain a zero grain
    const capacity = 64 * MiB;
    const patches = [
      { offset: 0, data: pseudoRandom(128 * KiB, 5) },
      { offset: 40 * MiB, data: pseudoRandom(64 * KiB, 6) },
    ];
    const rawPath = join(tmp.dir, 'zg.raw');
    await writeSparseRaw(rawPath, capacity, patches);
    const vmdk = await readFile(await qemuVmdk('zg', rawPath, 'monolithicSparse'));
    const gt = vmdk.readUInt32LE(Number(vmdk.readBigUInt64LE(56)) * SECTOR) * SECTOR;
    expect(vmdk.readUInt32LE(gt + 4)).toBeGreaterThan(1);
    vmdk.writeUInt32LE(1, gt + 4);
    vmdk.writeUInt32LE(vmdk.readUInt32LE(8) | FLAG_ZERO_GRAIN_GTE, 8);
    const zgPath = join(tmp.dir, 'zg-zeroed.vmdk');
    await writeFile(zgPath, vmdk);
    const qemuRaw = join(tmp.dir, 'zg-qemu.raw');
    expect((await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', zgPath, qemuRaw)).code).toBe(0);
    const raw = rawDisk(capacity, patches);
    raw.fill(0, 64 * KiB, 128 * KiB);
    // Act
    const disk = await openSparseVmdk(bufferSource(vmdk), { vmdk: { grainTableCache: 1 } });
    // Assess
    expect(sha256(await readFile(qemuRaw))).toBe(sha256(raw));
    await expectSameAsRaw(disk, raw, 77);
  });
});

describe('openSparseVmdk refuses what it cannot read, with typed errors', () => {
  async function smallVmdk(subformat = 'monolithicSparse'): Promise<Buffer> {
    const rawPath = join(tmp.dir, `small-${subformat}.raw`);
    await writeSparseRaw(rawPath, 2 * MiB, [{ offset: 70_000, data: pseudoRandom(100_000, 8) }]);
    return readFile(await qemuVmdk('small', rawPath, subformat));
  }
  const rejects = async (buf: Buffer, code: ImageErrorCode, pattern?: RegExp): Promise<void> => {
    const attempt = async (): Promise<void> => {
      const disk = await openSparseVmdk(bufferSource(buf, 'hostile.vmdk'));
      await hashDisk(streamFrom(disk));
    };
    const err = await attempt().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isImageError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
    if (pattern) expect((err as Error).message).toMatch(pattern);
  };

  it('a differencing VMDK names its parent (BG_VMDK_DIFFERENCING)', async () => {
    // Prepare
    const base = join(tmp.dir, 'base.vmdk');
    const child = join(tmp.dir, 'child.vmdk');
    expect((await qemuImg('create', '-f', 'vmdk', base, '4M')).code).toBe(0);
    expect((await qemuImg('create', '-f', 'vmdk', '-b', base, '-F', 'vmdk', child)).code).toBe(0);
    const src = await fileSource(child);
    // Act
    const err = await openRandomAccess(src).then(
      () => undefined,
      (e: unknown) => e,
    );
    await src.close();
    // Assess
    expect(isImageError(err, 'BG_VMDK_DIFFERENCING')).toBe(true);
    expect((err as Error).message).toContain(base);
  });

  it('a cut file is BG_IMAGE_TRUNCATED (monolithicSparse and streamOptimized)', async () => {
    for (const sub of ['monolithicSparse', 'streamOptimized']) {
      const vmdk = await smallVmdk(sub);
      await rejects(vmdk.subarray(0, vmdk.length - 64 * KiB), 'BG_IMAGE_TRUNCATED');
      await rejects(vmdk.subarray(0, 300), 'BG_IMAGE_TRUNCATED');
      await rejects(vmdk.subarray(0, 1536), 'BG_IMAGE_TRUNCATED');
    }
  });

  it('hostile headers: bad magic, version, grain size, capacity, GTEs per table, GD offset', async () => {
    const vmdk = await smallVmdk();
    const patch = (f: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(vmdk);
      f(b);
      return b;
    };
    await rejects(
      patch((b) => b.write('XXXX', 0, 'latin1')),
      'BG_VMDK_BAD_MAGIC',
    );
    await rejects(
      patch((b) => b.writeUInt32LE(9, 4)),
      'BG_VMDK_BAD_VERSION',
    );
    await rejects(
      patch((b) => b.writeBigUInt64LE(100n, 20)),
      'BG_VMDK_BAD_HEADER',
      /power of two/,
    );
    await rejects(
      patch((b) => b.writeBigUInt64LE(1n << 20n, 20)),
      'BG_VMDK_LIMIT',
    );
    await rejects(
      patch((b) => b.writeBigUInt64LE(1n << 40n, 12)),
      'BG_VMDK_LIMIT',
      /maxCapacityBytes/,
    );
    await rejects(
      patch((b) => b.writeUInt32LE(0, 44)),
      'BG_VMDK_BAD_HEADER',
    );
    await rejects(
      patch((b) => b.writeUInt32LE(1 << 20, 44)),
      'BG_VMDK_LIMIT',
    );
    await rejects(
      patch((b) => b.writeBigUInt64LE(0n, 56)),
      'BG_VMDK_BAD_HEADER',
      /gdOffset/,
    );
    await rejects(
      patch((b) => b.writeBigUInt64LE(1n << 40n, 56)),
      'BG_IMAGE_TRUNCATED',
    );
    await rejects(
      patch((b) => b.writeBigUInt64LE(GD_AT_END, 56)),
      'BG_IMAGE_TRUNCATED',
      /footer/,
    );
    await rejects(
      patch((b) => {
        b.writeUInt32LE(b.readUInt32LE(8) | FLAG_COMPRESSED, 8);
        b.writeUInt16LE(7, 77);
      }),
      'BG_VMDK_BAD_HEADER',
      /compressAlgorithm 7/,
    );
  });

  it('hostile grain tables and grains: pointers past the end, a wrong grain marker, bad zlib', async () => {
    // Prepare: locate the first allocated grain table entry of each flavour
    const sparse = await smallVmdk('monolithicSparse');
    const stream = await smallVmdk('streamOptimized');
    const firstGte = (b: Buffer): { at: number; value: number } => {
      const gt = b.readUInt32LE(Number(b.readBigUInt64LE(56)) * SECTOR) * SECTOR;
      for (let i = 0; i < 512; i++) {
        const value = b.readUInt32LE(gt + i * 4);
        if (value > 1) return { at: gt + i * 4, value };
      }
      throw new Error('no allocated grain');
    };
    // Act + Assess
    const s = firstGte(sparse);
    const badSparse = Buffer.from(sparse);
    badSparse.writeUInt32LE(0x7fffffff, s.at);
    await rejects(badSparse, 'BG_IMAGE_TRUNCATED');
    const st = firstGte(stream);
    const wrongLba = Buffer.from(stream);
    wrongLba.writeBigUInt64LE(12345n, st.value * SECTOR);
    await rejects(wrongLba, 'BG_VMDK_CORRUPT_GRAIN', /grain marker for LBA 12345/);
    const hugeSize = Buffer.from(stream);
    hugeSize.writeUInt32LE(0xffffffff, st.value * SECTOR + 8);
    await rejects(hugeSize, 'BG_VMDK_CORRUPT_GRAIN');
    const badZlib = Buffer.from(stream);
    badZlib.fill(0xaa, st.value * SECTOR + 12, st.value * SECTOR + 40);
    await rejects(badZlib, 'BG_VMDK_CORRUPT_GRAIN', /decompress/);
  });

  it('reads outside the disk are BG_IMAGE_INVALID_ARGUMENT', async () => {
    const disk = await openSparseVmdk(bufferSource(await smallVmdk()));
    await expect(disk.read(2 * MiB - 10, 11)).rejects.toSatisfy((e: unknown) =>
      isImageError(e, 'BG_IMAGE_INVALID_ARGUMENT'),
    );
    await expect(disk.read(-1, 1)).rejects.toSatisfy((e: unknown) =>
      isImageError(e, 'BG_IMAGE_INVALID_ARGUMENT'),
    );
    expect(await disk.read(2 * MiB, 0)).toEqual(Buffer.alloc(0));
  });
});

describe('openSparseVmdk on VMware-layout streamOptimized (grain directory at the end)', () => {
  it('finds the grain directory through the footer', async () => {
    // Prepare: our own stream writer writes VMware's layout
    const raw = rawDisk(37 * MiB + SECTOR, randomPatches(11, 37 * MiB + SECTOR, 8));
    const parts: Buffer[] = [];
    for await (const c of writeStreamOptimizedVmdk(diskFromBuffer(raw))) parts.push(c);
    const vmdk = Buffer.concat(parts);
    await writeFile(join(tmp.dir, 'vmware-layout.vmdk'), vmdk);
    // Act
    const disk = await openSparseVmdk(bufferSource(vmdk, 'vmware-layout.vmdk'));
    // Assess
    expect(vmdk.readBigUInt64LE(56)).toBe(GD_AT_END);
    expect(disk.gdFrom).toBe('footer');
    await expectSameAsRaw(disk, raw, 5);
  });
});

describe('writeMonolithicSparseVmdk', () => {
  it.each([
    ...cases,
    {
      name: 'three-tables',
      capacity: 70 * MiB + 9 * SECTOR,
      patches: randomPatches(12, 70 * MiB + 9 * SECTOR, 10),
    },
  ])('$name: qemu-img check passes, qemu-img compare finds it identical, we read it back', async (c) => {
    // Prepare
    const rawPath = join(tmp.dir, `w-${c.name}.raw`);
    await writeSparseRaw(rawPath, c.capacity, c.patches);
    const raw = rawDisk(c.capacity, c.patches);
    const out = join(tmp.dir, `w-${c.name}.vmdk`);
    // Act
    const written = await writeMonolithicSparseVmdk(diskFromBuffer(raw), out, { cid: 0x1234 });
    // Assess
    const check = await qemuImg('check', '-f', 'vmdk', out);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', rawPath, out);
    expect(cmp.stdout).toContain('Images are identical');
    const info = JSON.parse((await qemuImg('info', '--output=json', out)).stdout) as {
      'format-specific': { data: { 'create-type': string } };
    };
    expect(info['format-specific'].data['create-type']).toBe('monolithicSparse');
    const bytes = await readFile(out);
    expect(bytes.length).toBe(written.fileSize);
    const disk = await openSparseVmdk(bufferSource(bytes, out));
    await expectSameAsRaw(disk, raw, 3);
    const dataGrains = new Set<number>();
    for (let g = 0; g * 64 * KiB < c.capacity; g++) {
      if (!raw.subarray(g * 64 * KiB, (g + 1) * 64 * KiB).every((b) => b === 0)) dataGrains.add(g);
    }
    expect(written.grains).toBe(dataGrains.size);
  });

  it('refuses a capacity that is not whole sectors, and leaves no file when the stream fails', async () => {
    const out = join(tmp.dir, 'w-bad.vmdk');
    await expect(writeMonolithicSparseVmdk(diskFromBuffer(Buffer.alloc(1000)), out)).rejects.toSatisfy(
      (e: unknown) => isImageError(e, 'BG_IMAGE_UNALIGNED'),
    );
    const failing = {
      capacity: MiB,
      extents: (async function* (): AsyncGenerator<DiskExtent> {
        yield { kind: 'data', offset: 0, data: Buffer.alloc(512, 1) };
        throw new Error('source went away');
      })(),
    };
    await expect(writeMonolithicSparseVmdk(failing, out)).rejects.toThrow('source went away');
    expect(existsSync(out)).toBe(false);
  });
});
