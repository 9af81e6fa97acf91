import { readFile, stat } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageError, isImageError } from '../../../shared/images/errors';
import { hashDisk, streamFrom } from '../../../shared/images/extents';
import { bufferSource, fileSource } from '../../../shared/images/source';
import { crc32c, openVhdx, vhdxChecksum, vhdxOpener, VHDX_GUIDS } from '../../../shared/images/vhdx';
import {
  join,
  pseudoRandom,
  qemuOk,
  rawDisk,
  sha256,
  writeSparseRaw,
  type Patch,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const KiB = 1024;
const MiB = 1024 * KiB;
const tmp = useTmpDir();

async function qemuVhdx(name: string, capacity: number, patches: Patch[], opts: string): Promise<string> {
  const raw = join(tmp.dir, `${name}.raw`);
  await writeSparseRaw(raw, capacity, patches);
  const out = join(tmp.dir, `${name}.vhdx`);
  await qemuOk('convert', '-f', 'raw', '-O', 'vhdx', '-o', opts, raw, out);
  return out;
}

const patterns: { name: string; capacity: number; patches: Patch[] }[] = [
  {
    name: 'sparse-odd-size',
    capacity: 37 * MiB + 3 * 512,
    patches: [
      { offset: 0, data: pseudoRandom(4096, 1) },
      { offset: 32 * MiB - 700, data: pseudoRandom(1400, 2) },
      { offset: 37 * MiB + 100, data: pseudoRandom(1000, 3) },
    ],
  },
  { name: 'empty', capacity: 4 * MiB, patches: [] },
  { name: 'full', capacity: 3 * MiB, patches: [{ offset: 0, data: pseudoRandom(3 * MiB, 4) }] },
];

describe('VHDX reader on qemu-img images', () => {
  for (const opts of ['block_size=1M', 'block_size=32M', 'block_size=1M,subformat=fixed']) {
    it.each(patterns)(
      `$name with ${opts}: content hash and random reads match`,
      async ({ name, capacity, patches }) => {
        // Prepare
        const path = await qemuVhdx(`${name}-${opts.replace(/\W+/g, '-')}`, capacity, patches, opts);
        const expected = rawDisk(capacity, patches);
        const src = await fileSource(path);
        try {
          // Act
          const disk = await openVhdx(src, {});
          const h = await hashDisk(streamFrom(disk, { chunkSize: 3 * MiB + 512 }));
          // Assess
          expect(disk.format).toBe('vhdx');
          expect(disk.capacity).toBe(capacity);
          expect(h.sha256).toBe(sha256(expected));
          for (const [off, len] of [
            [0, 5000],
            [MiB - 100, 200],
            [capacity - 777, 777],
            [Math.floor(capacity / 3), 2 * MiB],
          ] as const) {
            expect((await disk.read(off, len)).equals(expected.subarray(off, off + len))).toBe(true);
          }
          const ranges = [];
          for await (const r of disk.map()) ranges.push(r);
          expect(ranges.reduce((n, r) => n + r.length, 0)).toBe(capacity);
          if (!opts.includes('fixed') && patches.length === 0) expect(ranges.every((r) => r.zero)).toBe(true);
        } finally {
          await src.close();
        }
      },
    );
  }
});

it('crc32c matches the standard check value', () => {
  expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
});

/** A qemu-made VHDX and where its structures are. */
async function smallVhdx(): Promise<{
  img: Buffer;
  metaOffset: number;
  batOffset: number;
  expected: Buffer;
}> {
  const patches = [{ offset: 1000, data: pseudoRandom(3000, 7) }];
  const path = await qemuVhdx('small', 64 * KiB, patches, 'block_size=1M');
  const img = await readFile(path);
  const rt = img.subarray(192 * KiB, 256 * KiB);
  let metaOffset = 0;
  let batOffset = 0;
  for (let i = 0; i < rt.readUInt32LE(8); i++) {
    const e = rt.subarray(16 + i * 32, 48 + i * 32);
    if (e.subarray(0, 16).equals(VHDX_GUIDS.metadata)) metaOffset = Number(e.readBigUInt64LE(16));
    if (e.subarray(0, 16).equals(VHDX_GUIDS.bat)) batOffset = Number(e.readBigUInt64LE(16));
  }
  return { img, metaOffset, batOffset, expected: rawDisk(64 * KiB, patches) };
}

/** Rewrites both headers through `edit`, fixing their checksums. */
function editHeaders(img: Buffer, edit: (h: Buffer) => void): void {
  for (const at of [64 * KiB, 128 * KiB]) {
    const h = img.subarray(at, at + 4 * KiB);
    edit(h);
    h.writeUInt32LE(vhdxChecksum(h), 4);
  }
}

describe('VHDX hostile and unsupported input', () => {
  it('differencing disk → BG_VHDX_DIFFERENCING naming the parent', async () => {
    // Prepare: qemu-img cannot create VHDX differencing disks; set HasParent and add a parent locator
    const { img, metaOffset } = await smallVhdx();
    const table = img.subarray(metaOffset, metaOffset + 64 * KiB);
    const count = table.readUInt16LE(10);
    let paramsAt = -1;
    for (let i = 0; i < count; i++) {
      const e = table.subarray(32 + i * 32, 64 + i * 32);
      if (e.subarray(0, 16).equals(VHDX_GUIDS.fileParameters)) paramsAt = metaOffset + e.readUInt32LE(16);
    }
    img.writeUInt32LE(img.readUInt32LE(paramsAt + 4) | 2, paramsAt + 4);
    const key = Buffer.from('relative_path', 'utf16le');
    const value = Buffer.from('..\\base\\parent.vhdx', 'utf16le');
    const loc = Buffer.alloc(32 + key.length + value.length);
    loc.writeUInt16LE(1, 18);
    loc.writeUInt32LE(32, 20);
    loc.writeUInt32LE(32 + key.length, 24);
    loc.writeUInt16LE(key.length, 28);
    loc.writeUInt16LE(value.length, 30);
    key.copy(loc, 32);
    value.copy(loc, 32 + key.length);
    const locAt = 512 * KiB;
    loc.copy(img, metaOffset + locAt);
    const e = table.subarray(32 + count * 32, 64 + count * 32);
    VHDX_GUIDS.parentLocator.copy(e, 0);
    e.writeUInt32LE(locAt, 16);
    e.writeUInt32LE(loc.length, 20);
    e.writeUInt32LE(4 | 2, 24);
    table.writeUInt16LE(count + 1, 10);
    // Act / Assess
    await expect(openVhdx(bufferSource(img, 'child.vhdx'), {})).rejects.toMatchObject({
      code: 'BG_VHDX_DIFFERENCING',
      message: expect.stringContaining(
        'unsupported: differencing disk, parent ..\\base\\parent.vhdx; merge it first',
      ),
    });
  });

  it('unreplayed log → BG_VHDX_LOG_REPLAY; a log GUID with an empty log is accepted', async () => {
    const { img, expected } = await smallVhdx();
    const guid = pseudoRandom(16, 11);
    editHeaders(img, (h) => guid.copy(h, 48));
    const logOffset = Number(img.readBigUInt64LE(64 * KiB + 72));
    // the log holds nothing with this GUID yet: readable
    const ok = await openVhdx(bufferSource(img), {});
    expect((await hashDisk(streamFrom(ok))).sha256).toBe(sha256(expected));
    // an entry carrying the GUID: must be replayed first
    img.write('loge', logOffset, 'latin1');
    guid.copy(img, logOffset + 32);
    await expect(openVhdx(bufferSource(img), {})).rejects.toMatchObject({
      code: 'BG_VHDX_LOG_REPLAY',
      message: expect.stringContaining('qemu-img check -r all'),
    });
  });

  it('picks the valid header with the higher sequence number, and survives one corrupt header', async () => {
    const { img, expected } = await smallVhdx();
    img[64 * KiB + 20] = img[64 * KiB + 20]! ^ 0xff; // header 1 checksum now wrong
    const d = await openVhdx(bufferSource(img), {});
    expect((await hashDisk(streamFrom(d))).sha256).toBe(sha256(expected));
    img[128 * KiB + 20] = img[128 * KiB + 20]! ^ 0xff;
    await expect(openVhdx(bufferSource(img), {})).rejects.toSatisfy((e: unknown) =>
      isImageError(e, 'BG_VHDX_BAD_HEADER'),
    );
  });

  it('truncated files → BG_IMAGE_TRUNCATED; other hostile structures → typed errors', async () => {
    const { img, metaOffset, batOffset } = await smallVhdx();
    const block0 = Number(img.readBigUInt64LE(batOffset) >> 20n) * MiB; // the block holding data
    for (const cut of [100, 200 * KiB, metaOffset + 100, batOffset + 4, block0 + 1000]) {
      await expect(openVhdx(bufferSource(img.subarray(0, cut)), {})).rejects.toSatisfy((e: unknown) =>
        isImageError(e, 'BG_IMAGE_TRUNCATED'),
      );
    }
    const variants: [(b: Buffer) => void, string][] = [
      [(b) => b.write('vhdxfilf', 0, 'latin1'), 'BG_VHDX_BAD_HEADER'],
      [
        (b) => {
          b[192 * KiB + 40] = 1;
          b[256 * KiB + 40] = 1;
        },
        'BG_VHDX_BAD_REGION_TABLE',
      ],
      [(b) => b.write('metadatb', metaOffset, 'latin1'), 'BG_VHDX_BAD_METADATA'],
      [(b) => b.writeUInt32LE(5, batOffset), 'BG_VHDX_BAD_BAT'],
      [(b) => b.writeUInt32LE(7, batOffset), 'BG_VHDX_BAD_BAT'],
      [
        (b) => {
          b.writeUInt32LE(6 | (1 << 20), batOffset);
          b.writeUInt32LE(0x10000, batOffset + 4);
        },
        'BG_IMAGE_TRUNCATED',
      ],
    ];
    for (const [edit, code] of variants) {
      const b = Buffer.from(img);
      edit(b);
      await expect(openVhdx(bufferSource(b), {})).rejects.toSatisfy((e: unknown) =>
        isImageError(e, code as never),
      );
    }
    await expect(vhdxOpener({ maxVirtualSize: 4096 })(bufferSource(img), {})).rejects.toSatisfy(
      (e: unknown) => isImageError(e, 'BG_VHDX_LIMIT'),
    );
  });

  it('10,000 mutated small images each read fully or throw an ImageError', async () => {
    const { img, metaOffset, batOffset } = await smallVhdx();
    const hot = [0, 64 * KiB, 128 * KiB, 192 * KiB, 256 * KiB, metaOffset, metaOffset + 64 * KiB, batOffset];
    const spot = fc.oneof(
      fc.tuple(fc.constantFrom(...hot), fc.nat(127)).map(([a, b]) => a + b),
      fc.nat(img.length - 1),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(spot, fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(img.length), { freq: 4 }),
        async (flips, cut) => {
          for (const [at, x] of flips) img[at] = img[at]! ^ x;
          try {
            const disk = await openVhdx(bufferSource(cut === null ? img : img.subarray(0, cut)), {});
            // the metadata region has no checksum: a flipped size may be huge but all zero — map it
            if (disk.capacity <= 64 * MiB) await hashDisk(streamFrom(disk));
            else {
              for await (const r of disk.map()) expect(r.length).toBeGreaterThan(0);
              await disk.read(disk.capacity - 4096, 4096);
            }
          } catch (e) {
            if (!(e instanceof ImageError)) throw e;
          } finally {
            for (const [at, x] of flips.slice().reverse()) img[at] = img[at]! ^ x;
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

it('qemu-img reports the size we read', async () => {
  const path = await qemuVhdx('size', 5 * MiB + 512, [], 'block_size=1M');
  const info = JSON.parse(await qemuOk('info', '-f', 'vhdx', '--output=json', path)) as {
    'virtual-size': number;
  };
  const src = await fileSource(path);
  try {
    expect((await openVhdx(src, {})).capacity).toBe(info['virtual-size']);
    expect((await stat(path)).size).toBeGreaterThan(MiB);
  } finally {
    await src.close();
  }
});
