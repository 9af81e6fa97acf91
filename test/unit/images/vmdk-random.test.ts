/**
 * Property tests: mutated small VMDKs (a hand-built monolithicSparse checked against qemu-img, a
 * streamOptimized from our writer) and mutated descriptor texts each open and read fully, or fail
 * with an ImageError — never another exception, never a hang.
 */
import fc from 'fast-check';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { isImageError } from '../../../shared/images/errors';
import { diskFromBuffer, hashDisk, streamFrom } from '../../../shared/images/extents';
import type { RandomAccessDisk } from '../../../shared/images/random-access-disk';
import { bufferSource, type ByteSource } from '../../../shared/images/source';
import {
  FLAG_NEWLINE_TEST,
  FLAG_ZERO_GRAIN_GTE,
  SECTOR,
  encodeVmdkHeader,
  formatVmdkDescriptor,
} from '../../../shared/images/vmdk-format';
import { openDescriptorVmdk } from '../../../shared/images/vmdk-flat';
import { openSparseVmdk } from '../../../shared/images/vmdk-sparse';
import { writeStreamOptimizedVmdk } from '../../../shared/images/vmdk-stream-writer';
import { join, pseudoRandom, qemuImg, sha256 } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir('bg-vmdk-random-');
const LIMITS = { maxCapacityBytes: 1024 * 1024, maxDescriptorFileBytes: 8192 };

/**
 * A 100-sector monolithicSparse VMDK with 4 KiB grains and 4 entries per grain table (13 grains,
 * 4 tables): data in grains 0, 5 and 12 (the partial last one), grain 7 a zero grain (GTE 1),
 * table 2 unallocated (GD entry 0). Returns the file and the raw disk it holds.
 */
function tinySparseVmdk(): { vmdk: Buffer; raw: Buffer } {
  const capacitySectors = 100;
  const grain = 8;
  const raw = Buffer.alloc(capacitySectors * SECTOR);
  const data = new Map<number, Buffer>([
    [0, pseudoRandom(grain * SECTOR, 1)],
    [5, pseudoRandom(grain * SECTOR, 2)],
    [7, Buffer.alloc(grain * SECTOR)],
    [12, pseudoRandom(grain * SECTOR, 3)],
  ]);
  const grainSectors = new Map<number, number>();
  let next = 8;
  for (const [g, buf] of data) {
    if (g === 7) continue;
    grainSectors.set(g, next);
    next += grain;
    buf.copy(raw, g * grain * SECTOR, 0, Math.min(buf.length, raw.length - g * grain * SECTOR));
  }
  const file = Buffer.alloc(next * SECTOR);
  encodeVmdkHeader({
    version: 1,
    flags: FLAG_NEWLINE_TEST | FLAG_ZERO_GRAIN_GTE,
    capacity: BigInt(capacitySectors),
    grainSize: BigInt(grain),
    descriptorOffset: 1n,
    descriptorSize: 1n,
    numGTEsPerGT: 4,
    rgdOffset: 0n,
    gdOffset: 2n,
    overHead: 8n,
    uncleanShutdown: 0,
    compressAlgorithm: 0,
  }).copy(file, 0);
  file.write(
    formatVmdkDescriptor({
      cid: 0x1234,
      capacitySectors,
      fileName: 'tiny.vmdk',
      adapterType: 'ide',
      createType: 'monolithicSparse',
    }).slice(0, SECTOR),
    SECTOR,
    'latin1',
  );
  const gtSector = [3, 4, 0, 5];
  gtSector.forEach((s, t) => file.writeUInt32LE(s, 2 * SECTOR + t * 4));
  for (let g = 0; g < 13; g++) {
    const t = Math.floor(g / 4);
    const s = gtSector[t]!;
    if (s === 0) continue;
    const v = g === 7 ? 1 : (grainSectors.get(g) ?? 0);
    file.writeUInt32LE(v, s * SECTOR + (g % 4) * 4);
  }
  for (const [g, s] of grainSectors) data.get(g)!.copy(file, s * SECTOR);
  return { vmdk: file, raw };
}

/** Open and read everything; true when it worked, false for an ImageError; anything else throws. */
async function readsOrImageError(open: () => Promise<RandomAccessDisk>): Promise<boolean> {
  try {
    const disk = await open();
    await hashDisk(streamFrom(disk, { chunkSize: 64 * 1024 }));
    if (disk.allocatedBytes) {
      // the tables' count agrees with the map's data ranges
      let mapped = 0;
      for await (const r of disk.map()) if (!r.zero) mapped += r.length;
      expect(await disk.allocatedBytes()).toBe(mapped);
    }
    if (disk.capacity > 0)
      await disk.read(
        Math.floor(disk.capacity / 3),
        Math.min(9000, disk.capacity - Math.floor(disk.capacity / 3)),
      );
    return true;
  } catch (err) {
    if (isImageError(err)) return false;
    throw err;
  }
}

const byteEdits = (size: number, metaEnd: number) =>
  fc.array(
    fc.tuple(
      fc.oneof(fc.integer({ min: 0, max: metaEnd - 1 }), fc.integer({ min: 0, max: size - 1 })),
      fc.integer({ min: 0, max: 255 }),
    ),
    { maxLength: 6 },
  );
const interesting = [
  0n,
  1n,
  2n,
  3n,
  4n,
  7n,
  8n,
  512n,
  0x7fffffffn,
  0xffffffffn,
  1n << 40n,
  0xffffffffffffffffn,
];
/** Header fields: [offset, width]. */
const FIELDS: Array<[number, 4 | 8 | 2]> = [
  [4, 4],
  [8, 4],
  [12, 8],
  [20, 8],
  [28, 8],
  [36, 8],
  [44, 4],
  [48, 8],
  [56, 8],
  [64, 8],
  [77, 2],
];

function mutate(
  base: Buffer,
  m: { edits: Array<[number, number]>; words: Array<[number, bigint]>; cut: number | null },
): Buffer {
  const b = Buffer.from(base);
  for (const [at, v] of m.edits) b[at % b.length] = v;
  for (const [fi, v] of m.words) {
    const [off, width] = FIELDS[fi % FIELDS.length]!;
    if (width === 8) b.writeBigUInt64LE(v, off);
    else if (width === 4) b.writeUInt32LE(Number(v & 0xffffffffn), off);
    else b.writeUInt16LE(Number(v & 0xffffn), off);
  }
  return m.cut === null ? b : b.subarray(0, m.cut % (b.length + 1));
}

const mutation = (size: number, metaEnd: number) =>
  fc.record({
    edits: byteEdits(size, metaEnd),
    words: fc.array(fc.tuple(fc.nat(), fc.constantFrom(...interesting)), { maxLength: 2 }),
    cut: fc.option(fc.nat(), { freq: 5 }),
  });

describe('mutated VMDKs read fully or fail with an ImageError', () => {
  it('the hand-built monolithicSparse base is what qemu-img reads, and what we read', async () => {
    // Prepare
    const { vmdk, raw } = tinySparseVmdk();
    const path = join(tmp.dir, 'tiny.vmdk');
    await writeFile(path, vmdk);
    // Act
    const check = await qemuImg('check', '-f', 'vmdk', path);
    const conv = await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', path, join(tmp.dir, 'tiny.raw'));
    const ours = await hashDisk(streamFrom(await openSparseVmdk(bufferSource(vmdk))));
    // Assess
    expect(check.code).toBe(0);
    expect(conv.code).toBe(0);
    const qemuRaw = await readFile(join(tmp.dir, 'tiny.raw'));
    expect(sha256(qemuRaw)).toBe(sha256(raw));
    expect(ours.sha256).toBe(sha256(raw));
  });

  it('10 000 mutated monolithicSparse VMDKs', async () => {
    const { vmdk } = tinySparseVmdk();
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(mutation(vmdk.length, 6 * SECTOR), async (m) => {
        const buf = mutate(vmdk, m);
        if (await readsOrImageError(() => openSparseVmdk(bufferSource(buf, 'fuzz.vmdk'), { vmdk: LIMITS })))
          ok++;
      }),
      { numRuns: 10_000, seed: 20251124 },
    );
    expect(ok).toBeGreaterThan(100);
  }, 300_000);

  it('2 000 mutated streamOptimized VMDKs (VMware layout, grain directory through the footer)', async () => {
    const raw = Buffer.alloc(96 * 1024);
    pseudoRandom(20_000, 4).copy(raw, 5000);
    pseudoRandom(1000, 5).copy(raw, 90_000);
    const parts: Buffer[] = [];
    for await (const c of writeStreamOptimizedVmdk(diskFromBuffer(raw))) parts.push(c);
    const vmdk = Buffer.concat(parts);
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(mutation(vmdk.length, SECTOR), async (m) => {
        const buf = mutate(vmdk, m);
        // mutate the tail (footer, grain directory, grain tables) as often as the head
        for (const [at, v] of m.edits) buf[Math.max(0, buf.length - 1 - (at % 3072))] = v;
        if (
          await readsOrImageError(() =>
            openSparseVmdk(bufferSource(buf, 'fuzz-stream.vmdk'), { vmdk: LIMITS }),
          )
        )
          ok++;
      }),
      { numRuns: 2_000, seed: 7 },
    );
    expect(ok).toBeGreaterThan(20);
  }, 300_000);
});

describe('mutated descriptor texts open and read fully or fail with an ImageError', () => {
  it('10 000 mutated descriptors', async () => {
    // Prepare: a descriptor over a flat file, a zero extent and the tiny sparse extent
    const { vmdk } = tinySparseVmdk();
    const files = new Map<string, Buffer>([
      ['d-flat.vmdk', pseudoRandom(32 * 1024, 6)],
      ['d-s001.vmdk', vmdk],
    ]);
    const resolve = async (name: string): Promise<ByteSource> => {
      const f = files.get(name);
      if (!f) throw Object.assign(new Error(`ENOENT: no such file, open '${name}'`), { code: 'ENOENT' });
      return bufferSource(f, name);
    };
    const base = [
      '# Disk DescriptorFile',
      'version=1',
      'CID=fffffffe',
      'parentCID=ffffffff',
      'createType="twoGbMaxExtentSparse"',
      '',
      '# Extent description',
      'RW 32 FLAT "d-flat.vmdk" 8',
      'RW 16 ZERO',
      'RW 100 SPARSE "d-s001.vmdk"',
      'RDONLY 8 VMFS "d-flat.vmdk"',
      '',
      'ddb.adapterType = "lsilogic"',
      '',
    ].join('\n');
    const pieces = [
      '"',
      ' ',
      '\n',
      '0',
      '9',
      '1',
      'R',
      'W',
      '=',
      '#',
      '\0',
      'Z',
      'FLAT',
      'SPARSE',
      'ZERO',
      'VMFS',
      '99999999999',
      'parentFileNameHint="p.vmdk"\nparentCID=1234\n',
      'RW 4 FLAT "d-flat.vmdk" 60\n',
      'RW 8 SPARSE "nope.vmdk"\n',
      '-1',
      '..',
    ];
    const textMutation = fc.array(
      fc.record({ at: fc.nat(), del: fc.integer({ min: 0, max: 4 }), ins: fc.constantFrom(...pieces) }),
      { minLength: 1, maxLength: 4 },
    );
    let ok = 0;
    // Act + Assess
    await fc.assert(
      fc.asyncProperty(textMutation, async (edits) => {
        let text = base;
        for (const e of edits) {
          const at = e.at % (text.length + 1);
          text = text.slice(0, at) + e.ins + text.slice(at + e.del);
        }
        const src = bufferSource(Buffer.from(text, 'latin1'), 'fuzz-descriptor.vmdk');
        if (await readsOrImageError(() => openDescriptorVmdk(src, { resolve, vmdk: LIMITS }))) ok++;
      }),
      { numRuns: 10_000, seed: 42 },
    );
    expect(ok).toBeGreaterThan(1000);
  }, 300_000);
});
