import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { WRITERS, writeDiskToFile } from '../../../shared/images/convert';
import { openRandomAccess } from '../../../shared/images/random-access';
import { streamFrom } from '../../../shared/images/extents';
import type { RandomAccessDisk } from '../../../shared/images/random-access-disk';
import { bufferSource, fileSource, type ByteSource } from '../../../shared/images/source';
import {
  AZURE_MAX_PAGE_BYTES,
  azurePageWrites,
  azureVhdLayout,
  type PageWrite,
} from '../../../shared/clouds/azure/page-plan';
import {
  blockManifest,
  changedBlocks,
  ebsBlockCount,
  ebsBlocks,
  ebsVolumeSizeGiB,
  mergeBlockManifests,
  parseBlockManifest,
  type EbsBlock,
} from '../../../shared/clouds/aws/ebs-blocks';
import { blockRuns } from '../../../shared/clouds/aws/block-runs';
import { planRanges } from '../../../shared/images/upload-plan';
import { parseVhdFooter } from '../../../shared/images/vhd';
import {
  join,
  pseudoRandom,
  qemuImg,
  rawDisk,
  writeSparseRaw,
  type Patch,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const tmp = useTmpDir('bg-upload-plan-');
const opened: ByteSource[] = [];
afterAll(async () => {
  for (const src of opened) await src.close();
});

/** Opens a file for the test, closed after the file's tests. */
async function openFile(path: string): Promise<ByteSource> {
  const src = await fileSource(path);
  opened.push(src);
  return src;
}

/** Wraps a disk to record every read, to prove mapped-zero ranges are never read. */
function recording(disk: RandomAccessDisk): { disk: RandomAccessDisk; reads: Array<[number, number]> } {
  const reads: Array<[number, number]> = [];
  return {
    reads,
    disk: {
      format: disk.format,
      capacity: disk.capacity,
      map: (o, l) => disk.map(o, l),
      read: (o, l) => {
        reads.push([o, l]);
        return disk.read(o, l);
      },
    },
  };
}

async function mapOf(
  disk: RandomAccessDisk,
): Promise<Array<{ offset: number; length: number; zero: boolean }>> {
  const out = [];
  for await (const r of disk.map()) out.push(r);
  return out;
}

/** A sparse disk made by qemu-img, opened for random access: data that straddles grains and ranges. */
async function qemuDisk(name: string, format: 'qcow2' | 'vmdk' | 'raw', capacity: number, patches: Patch[]) {
  const raw = join(tmp.dir, `${name}.raw`);
  await writeSparseRaw(raw, capacity, patches);
  if (format === 'raw')
    return { disk: await openRandomAccess(await openFile(raw)), raw: rawDisk(capacity, patches) };
  const img = join(tmp.dir, `${name}.${format}`);
  const r = await qemuImg('convert', '-f', 'raw', '-O', format, raw, img);
  if (r.code !== 0) throw new Error(r.stderr);
  const disk = await openRandomAccess(await openFile(img));
  return { disk, raw: rawDisk(capacity, patches) };
}

const PATCHES: Patch[] = [
  { offset: 0, data: pseudoRandom(4096, 1) },
  { offset: 60 * KiB, data: pseudoRandom(10 * KiB, 2) }, // across a 64 KiB grain boundary
  { offset: 1 * MiB + 700, data: pseudoRandom(3 * MiB, 3) }, // across 4 MiB range boundary, unaligned start
  { offset: 5 * MiB, data: Buffer.concat([pseudoRandom(1024, 4), Buffer.alloc(2048), pseudoRandom(512, 5)]) },
];

describe('azureVhdLayout', () => {
  it('rounds the virtual size up to a whole MiB, also from a capacity that is not a multiple of 512', () => {
    // Prepare / Act
    const odd = azureVhdLayout(3 * MiB + 1000);
    const exact = azureVhdLayout(2 * MiB);
    const tiny = azureVhdLayout(1);
    // Assess
    expect([odd.virtualSize, odd.fileSize]).toEqual([4 * MiB, 4 * MiB + 512]);
    expect([exact.virtualSize, exact.fileSize]).toEqual([2 * MiB, 2 * MiB + 512]);
    expect(tiny.virtualSize).toBe(MiB);
    const f = parseVhdFooter(odd.footer);
    expect(f).toMatchObject({ currentSize: 4 * MiB, diskType: 'fixed', creatorApp: 'win ' });
    expect(() => azureVhdLayout(0)).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
  });
});

describe('planRanges', () => {
  it('covers the file in aligned ranges; a remainder shorter than the alignment joins the last range', () => {
    // Prepare
    const layout = azureVhdLayout(12 * MiB);
    // Act
    const azure = planRanges(layout.fileSize, 8 * MiB, 4 * MiB);
    const ebs = planRanges(3 * MiB + 1000, MiB, 512 * KiB);
    const oneBlock = planRanges(100, 4 * MiB, 512 * KiB);
    // Assess
    expect(azure).toEqual([
      { index: 0, offset: 0, length: 8 * MiB },
      { index: 1, offset: 8 * MiB, length: 4 * MiB + 512 },
    ]);
    expect(ebs).toEqual([
      { index: 0, offset: 0, length: MiB },
      { index: 1, offset: MiB, length: MiB },
      { index: 2, offset: 2 * MiB, length: MiB + 1000 },
    ]);
    expect(oneBlock).toEqual([{ index: 0, offset: 0, length: 100 }]);
    expect(planRanges(0, MiB, 512)).toEqual([]);
    expect(JSON.stringify(azure[1])).toBe('{"index":1,"offset":8388608,"length":4194816}');
  });

  it('refuses a chunk size that is not a multiple of the alignment, naming the sizes that would do', () => {
    // Act / Assess
    expect(() => planRanges(64 * MiB, 5 * MiB, 4 * MiB)).toThrowError(
      expect.objectContaining({
        code: 'BG_IMAGE_INVALID_ARGUMENT',
        message: expect.stringMatching(/not a multiple of 4194304.*use 8388608 \(or 4194304\)/),
      }),
    );
    expect(() => planRanges(10, 0, 512)).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
    expect(() => planRanges(-1, 512, 512)).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
  });
});

/** Applies page writes to a zeroed page blob and checks each write's shape. */
function applyWrites(fileSize: number, writes: PageWrite[][], maxPageBytes: number): Buffer {
  const blob = Buffer.alloc(fileSize);
  for (const range of writes) {
    for (const w of range) {
      expect(w.offset % 512).toBe(0);
      expect(w.data.length % 512).toBe(0);
      expect(w.data.length).toBeLessThanOrEqual(maxPageBytes);
      expect(w.offset + w.data.length).toBeLessThanOrEqual(fileSize);
      for (let s = 0; s < w.data.length; s += 512) {
        expect(w.data.subarray(s, s + 512).some((b) => b !== 0)).toBe(true);
      }
      w.data.copy(blob, w.offset);
    }
  }
  return blob;
}

describe('azurePageWrites', () => {
  const cases = [
    {
      name: 'qcow2, 4 MiB ranges',
      format: 'qcow2' as const,
      capacity: 7 * MiB + 1000,
      chunk: 4 * MiB,
      align: 4 * MiB,
      page: AZURE_MAX_PAGE_BYTES,
    },
    {
      name: 'VMDK, ranges that split 64 KiB grains',
      format: 'vmdk' as const,
      capacity: 6 * MiB + 512,
      chunk: 33 * KiB + 512,
      align: 512,
      page: 16 * KiB,
    },
    {
      name: 'raw, a capacity that is not a multiple of 512',
      format: 'raw' as const,
      capacity: 5 * MiB + 1000,
      chunk: 4 * MiB,
      align: 4 * MiB,
      page: AZURE_MAX_PAGE_BYTES,
    },
    {
      name: 'qcow2, one range for the whole file, pages longer than one read',
      format: 'qcow2' as const,
      capacity: 6 * MiB,
      chunk: 64 * MiB,
      align: 4 * MiB,
      page: 64 * KiB,
      read: 8 * KiB,
    },
  ];
  for (const c of cases) {
    it(`rebuilds exactly the fixed VHD the writer makes: ${c.name}`, async () => {
      // Prepare
      const { disk, raw } = await qemuDisk(c.name.replace(/\W+/g, '-'), c.format, c.capacity, PATCHES);
      const layout = azureVhdLayout(disk.capacity, { uniqueId: Buffer.alloc(16, 7), timestamp: new Date(0) });
      const ranges = planRanges(layout.fileSize, c.chunk, c.align);
      const rec = recording(disk);
      // Act
      const writes: PageWrite[][] = [];
      for (const r of ranges) {
        const out: PageWrite[] = [];
        for await (const w of azurePageWrites(rec.disk, r, {
          layout,
          maxPageBytes: c.page,
          ...('read' in c ? { readBytes: c.read } : {}),
        }))
          out.push(w);
        writes.push(out);
      }
      // Assess: byte for byte the file writeDiskToFile writes with the same footer
      const blob = applyWrites(layout.fileSize, writes, c.page);
      const expectedPath = join(tmp.dir, `${c.format}-expected.vhd`);
      await writeDiskToFile(streamFrom(disk), expectedPath, {
        size: layout.virtualSize,
        trailer: layout.footer,
      });
      expect(blob.equals(await readFile(expectedPath))).toBe(true);
      // …and, footer ids aside, the one WRITERS['vhd-fixed'] writes for Azure
      const azurePath = join(tmp.dir, `${c.format}-writer.vhd`);
      await WRITERS['vhd-fixed']!(streamFrom(disk), azurePath, { azure: true });
      const written = await readFile(azurePath);
      expect(blob.subarray(0, layout.virtualSize).equals(written.subarray(0, layout.virtualSize))).toBe(true);
      const {
        uniqueId: _a,
        timestamp: _b,
        checksum: _c,
        ...ours
      } = parseVhdFooter(blob.subarray(layout.virtualSize));
      const {
        uniqueId: _d,
        timestamp: _e,
        checksum: _f,
        ...theirs
      } = parseVhdFooter(written.subarray(layout.virtualSize));
      expect(ours).toEqual(theirs);
      expect(blob.subarray(0, raw.length).equals(raw)).toBe(true);
      // the footer is written once, last, by the range that holds it
      const footerWrites = writes
        .flatMap((ws, i) => ws.map((w, j) => ({ i, last: j === ws.length - 1, w })))
        .filter(({ w }) => w.offset === layout.virtualSize);
      expect(footerWrites).toHaveLength(1);
      expect(footerWrites[0]!.last).toBe(true);
      // mapped-zero ranges are never read; bytes written stay within the allocated bytes
      const map = await mapOf(disk);
      const zeroRanges = map.filter((m) => m.zero);
      for (const [o, l] of rec.reads) {
        for (const z of zeroRanges) {
          const overlap = Math.min(o + l, z.offset + z.length) - Math.max(o, z.offset);
          expect(overlap, `read ${o}+${l} vs zero ${z.offset}+${z.length}`).toBeLessThan(512);
        }
      }
      const allocated = map.filter((m) => !m.zero).reduce((n, m) => n + m.length, 0);
      const pageBytes = writes
        .flat()
        .reduce((n, w) => n + (w.offset === layout.virtualSize ? 0 : w.data.length), 0);
      console.log(
        `azurePageWrites ${c.name}: ${pageBytes} page bytes for ${allocated} allocated bytes (ratio ${(pageBytes / allocated).toFixed(4)}), ${writes.flat().length} writes over ${ranges.length} ranges`,
      );
      expect(pageBytes).toBeLessThanOrEqual(1.02 * allocated);
    });
  }

  it('refuses unaligned ranges, a range past the file, a page size over 4 MiB and a layout for another disk', async () => {
    // Prepare
    const disk = await openRandomAccess(bufferSource(Buffer.alloc(MiB, 1)), { format: 'raw' });
    const layout = azureVhdLayout(MiB);
    const drain = async (it: AsyncIterable<unknown>) => {
      for await (const _ of it) {
        // reading is the point
      }
    };
    // Act / Assess
    await expect(
      drain(azurePageWrites(disk, { index: 0, offset: 100, length: 512 }, { layout })),
    ).rejects.toMatchObject({ code: 'BG_IMAGE_UNALIGNED' });
    await expect(
      drain(azurePageWrites(disk, { index: 0, offset: 0, length: 2 * MiB }, { layout })),
    ).rejects.toMatchObject({ code: 'BG_IMAGE_INVALID_ARGUMENT' });
    await expect(
      drain(azurePageWrites(disk, { index: 0, offset: 0, length: 512 }, { layout, maxPageBytes: 8 * MiB })),
    ).rejects.toMatchObject({ code: 'BG_IMAGE_INVALID_ARGUMENT' });
    await expect(
      drain(azurePageWrites(disk, { index: 0, offset: 0, length: 512 }, { layout: azureVhdLayout(2 * MiB) })),
    ).rejects.toMatchObject({ code: 'BG_IMAGE_INVALID_ARGUMENT' });
  });

  it('reports the ratio on a sparse disk with scattered small writes', async () => {
    // Prepare: 64 MiB, 200 scattered 3 KiB writes (qcow2 allocates whole 64 KiB clusters)
    const patches: Patch[] = Array.from({ length: 200 }, (_, i) => ({
      offset: i * 320 * KiB + 1000,
      data: pseudoRandom(3 * KiB, 100 + i),
    }));
    const { disk } = await qemuDisk('scattered', 'qcow2', 64 * MiB, patches);
    const layout = azureVhdLayout(disk.capacity);
    // Act
    let pageBytes = 0;
    for (const r of planRanges(layout.fileSize, 16 * MiB, 4 * MiB)) {
      for await (const w of azurePageWrites(disk, r, { layout }))
        if (w.offset < layout.virtualSize) pageBytes += w.data.length;
    }
    // Assess
    const allocated = (await mapOf(disk)).filter((m) => !m.zero).reduce((n, m) => n + m.length, 0);
    console.log(
      `azurePageWrites sparse 64 MiB: ${pageBytes} page bytes / ${allocated} allocated = ${(pageBytes / allocated).toFixed(4)}`,
    );
    expect(pageBytes).toBeLessThanOrEqual(1.02 * allocated);
    // each 3 KiB write at +1000 touches sectors 1..7 of its cluster: 7 sectors, the rest of the cluster is skipped
    expect(pageBytes).toBe(200 * 7 * 512);
  });
});

describe('ebsBlocks', () => {
  it('yields the non-zero 512 KiB blocks of each range, the last one zero-padded, with base64 SHA-256', async () => {
    // Prepare: capacity not a multiple of the block size; data across a block boundary and in the last block
    const capacity = 3 * MiB + 1000;
    const patches: Patch[] = [
      { offset: 500 * KiB, data: pseudoRandom(40 * KiB, 1) },
      { offset: 2 * MiB + 100, data: pseudoRandom(100, 2) },
      { offset: capacity - 10, data: pseudoRandom(10, 3) },
    ];
    const { disk, raw } = await qemuDisk('ebs', 'qcow2', capacity, patches);
    const rec = recording(disk);
    // qemu-img rounds the virtual size up to whole sectors: 3 MiB + 1024
    expect(disk.capacity).toBe(3 * MiB + 1024);
    const ranges = planRanges(disk.capacity, MiB, 512 * KiB);
    // Act
    const blocks: EbsBlock[] = [];
    for (const r of ranges) for await (const b of ebsBlocks(rec.disk, r)) blocks.push(b);
    // Assess
    expect(blocks.map((b) => b.index)).toEqual([0, 1, 4, 6]);
    expect(ebsBlockCount(capacity)).toBe(7);
    for (const b of blocks) {
      expect(b.data.length).toBe(512 * KiB);
      expect(b.sha256Base64).toBe(createHash('sha256').update(b.data).digest('base64'));
      const expected = Buffer.alloc(512 * KiB);
      raw.copy(expected, 0, b.index * 512 * KiB, Math.min(capacity, (b.index + 1) * 512 * KiB));
      expect(b.data.equals(expected), `block ${b.index}`).toBe(true);
    }
    const map = await mapOf(disk);
    for (const [o, l] of rec.reads) {
      expect(map.some((m) => !m.zero && m.offset < o + l && o < m.offset + m.length)).toBe(true);
    }
    expect(ebsVolumeSizeGiB(capacity)).toBe(1);
  });

  it('handles a 1-block disk and sizes volumes in whole GiB', async () => {
    // Prepare
    const disk = await openRandomAccess(bufferSource(Buffer.from('hello')), { format: 'raw' });
    // Act
    const blocks: EbsBlock[] = [];
    for (const r of planRanges(disk.capacity, 4 * MiB, 512 * KiB))
      for await (const b of ebsBlocks(disk, r)) blocks.push(b);
    // Assess
    expect(blocks).toHaveLength(1);
    expect(blocks[0]!.data.subarray(0, 6).toString('latin1')).toBe('hello\0');
    expect(blocks[0]!.data.length).toBe(512 * KiB);
    expect([
      ebsVolumeSizeGiB(0),
      ebsVolumeSizeGiB(1),
      ebsVolumeSizeGiB(GiB),
      ebsVolumeSizeGiB(GiB + 1),
    ]).toEqual([1, 1, 1, 2]);
  });

  it('refuses a range that does not start and end on blocks', async () => {
    // Prepare
    const disk = await openRandomAccess(bufferSource(Buffer.alloc(2 * MiB, 1)), { format: 'raw' });
    const drain = async (r: { index: number; offset: number; length: number }) => {
      for await (const _ of ebsBlocks(disk, r)) {
        // reading is the point
      }
    };
    // Act / Assess
    await expect(drain({ index: 0, offset: 1000, length: 512 * KiB })).rejects.toMatchObject({
      code: 'BG_IMAGE_UNALIGNED',
    });
    await expect(drain({ index: 0, offset: 0, length: 600 * KiB })).rejects.toMatchObject({
      code: 'BG_IMAGE_UNALIGNED',
    });
    await expect(drain({ index: 0, offset: MiB, length: 2 * MiB })).rejects.toMatchObject({
      code: 'BG_IMAGE_INVALID_ARGUMENT',
    });
  });
});

describe('block manifests', () => {
  const sha = (s: string) => createHash('sha256').update(s).digest('base64');

  it('merges the ranges manifests, survives JSON, and finds the changed blocks', () => {
    // Prepare
    const capacity = 4 * MiB + 1;
    const a1 = blockManifest(capacity, [
      { index: 0, sha256Base64: sha('a') },
      { index: 1, sha256Base64: sha('b') },
    ]);
    const a2 = blockManifest(capacity, [{ index: 5, sha256Base64: sha('c') }]);
    const b = blockManifest(capacity, [
      { index: 0, sha256Base64: sha('a') },
      { index: 1, sha256Base64: sha('B') },
      { index: 7, sha256Base64: sha('d') },
      { index: 8, sha256Base64: sha('e') },
    ]);
    // Act
    const a = parseBlockManifest(JSON.parse(JSON.stringify(mergeBlockManifests([a1, a2]))));
    const changed = changedBlocks(a, b);
    // Assess
    expect(Object.keys(a.blocks)).toEqual(['0', '1', '5']);
    expect(changed).toEqual([1, 5, 7, 8]);
    expect(blockRuns(changed, { capacity })).toEqual([
      { firstBlock: 1, blockCount: 1, offset: 512 * KiB, length: 512 * KiB },
      { firstBlock: 5, blockCount: 1, offset: 5 * 512 * KiB, length: 512 * KiB },
      { firstBlock: 7, blockCount: 2, offset: 7 * 512 * KiB, length: 512 * KiB + 1 },
    ]);
    expect(
      blockRuns([0, 1, 2, 3], { capacity, maxRunBytes: MiB }).map((r) => [r.firstBlock, r.blockCount]),
    ).toEqual([
      [0, 2],
      [2, 2],
    ]);
  });

  it('refuses bad manifests and block lists with BG_IMAGE_INVALID_ARGUMENT', () => {
    // Prepare
    const ok = blockManifest(MiB, [{ index: 0, sha256Base64: sha('a') }]);
    const bad = (fn: () => unknown) =>
      expect(fn).toThrowError(expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }));
    // Act / Assess
    bad(() => blockManifest(MiB, [{ index: 2, sha256Base64: sha('a') }]));
    bad(() => blockManifest(MiB, [{ index: 0, sha256Base64: 'abc' }]));
    bad(() => parseBlockManifest({ ...ok, version: 2 }));
    bad(() => parseBlockManifest({ ...ok, blocks: { '01': sha('a') } }));
    bad(() => mergeBlockManifests([ok, ok]));
    bad(() => mergeBlockManifests([ok, blockManifest(2 * MiB, [])]));
    bad(() => changedBlocks(ok, blockManifest(MiB, [], 4096)));
    bad(() => blockRuns([3, 2], { capacity: 4 * MiB }));
    bad(() => blockRuns([8], { capacity: 4 * MiB }));
  });
});
