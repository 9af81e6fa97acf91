/**
 * Random access to the VMDKs made by real tools in ../shared/fixtures/real-world (VirtualBox's
 * streamOptimized has its grain directory at the end; VMware's in the header). Checked against
 * `qemu-img convert -O raw`. When that folder is absent this suite says so and checks nothing.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hashDisk, streamFrom } from '../../../shared/images/extents';
import { openRandomAccess } from '../../../shared/images/random-access';
import { writeRawSparse } from '../../../shared/images/raw-writer';
import { fileSource } from '../../../shared/images/source';
import type { SparseVmdkDisk } from '../../../shared/images/vmdk-sparse';
import { join, pseudoRandom, qemuImg, sha256File } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const realWorld = resolve(projectRoot, '../shared/fixtures/real-world');
const present = existsSync(realWorld);
if (!present) console.log(`real-world random-access VMDK tests SKIPPED: ${realWorld} does not exist`);

const tmp = useTmpDir('bg-vmdk-rw-');

/** qemu-img's allocated (data) ranges, merged. */
async function qemuDataRanges(path: string): Promise<Array<[number, number]>> {
  const r = await qemuImg('map', '--output=json', '-f', 'vmdk', path);
  expect(r.code).toBe(0);
  return mergeRanges(
    (JSON.parse(r.stdout) as Array<{ start: number; length: number; data: boolean }>)
      .filter((m) => m.data)
      .map((m) => [m.start, m.length]),
  );
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [start, length] of ranges) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === start) last[1] += length;
    else out.push([start, length]);
  }
  return out;
}

describe.runIf(present)('real-world VMDKs opened for random access', () => {
  it.each([
    ['cot-virtualbox/ubuntu.2.0-disk1.vmdk', 'footer', 8 * 1024 ** 3],
    ['cot-vmware/blank.vmdk', 'header', 512 * 1024 ** 2],
    ['cot-vmware/input.vmdk', 'header', 1024 ** 3],
  ])('%s agrees with qemu-img (map, compare, content)', async (rel, gdFrom, capacity) => {
    // Prepare
    const path = join(realWorld, rel);
    const qemuRaw = join(tmp.dir, rel.replace(/\W/g, '_') + '.qemu.raw');
    const ourRaw = join(tmp.dir, rel.replace(/\W/g, '_') + '.ours.raw');
    expect((await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', path, qemuRaw)).code).toBe(0);
    const src = await fileSource(path);
    const rawSrc = await fileSource(qemuRaw);
    try {
      // Act
      const disk = (await openRandomAccess(src)) as SparseVmdkDisk;
      const ours: Array<[number, number]> = [];
      for await (const m of disk.map()) if (!m.zero) ours.push([m.offset, m.length]);
      await writeRawSparse(streamFrom(disk), ourRaw);
      // Assess
      expect(disk.format).toBe('vmdk-stream-optimized');
      expect(disk.gdFrom).toBe(gdFrom);
      expect(disk.capacity).toBe(capacity);
      expect(mergeRanges(ours)).toEqual(await qemuDataRanges(path));
      const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', ourRaw, path);
      expect(cmp.stdout).toContain('Images are identical');
      if (capacity <= 512 * 1024 ** 2) {
        expect((await hashDisk(streamFrom(disk))).sha256).toBe(await sha256File(qemuRaw));
      }
      const r = pseudoRandom(100 * 8, 21);
      for (let i = 0; i < 100; i++) {
        const off = Math.floor((r.readUInt32LE(i * 8) / 2 ** 32) * disk.capacity);
        const len = Math.min(disk.capacity - off, r.readUInt32LE(i * 8 + 4) % 200_000);
        if (!(await disk.read(off, len)).equals(await rawSrc.read(off, len))) {
          throw new Error(`${rel}: read(${off}, ${len}) differs from qemu-img's`);
        }
      }
    } finally {
      await src.close();
      await rawSrc.close();
    }
  });
});
