import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { diskToRaw, hashDisk } from '../../../shared/images/extents';
import { FLAG_COMPRESSED, FLAG_MARKERS } from '../../../shared/images/vmdk-format';
import { parseVmdkDescriptor, VmdkStreamReader } from '../../../shared/images/vmdk-stream-reader';
import {
  chunked,
  collect,
  fileChunks,
  join,
  pseudoRandom,
  qemuImg,
  qemuStreamOptimized,
  rawDisk,
  sha256,
  writeSparseRaw,
  type Patch,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir();

const MiB = 1024 * 1024;

const cases: Array<{ name: string; capacity: number; patches: Patch[] }> = [
  { name: 'data-at-start', capacity: 4 * MiB, patches: [{ offset: 0, data: pseudoRandom(100_000, 1) }] },
  {
    name: 'data-in-middle',
    capacity: 40 * MiB,
    patches: [{ offset: 33 * MiB + 123, data: pseudoRandom(70_000, 2) }],
  },
  { name: 'data-at-end', capacity: 3 * MiB, patches: [{ offset: 3 * MiB - 5, data: Buffer.from('tail!') }] },
  {
    name: 'capacity-not-grain-multiple',
    capacity: 2 * MiB + 3 * 512,
    patches: [
      { offset: 1000, data: Buffer.from('start') },
      { offset: 2 * MiB + 3 * 512 - 4, data: Buffer.from('last') },
    ],
  },
  {
    name: 'compressible-and-mixed',
    capacity: 8 * MiB,
    patches: [
      { offset: 0, data: Buffer.alloc(200_000, 0x41) },
      { offset: 5 * MiB, data: pseudoRandom(300_000, 3) },
    ],
  },
  { name: 'all-zero', capacity: 1 * MiB, patches: [] },
];

describe('VmdkStreamReader against qemu-img streamOptimized output', () => {
  it.each(cases)('$name: content hash equals the raw hash', async ({ name, capacity, patches }) => {
    // Prepare
    const vmdk = await qemuStreamOptimized(tmp.dir, name, capacity, patches);
    const expected = sha256(rawDisk(capacity, patches));
    // Act
    const disk = await new VmdkStreamReader().read(fileChunks(vmdk));
    const h = await hashDisk(disk);
    // Assess
    expect(disk.capacity).toBe(capacity);
    expect(disk.descriptor.createType).toBe('streamOptimized');
    expect(disk.layout).toBe('gd-in-header');
    expect(h.sha256).toBe(expected);
  });

  it('reads with 1-byte input chunks', async () => {
    // Prepare
    const patches = [{ offset: 70_000, data: pseudoRandom(5000, 9) }];
    const vmdk = await readFile(await qemuStreamOptimized(tmp.dir, 'onebyte', 256 * 1024, patches));
    // Act
    const disk = await new VmdkStreamReader().read(chunked(vmdk, 1));
    const raw = await collect(diskToRaw(disk));
    // Assess
    expect(raw.equals(rawDisk(256 * 1024, patches))).toBe(true);
  });

  it('throws BG_IMAGE_TRUNCATED (and never hangs) for a file cut at many offsets', async () => {
    // Prepare
    const vmdk = await readFile(
      await qemuStreamOptimized(tmp.dir, 'trunc', 1 * MiB, [
        { offset: 0, data: pseudoRandom(70_000, 4) },
        { offset: 512 * 1024, data: pseudoRandom(1000, 5) },
      ]),
    );
    // find the end-of-stream marker: the file is valid up to and including it
    const offsets = [0, 1, 100, 511, 512, 513, 2000, 64 * 1024, 64 * 1024 + 12, 64 * 1024 + 600, 100_000];
    const eos = vmdk.length - 1; // anything short of the full file loses at least the padding after EOS
    // Act + Assess
    for (const cut of offsets) {
      const part = vmdk.subarray(0, cut);
      const attempt = (async () => {
        const disk = await new VmdkStreamReader().read(chunked(part, 4096));
        await hashDisk(disk);
      })();
      await expect(attempt, `cut at ${cut}`).rejects.toMatchObject({
        name: 'ImageError',
        code: 'BG_IMAGE_TRUNCATED',
      });
    }
    expect(eos).toBeGreaterThan(100_000);
  });

  it('rejects bad magic, bad version, monolithicSparse and hostile sizes with typed errors', async () => {
    // Prepare
    const vmdk = await readFile(
      await qemuStreamOptimized(tmp.dir, 'hostile', 1 * MiB, [{ offset: 0, data: Buffer.from('x') }]),
    );
    const patched = (f: (b: Buffer) => void) => {
      const b = Buffer.from(vmdk);
      f(b);
      return b;
    };
    const read = (b: Buffer, opts = {}) =>
      (async () => {
        const d = await new VmdkStreamReader(opts).read(chunked(b, 65536));
        await hashDisk(d);
      })();
    // Act + Assess
    await expect(read(patched((b) => b.write('XXXX', 0)))).rejects.toMatchObject({
      code: 'BG_VMDK_BAD_MAGIC',
    });
    await expect(read(patched((b) => b.writeUInt32LE(4, 4)))).rejects.toMatchObject({
      code: 'BG_VMDK_BAD_VERSION',
    });
    await expect(read(patched((b) => b.writeUInt32LE(0, 4)))).rejects.toMatchObject({
      code: 'BG_VMDK_BAD_VERSION',
    });
    await expect(
      read(patched((b) => b.writeUInt32LE(b.readUInt32LE(8) & ~FLAG_COMPRESSED, 8))),
    ).rejects.toMatchObject({
      code: 'BG_VMDK_NOT_STREAM_OPTIMIZED',
    });
    await expect(
      read(patched((b) => b.writeUInt32LE(b.readUInt32LE(8) & ~FLAG_MARKERS, 8))),
    ).rejects.toMatchObject({
      code: 'BG_VMDK_NOT_STREAM_OPTIMIZED',
    });
    await expect(read(patched((b) => b.writeBigUInt64LE(0xffffffffffffn, 12)))).rejects.toMatchObject({
      code: 'BG_VMDK_LIMIT',
    });
    await expect(read(patched((b) => b.writeBigUInt64LE(1n << 40n, 20)))).rejects.toMatchObject({
      code: 'BG_VMDK_LIMIT',
    });
    await expect(read(patched((b) => b.writeBigUInt64LE(100n, 20)))).rejects.toMatchObject({
      code: 'BG_VMDK_BAD_HEADER',
    });
    await expect(read(patched((b) => b.writeBigUInt64LE(100_000n, 36)))).rejects.toMatchObject({
      code: 'BG_VMDK_LIMIT',
    });
    await expect(read(patched((b) => b.writeBigUInt64LE(1n << 50n, 64)))).rejects.toMatchObject({
      code: 'BG_VMDK_BAD_HEADER',
    });
    await expect(read(vmdk, { maxCapacityBytes: 512 * 1024 })).rejects.toMatchObject({
      code: 'BG_VMDK_LIMIT',
    });
  });

  it('rejects a monolithicSparse VMDK made by qemu-img', async () => {
    const raw = join(tmp.dir, 'ms.raw');
    await writeSparseRaw(raw, MiB, [{ offset: 0, data: Buffer.from('x') }]);
    const out = join(tmp.dir, 'ms.vmdk');
    await qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', raw, out);
    await expect(new VmdkStreamReader().read(fileChunks(out))).rejects.toMatchObject({
      code: 'BG_VMDK_NOT_STREAM_OPTIMIZED',
    });
  });

  it('rejects corrupt grains: out of order, out of range, bad zlib, oversized', async () => {
    // Prepare: two grains so the second marker can be rewritten
    const vmdk = await readFile(
      await qemuStreamOptimized(tmp.dir, 'corrupt', 1 * MiB, [
        { offset: 0, data: Buffer.from('first') },
        { offset: 128 * 1024, data: Buffer.from('second') },
      ]),
    );
    const overHead = Number(vmdk.readBigUInt64LE(64)) * 512;
    const firstSize = vmdk.readUInt32LE(overHead + 8);
    const second = overHead + Math.ceil((12 + firstSize) / 512) * 512;
    expect(vmdk.readBigUInt64LE(second)).toBe(256n);
    const run = async (f: (b: Buffer) => void) => {
      const b = Buffer.from(vmdk);
      f(b);
      const d = await new VmdkStreamReader().read(chunked(b, 65536));
      await hashDisk(d);
    };
    // Act + Assess
    await expect(run((b) => b.writeBigUInt64LE(0n, second))).rejects.toMatchObject({
      code: 'BG_VMDK_CORRUPT_GRAIN',
    });
    await expect(run((b) => b.writeBigUInt64LE(1n << 30n, second))).rejects.toMatchObject({
      code: 'BG_VMDK_CORRUPT_GRAIN',
    });
    await expect(run((b) => b.writeBigUInt64LE(257n, second))).rejects.toMatchObject({
      code: 'BG_VMDK_CORRUPT_GRAIN',
    });
    await expect(run((b) => b.fill(0x55, second + 12, second + 20))).rejects.toMatchObject({
      code: 'BG_VMDK_CORRUPT_GRAIN',
    });
    await expect(run((b) => b.writeUInt32LE(0x7fffffff, second + 8))).rejects.toMatchObject({
      code: 'BG_VMDK_CORRUPT_GRAIN',
    });
    await expect(
      run((b) => {
        b.writeUInt32LE(0, second + 8);
        b.writeUInt32LE(9, second + 12);
      }),
    ).rejects.toMatchObject({ code: 'BG_VMDK_BAD_MARKER' });
  });
});

describe('parseVmdkDescriptor', () => {
  it('reads createType, CID, extents, ddb and geometry', () => {
    const d = parseVmdkDescriptor(
      [
        '# Disk DescriptorFile',
        'version=1',
        'CID=255A27CD',
        'parentCID=ffffffff',
        'createType="streamOptimized"',
        '# Extent description',
        'RDONLY 16777216 SPARSE "ubuntu.2.0-disk1.vmdk"',
        'RW 100 FLAT "x-flat.vmdk" 0',
        'ddb.virtualHWVersion = "4"',
        'ddb.adapterType="ide"',
        'ddb.geometry.cylinders="16383"',
        'ddb.geometry.heads="16"',
        'ddb.geometry.sectors="63"',
        'weird line without equals',
      ].join('\r\n'),
    );
    expect(d).toMatchObject({
      version: 1,
      cid: '255a27cd',
      parentCid: 'ffffffff',
      createType: 'streamOptimized',
      adapterType: 'ide',
      virtualHWVersion: '4',
      geometry: { cylinders: 16383, heads: 16, sectors: 63 },
      capacitySectors: 16777316,
    });
    expect(d.extents).toEqual([
      { access: 'RDONLY', sectors: 16777216, type: 'SPARSE', fileName: 'ubuntu.2.0-disk1.vmdk' },
      { access: 'RW', sectors: 100, type: 'FLAT', fileName: 'x-flat.vmdk', offset: 0 },
    ]);
  });
});
