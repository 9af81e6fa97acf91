import { open as openFile, readFile, stat } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageError, isImageError } from '../../../shared/images/errors';
import { diskFromBuffer, hashDisk, streamFrom } from '../../../shared/images/extents';
import { bufferSource, fileSource } from '../../../shared/images/source';
import { buildVhdFooter } from '../../../shared/images/vhd';
import {
  buildDynamicVhdHeader,
  dynamicVhdOpener,
  openDynamicVhd,
  writeDynamicVhd,
  writeDynamicVhdTo,
} from '../../../shared/images/vhd-dynamic';
import {
  collect,
  join,
  pseudoRandom,
  qemuOk,
  rawDisk,
  sha256,
  sha256File,
  writeSparseRaw,
  writeStreamToFile,
  type Patch,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const KiB = 1024;
const MiB = 1024 * KiB;
const tmp = useTmpDir();

/** qemu-img's own reading of an image, as a raw file (its size is qemu's idea of the virtual size). */
async function qemuRaw(fmt: string, path: string): Promise<string> {
  const out = `${path}.qemu.raw`;
  await qemuOk('convert', '-f', fmt, '-O', 'raw', path, out);
  return out;
}

async function openFileDisk(path: string, opener = openDynamicVhd) {
  const src = await fileSource(path);
  return { src, disk: await opener(src, {}) };
}

const patterns: { name: string; capacity: number; patches: Patch[] }[] = [
  {
    name: 'sparse, size not a multiple of the block',
    capacity: 5 * MiB + 3 * 512,
    patches: [
      { offset: 0, data: pseudoRandom(4096, 1) },
      { offset: 2 * MiB - 700, data: pseudoRandom(1400, 2) },
      { offset: 5 * MiB + 1000, data: pseudoRandom(500, 3) },
    ],
  },
  { name: 'empty', capacity: 4 * MiB, patches: [] },
  { name: 'full', capacity: 3 * MiB, patches: [{ offset: 0, data: pseudoRandom(3 * MiB, 4) }] },
];

describe('dynamic VHD reader on qemu-img images', () => {
  it.each(patterns)(
    '$name: content hash and random reads match qemu-img',
    async ({ name, capacity, patches }) => {
      // Prepare
      const raw = join(tmp.dir, `${name.replace(/\W+/g, '-')}.raw`);
      await writeSparseRaw(raw, capacity, patches);
      const exact = join(tmp.dir, `${name.replace(/\W+/g, '-')}-exact.vhd`);
      const chs = join(tmp.dir, `${name.replace(/\W+/g, '-')}-chs.vhd`);
      await qemuOk('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', raw, exact);
      await qemuOk('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic', raw, chs);
      // without force_size qemu rounds the size up to a CHS geometry: compare with qemu's reading
      const chsRaw = await qemuRaw('vpc', chs);
      const expected = rawDisk(capacity, patches);
      // Act
      const a = await openFileDisk(exact);
      const b = await openFileDisk(chs);
      try {
        const hashA = await hashDisk(streamFrom(a.disk, { chunkSize: 1 * MiB + 512 }));
        const hashB = await hashDisk(streamFrom(b.disk));
        const reads = [
          [0, 4096],
          [2 * MiB - 1000, 2000],
          [capacity - 600, 600],
          [1234 * 512 + 7, (3 * MiB) / 2],
        ] as const;
        // Assess
        expect(a.disk.capacity).toBe(capacity);
        expect(hashA.sha256).toBe(sha256(expected));
        expect(hashA.dataBytes).toBeLessThanOrEqual(patches.length === 0 ? 0 : capacity);
        expect(b.disk.capacity).toBe((await stat(chsRaw)).size);
        expect(b.disk.capacity).toBeGreaterThanOrEqual(capacity);
        expect(hashB.sha256).toBe(await sha256File(chsRaw));
        for (const [off, len] of reads) {
          expect((await a.disk.read(off, len)).equals(expected.subarray(off, off + len))).toBe(true);
        }
      } finally {
        await a.src.close();
        await b.src.close();
      }
    },
  );

  it('map() reports unallocated blocks as zero without reading data', async () => {
    const raw = join(tmp.dir, 'map.raw');
    await writeSparseRaw(raw, 8 * MiB, [{ offset: 5 * MiB, data: pseudoRandom(10, 5) }]);
    const vhd = join(tmp.dir, 'map.vhd');
    await qemuOk('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', raw, vhd);
    const bytes = await readFile(vhd);
    let reads = 0;
    const src = bufferSource(bytes, 'map.vhd');
    const counting = { ...src, read: (o: number, l: number) => (reads++, src.read(o, l)) };
    const disk = await openDynamicVhd(counting, {});
    const before = reads;
    const ranges = [];
    for await (const r of disk.map()) ranges.push(r);
    expect(reads).toBe(before);
    expect(ranges).toEqual([
      { offset: 0, length: 4 * MiB, zero: true },
      { offset: 4 * MiB, length: 2 * MiB, zero: false },
      { offset: 6 * MiB, length: 2 * MiB, zero: true },
    ]);
  });

  it('sectors whose bitmap bit is clear read as zero', async () => {
    const img = await collect(
      writeDynamicVhd(diskFromBuffer(Buffer.alloc(8 * KiB, 0xab)), {
        blockSize: 4 * KiB,
        allocation: [{ offset: 0, length: 8 * KiB, zero: false }],
      }),
    );
    const bat0 = img.readUInt32BE(512 + 1024) * 512;
    img[bat0] = 0b10111111; // sector 1 of block 0 not in use
    const disk = await openDynamicVhd(bufferSource(img), {});
    const got = await disk.read(0, 8 * KiB);
    expect(got.subarray(0, 512).every((b) => b === 0xab)).toBe(true);
    expect(got.subarray(512, 1024).every((b) => b === 0)).toBe(true);
    expect(got.subarray(1024).every((b) => b === 0xab)).toBe(true);
  });
});

describe('dynamic VHD writer', () => {
  it.each(patterns)(
    '$name: qemu-img compare -f vpc finds it identical',
    async ({ name, capacity, patches }) => {
      // Prepare
      const aligned = Math.ceil(capacity / 512) * 512;
      const buf = rawDisk(aligned, patches);
      const raw = join(tmp.dir, `w-${name.replace(/\W+/g, '-')}.raw`);
      await writeSparseRaw(raw, aligned, patches);
      const viaSink = join(tmp.dir, `w-${name.replace(/\W+/g, '-')}-sink.vhd`);
      const viaStream = join(tmp.dir, `w-${name.replace(/\W+/g, '-')}-stream.vhd`);
      // Act
      const fh = await openFile(viaSink, 'w');
      let result;
      try {
        result = await writeDynamicVhdTo(diskFromBuffer(buf), {
          write: (d, p) => fh.write(d, 0, d.length, p),
        });
      } finally {
        await fh.close();
      }
      const sinkSrc = await fileSource(viaSink);
      try {
        const source = await openDynamicVhd(sinkSrc, {});
        await writeStreamToFile(writeDynamicVhd(streamFrom(source), { allocation: source.map() }), viaStream);
      } finally {
        await sinkSrc.close();
      }
      // Assess
      const dataBlocks = new Set(
        patches.flatMap((p) => [
          Math.floor(p.offset / (2 * MiB)),
          Math.floor((p.offset + p.data.length - 1) / (2 * MiB)),
        ]),
      );
      expect(result.allocatedBlocks).toBe(dataBlocks.size);
      expect((await stat(viaSink)).size).toBe(result.size);
      for (const out of [viaSink, viaStream]) {
        const info = JSON.parse(await qemuOk('info', '-f', 'vpc', '--output=json', out)) as {
          'virtual-size': number;
        };
        expect(info['virtual-size']).toBe(aligned);
        expect(await qemuOk('compare', '-f', 'raw', '-F', 'vpc', raw, out)).toContain('Images are identical');
        // qemu-img check does not check vpc ("This image format does not support checks"): reread ours
        const outSrc = await fileSource(out);
        try {
          const d = await openDynamicVhd(outSrc, {});
          expect((await hashDisk(streamFrom(d))).sha256).toBe(sha256(buf));
        } finally {
          await outSrc.close();
        }
      }
      expect((await stat(viaStream)).size).toBe(result.size);
    },
  );

  it('refuses an unaligned capacity and a stream without the allocation up front', () => {
    expect(() => writeDynamicVhd(diskFromBuffer(Buffer.alloc(1000)))).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_UNALIGNED' }),
    );
    expect(() => writeDynamicVhd(diskFromBuffer(Buffer.alloc(1024)))).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
  });

  it('fails when data arrives in a block the allocation calls zero', async () => {
    const stream = writeDynamicVhd(diskFromBuffer(Buffer.alloc(8 * KiB, 1)), {
      blockSize: 4 * KiB,
      allocation: [
        { offset: 0, length: 4 * KiB, zero: false },
        { offset: 4 * KiB, length: 4 * KiB, zero: true },
      ],
    });
    await expect(collect(stream)).rejects.toMatchObject({ code: 'BG_IMAGE_STREAM_STATE' });
  });
});

/** A small valid dynamic VHD: 16 KiB in 4 KiB blocks, blocks 0 and 2 allocated. */
async function tinyVhd(): Promise<Buffer> {
  const buf = Buffer.alloc(16 * KiB);
  pseudoRandom(3000, 9).copy(buf, 100);
  pseudoRandom(700, 10).copy(buf, 9000);
  return collect(
    writeDynamicVhd(diskFromBuffer(buf), {
      blockSize: 4 * KiB,
      allocation: [
        { offset: 0, length: 4 * KiB, zero: false },
        { offset: 4 * KiB, length: 4 * KiB, zero: true },
        { offset: 8 * KiB, length: 4 * KiB, zero: false },
        { offset: 12 * KiB, length: 4 * KiB, zero: true },
      ],
    }),
  );
}

/** A differencing VHD built in code (qemu-img cannot create vpc differencing disks). */
function differencingVhd(parent: string): Buffer {
  const capacity = 4 * MiB;
  const footer = buildVhdFooter(capacity, 3, 512n);
  footer.writeUInt32BE(4, 60);
  footer.writeUInt32BE(0, 64);
  let sum = 0;
  for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += footer[i]!;
  footer.writeUInt32BE(~sum >>> 0, 64);
  const header = buildDynamicVhdHeader({
    tableOffset: 1536,
    maxTableEntries: 2,
    blockSize: 2 * MiB,
    parentName: parent,
  });
  return Buffer.concat([footer, header, Buffer.alloc(512, 0xff), footer]);
}

describe('dynamic VHD hostile input', () => {
  it('differencing disk → BG_VHD_DIFFERENCING naming the parent', async () => {
    const img = differencingVhd('C:\\VMs\\base-disk.vhd');
    await expect(openDynamicVhd(bufferSource(img, 'diff.vhd'), {})).rejects.toMatchObject({
      code: 'BG_VHD_DIFFERENCING',
      message: expect.stringContaining(
        'unsupported: differencing disk, parent C:\\VMs\\base-disk.vhd; merge it first',
      ),
    });
  });

  it('truncated files → BG_IMAGE_TRUNCATED', async () => {
    const img = await tinyVhd();
    for (const cut of [100, 1000, 1600, 2100, img.length - 600]) {
      await expect(openDynamicVhd(bufferSource(img.subarray(0, cut)), {})).rejects.toSatisfy((e: unknown) =>
        isImageError(e, 'BG_IMAGE_TRUNCATED'),
      );
    }
  });

  it('hostile headers → typed errors', async () => {
    const base = await tinyVhd();
    const withHeader = (edit: (h: Buffer) => void): Buffer => {
      const img = Buffer.from(base);
      const h = img.subarray(512, 1536);
      edit(h);
      h.writeUInt32BE(0, 36);
      let sum = 0;
      for (let i = 0; i < 1024; i++) if (i < 36 || i >= 40) sum += h[i]!;
      h.writeUInt32BE(~sum >>> 0, 36);
      return img;
    };
    const cases: [Buffer, string][] = [
      [withHeader((h) => h.writeUInt32BE(3000, 32)), 'BG_VHD_BAD_HEADER'], // block size not a power of 2
      [withHeader((h) => h.writeUInt32BE(0x80000000, 32)), 'BG_VHD_LIMIT'], // 2 GiB blocks
      [withHeader((h) => h.writeUInt32BE(1, 28)), 'BG_VHD_BAD_HEADER'], // BAT too small
      [withHeader((h) => h.writeBigUInt64BE(1n << 40n, 16)), 'BG_IMAGE_TRUNCATED'], // BAT past the end
      [withHeader((h) => h.write('xxsparse', 0, 'latin1')), 'BG_VHD_BAD_HEADER'],
      [
        (() => {
          const b = Buffer.from(base);
          b[600] = b[600]! ^ 1;
          return b;
        })(),
        'BG_VHD_BAD_HEADER',
      ], // checksum
    ];
    for (const [img, code] of cases) {
      await expect(openDynamicVhd(bufferSource(img), {})).rejects.toSatisfy((e: unknown) =>
        isImageError(e, code as never),
      );
    }
    // more BAT entries than the limit are refused before any BAT is read
    await expect(
      dynamicVhdOpener({ maxBatEntries: 10 })(bufferSource(withHeader((h) => h.writeUInt32BE(512, 32))), {}),
    ).rejects.toSatisfy((e: unknown) => isImageError(e, 'BG_VHD_LIMIT'));
  });

  it('10,000 mutated tiny images each read fully or throw an ImageError', async () => {
    const base = await tinyVhd();
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.oneof(fc.nat(2047), fc.nat(base.length - 1)), fc.integer({ min: 1, max: 255 })),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.option(fc.nat(base.length), { freq: 4 }),
        async (flips, cut) => {
          const img = Buffer.from(base);
          for (const [at, x] of flips) img[at] = img[at]! ^ x;
          const src = bufferSource(cut === null ? img : img.subarray(0, cut));
          try {
            const disk = await openDynamicVhd(src, {});
            await hashDisk(streamFrom(disk));
          } catch (e) {
            if (!(e instanceof ImageError)) throw e;
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
