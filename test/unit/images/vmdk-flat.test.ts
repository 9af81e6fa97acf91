/**
 * VMDK descriptor files with their extents (monolithicFlat, twoGbMaxExtentFlat,
 * twoGbMaxExtentSparse, hand-written FLAT/VMFS/SPARSE/ZERO mixes) opened for random access and
 * checked against the raw disk and qemu-img; missing, unsupported and differencing → typed errors.
 */
import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isImageError, type ImageErrorCode } from '../../../shared/images/errors';
import { hashDisk, streamFrom } from '../../../shared/images/extents';
import { writeRawSparse } from '../../../shared/images/raw-writer';
import { openRandomAccess } from '../../../shared/images/random-access';
import type { RandomAccessDisk } from '../../../shared/images/random-access-disk';
import { bufferSource, fileSource, type ByteSource } from '../../../shared/images/source';
import { SECTOR } from '../../../shared/images/vmdk-format';
import {
  openDescriptorVmdk,
  resolveInDirectory,
  type DescriptorVmdkDisk,
} from '../../../shared/images/vmdk-flat';
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

const tmp = useTmpDir('bg-vmdk-flat-');
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

async function expectReadsLike(
  disk: RandomAccessDisk,
  raw: ByteSource,
  seed: number,
  around: number[] = [],
): Promise<void> {
  const r = pseudoRandom(150 * 8, seed);
  const probes: Array<[number, number]> = around.map((at) => [Math.max(0, at - 100 * KiB), 200 * KiB]);
  for (let i = 0; i < 150; i++) {
    const offset = Math.floor((r.readUInt32LE(i * 8) / 2 ** 32) * disk.capacity);
    probes.push([offset, Math.min(disk.capacity - offset, r.readUInt32LE(i * 8 + 4) % (300 * KiB))]);
  }
  for (const [offset, length] of probes) {
    const len = Math.min(length, disk.capacity - offset);
    if (!(await disk.read(offset, len)).equals(await raw.read(offset, len))) {
      throw new Error(`read(${offset}, ${len}) differs from the raw bytes`);
    }
  }
}

async function open(descriptor: string): Promise<DescriptorVmdkDisk> {
  const src = await fileSource(descriptor);
  try {
    return (await openRandomAccess(src, { resolve: resolveInDirectory(tmp.dir) })) as DescriptorVmdkDisk;
  } finally {
    await src.close();
  }
}

const small: Array<{ name: string; capacity: number; patches: Patch[] }> = [
  { name: 'random', capacity: 40 * MiB + 7 * SECTOR, patches: randomPatches(4, 40 * MiB + 7 * SECTOR, 10) },
  { name: 'empty', capacity: 3 * MiB + SECTOR, patches: [] },
  {
    name: 'full',
    capacity: 2 * MiB + 3 * SECTOR,
    patches: [{ offset: 0, data: pseudoRandom(2 * MiB + 3 * SECTOR, 9) }],
  },
];

describe('openDescriptorVmdk on descriptors qemu-img writes', () => {
  it.each(
    small.flatMap((c) =>
      ['monolithicFlat', 'twoGbMaxExtentSparse', 'twoGbMaxExtentFlat'].map((s) => [c.name, s, c] as const),
    ),
  )('%s as %s reads like the raw disk', async (name, subformat, c) => {
    // Prepare
    const rawPath = join(tmp.dir, `${name}.raw`);
    const vmdk = join(tmp.dir, `${name}-${subformat}.vmdk`);
    await writeSparseRaw(rawPath, c.capacity, c.patches);
    const conv = await qemuImg(
      'convert',
      '-f',
      'raw',
      '-O',
      'vmdk',
      '-o',
      `subformat=${subformat}`,
      rawPath,
      vmdk,
    );
    expect(conv.code).toBe(0);
    const raw = rawDisk(c.capacity, c.patches);
    // Act
    const disk = await open(vmdk);
    try {
      const hashed = await hashDisk(streamFrom(disk, { chunkSize: MiB + SECTOR }));
      // Assess
      expect(disk.format).toBe('vmdk-descriptor');
      expect(disk.descriptor.createType).toBe(subformat);
      expect(disk.capacity).toBe(c.capacity);
      expect(hashed.sha256).toBe(sha256(raw));
      await expectReadsLike(disk, bufferSource(raw), c.capacity);
    } finally {
      await disk.close();
    }
  });

  it.each(['twoGbMaxExtentSparse', 'twoGbMaxExtentFlat'])(
    'a 2 GiB + 3 MiB disk as %s: two extents, reads across the boundary, qemu-img compare',
    async (subformat) => {
      // Prepare
      const capacity = 2 * GiB + 3 * MiB;
      const patches = [
        { offset: 2 * GiB - 5000, data: pseudoRandom(10_000, 1) },
        { offset: 100 * MiB + 3, data: pseudoRandom(70_000, 2) },
        { offset: capacity - 4, data: Buffer.from('last') },
      ];
      const rawPath = join(tmp.dir, `big-${subformat}.raw`);
      const vmdk = join(tmp.dir, `big-${subformat}.vmdk`);
      const ours = join(tmp.dir, `big-${subformat}.ours.raw`);
      await writeSparseRaw(rawPath, capacity, patches);
      const conv = await qemuImg(
        'convert',
        '-f',
        'raw',
        '-O',
        'vmdk',
        '-o',
        `subformat=${subformat}`,
        rawPath,
        vmdk,
      );
      expect(conv.code).toBe(0);
      const rawSrc = await fileSource(rawPath);
      const disk = await open(vmdk);
      try {
        // Act
        const boundary = await disk.read(2 * GiB - 5000, 10_000);
        if (subformat === 'twoGbMaxExtentSparse') await writeRawSparse(streamFrom(disk), ours);
        // Assess
        expect(disk.extents.map((e) => [e.type, e.start, e.length])).toEqual([
          [subformat === 'twoGbMaxExtentSparse' ? 'SPARSE' : 'FLAT', 0, 2 * GiB],
          [subformat === 'twoGbMaxExtentSparse' ? 'SPARSE' : 'FLAT', 2 * GiB, 3 * MiB],
        ]);
        expect(boundary.equals(patches[0]!.data)).toBe(true);
        await expectReadsLike(disk, rawSrc, 3, [2 * GiB, 100 * MiB, capacity - 1]);
        if (subformat === 'twoGbMaxExtentSparse') {
          const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'raw', ours, rawPath);
          expect(cmp.stdout).toContain('Images are identical');
          const data: Array<[number, number]> = [];
          for await (const m of disk.map()) if (!m.zero) data.push([m.offset, m.length]);
          expect(data.reduce((n, [, l]) => n + l, 0)).toBeLessThanOrEqual(5 * 64 * KiB);
        }
      } finally {
        await disk.close();
        await rawSrc.close();
      }
    },
  );
});

/** The extent files of the hand-written descriptors below. */
async function mixFiles(): Promise<{ flat: Buffer; vmfs: Buffer; sparsePatch: Patch }> {
  const flat = pseudoRandom(64 * KiB, 31);
  const vmfs = pseudoRandom(8 * KiB, 32);
  await writeFile(join(tmp.dir, 'mix-flat.bin'), flat);
  await writeFile(join(tmp.dir, 'mix-vmfs.bin'), vmfs);
  const sparsePatch = { offset: 300_000, data: pseudoRandom(5000, 33) };
  await writeSparseRaw(join(tmp.dir, 'mix-sparse.raw'), MiB, [sparsePatch]);
  const conv = await qemuImg(
    'convert',
    '-f',
    'raw',
    '-O',
    'vmdk',
    join(tmp.dir, 'mix-sparse.raw'),
    join(tmp.dir, 'mix-sparse.vmdk'),
  );
  expect(conv.code).toBe(0);
  return { flat, vmfs, sparsePatch };
}

describe('hand-written descriptors', () => {
  it('FLAT with a start offset, VMFS, ZERO, RDONLY and SPARSE extents concatenate in order', async () => {
    // Prepare: a flat file holding two extents' data at sector offsets, a VMFS file, a sparse
    // extent, a zero extent
    const { flat, vmfs, sparsePatch } = await mixFiles();
    const lines = [
      'RW 16 FLAT "mix-flat.bin" 100',
      'RW 2048 ZERO',
      'RW 2048 SPARSE "mix-sparse.vmdk"',
      'RDONLY 16 VMFS "mix-vmfs.bin"',
      'RW 4 FLAT "mix-flat.bin" 0',
    ];
    const header =
      '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n';
    await writeFile(
      join(tmp.dir, 'mix.vmdk'),
      `${header}# Extent description\n${lines.join('\n')}\n\nddb.adapterType = "lsilogic"\n`,
    );
    const expected = Buffer.concat([
      flat.subarray(100 * SECTOR, 116 * SECTOR),
      Buffer.alloc(MiB),
      rawDisk(MiB, [sparsePatch]),
      vmfs,
      flat.subarray(0, 4 * SECTOR),
    ]);
    // Act
    const disk = await open(join(tmp.dir, 'mix.vmdk'));
    try {
      const hashed = await hashDisk(streamFrom(disk));
      const ranges = [];
      for await (const m of disk.map(8 * KiB - 10, 20 + MiB)) ranges.push(m);
      // Assess
      expect(disk.capacity).toBe(expected.length);
      expect(hashed.sha256).toBe(sha256(expected));
      await expectReadsLike(disk, bufferSource(expected), 9, [8 * KiB, MiB + 8 * KiB, 2 * MiB + 8 * KiB]);
      expect(ranges[0]).toEqual({ offset: 8 * KiB - 10, length: 10, zero: false });
      expect(ranges[1]).toEqual({ offset: 8 * KiB, length: MiB, zero: true });
      expect(ranges.reduce((n, m) => n + m.length, 0)).toBe(20 + MiB);
    } finally {
      await disk.close();
    }
  });

  it('the same mix without the extents qemu-img 7.2 skips (ZERO, RDONLY) reads as qemu-img reads it', async () => {
    // Prepare
    await mixFiles();
    const text = [
      '# Disk DescriptorFile',
      'CID=12345678',
      'parentCID=ffffffff',
      'createType="monolithicFlat"',
      'RW 16 FLAT "mix-flat.bin" 100',
      'RW 2048 SPARSE "mix-sparse.vmdk"',
      'RW 16 VMFS "mix-vmfs.bin"',
      'RW 4 FLAT "mix-flat.bin" 0',
    ].join('\n');
    const desc = join(tmp.dir, 'mix-qemu.vmdk');
    await writeFile(desc, text);
    const qemuRaw = join(tmp.dir, 'mix-qemu.raw');
    expect((await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', desc, qemuRaw)).code).toBe(0);
    const qemuSrc = await fileSource(qemuRaw);
    // Act
    const disk = await open(desc);
    try {
      const hashed = await hashDisk(streamFrom(disk));
      // Assess
      expect(disk.capacity).toBe(qemuSrc.size);
      expect(hashed.sha256).toBe(sha256(await qemuSrc.read(0, qemuSrc.size)));
      await expectReadsLike(disk, qemuSrc, 10, [8 * KiB, MiB + 8 * KiB]);
    } finally {
      await disk.close();
      await qemuSrc.close();
    }
  });

  const refused = async (
    text: string,
    code: ImageErrorCode,
    pattern: RegExp,
    withResolver = true,
  ): Promise<void> => {
    const opened = openDescriptorVmdk(
      bufferSource(Buffer.from(text), 'hand.vmdk'),
      withResolver ? { resolve: resolveInDirectory(tmp.dir) } : {},
    );
    const err = await opened.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isImageError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
    expect((err as Error).message).toMatch(pattern);
  };
  const head = '# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n';

  it('a missing extent file, or no resolver, is BG_VMDK_MISSING_EXTENT naming the file', async () => {
    await refused(
      `${head}RW 16 FLAT "nowhere-flat.vmdk" 0\n`,
      'BG_VMDK_MISSING_EXTENT',
      /"nowhere-flat\.vmdk"/,
    );
    await writeFile(join(tmp.dir, 'there.bin'), Buffer.alloc(8192));
    await refused(
      `${head}RW 16 FLAT "there.bin" 0\n`,
      'BG_VMDK_MISSING_EXTENT',
      /"there\.bin".*no resolver/,
      false,
    );
    await refused(`${head}RW 16 SPARSE "gone-s001.vmdk"\n`, 'BG_VMDK_MISSING_EXTENT', /gone-s001\.vmdk/);
  });

  it('a short flat file is BG_IMAGE_TRUNCATED; a path out of the folder is refused', async () => {
    await writeFile(join(tmp.dir, 'short.bin'), Buffer.alloc(8192));
    await refused(`${head}RW 16 FLAT "short.bin" 1\n`, 'BG_IMAGE_TRUNCATED', /"short\.bin" has 8192 bytes/);
    await refused(`${head}RW 16 FLAT "../etc/passwd" 0\n`, 'BG_VMDK_BAD_DESCRIPTOR', /\.\.\/etc\/passwd/);
    await refused(`${head}RW 16 FLAT "/etc/passwd" 0\n`, 'BG_VMDK_BAD_DESCRIPTOR', /\/etc\/passwd/);
  });

  it('device and delta extents are BG_VMDK_UNSUPPORTED_EXTENT; a child disk is BG_VMDK_DIFFERENCING naming its parent', async () => {
    await refused(`${head}RW 16 VMFSRDM "rdm.vmdk"\n`, 'BG_VMDK_UNSUPPORTED_EXTENT', /VMFSRDM/);
    await refused(
      `${head}createType="vmfsRawDeviceMap"\nRW 16 VMFS "x.vmdk"\n`,
      'BG_VMDK_UNSUPPORTED_EXTENT',
      /vmfsRawDeviceMap/,
    );
    await refused(`${head}NOACCESS 16 FLAT "x.bin" 0\n`, 'BG_VMDK_UNSUPPORTED_EXTENT', /NOACCESS/);
    await refused(
      '# Disk DescriptorFile\nCID=1\nparentCID=abcdef01\ncreateType="vmfsSparse"\nparentFileNameHint="base-disk.vmdk"\nRW 16 VMFSSPARSE "d-delta.vmdk"\n',
      'BG_VMDK_DIFFERENCING',
      /parent "base-disk\.vmdk"/,
    );
  });

  it('no extents, a limit exceeded → BG_VMDK_BAD_DESCRIPTOR / BG_VMDK_LIMIT', async () => {
    await refused(`${head}createType="monolithicFlat"\n`, 'BG_VMDK_BAD_DESCRIPTOR', /no extents/);
    await refused(`${head}RW 999999999999999 ZERO\n`, 'BG_VMDK_LIMIT', /maxCapacityBytes/);
    await refused(`${head}RW 16 FLAT\n`, 'BG_VMDK_BAD_DESCRIPTOR', /names no file/);
  });
});
