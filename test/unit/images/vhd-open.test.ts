import { readFile, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { diskFromBuffer, diskToRaw, hashDisk } from '../../../shared/images/extents';
import { openDiskImage } from '../../../shared/images/open';
import {
  buildFixedVhdFooter,
  parseVhdFooter,
  readFixedVhd,
  vhdGeometry,
  writeFixedVhd,
} from '../../../shared/images/vhd';
import {
  chunked,
  collect,
  fileChunks,
  join,
  pseudoRandom,
  qemuImg,
  rawDisk,
  sha256,
  writeStreamToFile,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const MiB = 1024 * 1024;
const tmp = useTmpDir();

describe('fixed VHD', () => {
  it.each([1 * MiB, 3 * MiB, 10 * MiB + 512])(
    '%i bytes: qemu-img -f vpc reads it identical to the source',
    async (capacity) => {
      // Prepare
      const buf = rawDisk(capacity, [
        { offset: 0, data: pseudoRandom(4096, 1) },
        { offset: capacity - 100, data: pseudoRandom(100, 2) },
      ]);
      const raw = join(tmp.dir, `src-${capacity}.raw`);
      await writeFile(raw, buf);
      const vhd = join(tmp.dir, `out-${capacity}.vhd`);
      // Act
      await writeStreamToFile(writeFixedVhd(diskFromBuffer(buf)), vhd);
      // Assess
      expect((await stat(vhd)).size).toBe(capacity + 512);
      const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'vpc', raw, vhd);
      expect(cmp.stdout).toContain('Images are identical');
      const info = JSON.parse((await qemuImg('info', '-f', 'vpc', '--output=json', vhd)).stdout) as {
        'virtual-size': number;
      };
      expect(info['virtual-size']).toBe(capacity);
      const footer = parseVhdFooter((await readFile(vhd)).subarray(capacity));
      expect(footer).toMatchObject({
        cookie: 'conectix',
        creatorApp: 'bgwy',
        creatorHostOs: 'Wi2k',
        diskType: 'fixed',
        currentSize: capacity,
        originalSize: capacity,
        dataOffset: 0xffffffffffffffffn,
      });
    },
  );

  it('uses the VHD spec geometry when it covers the size exactly', () => {
    // 16 heads * 63 sectors * 1040 cylinders (the spec algorithm yields exactly this)
    const capacity = 1040 * 16 * 63 * 512;
    const g = vhdGeometry(capacity / 512);
    expect(g.cylinders * g.heads * g.sectorsPerTrack).toBe(capacity / 512);
    expect(parseVhdFooter(buildFixedVhdFooter(capacity)).geometry).toEqual(g);
    expect(parseVhdFooter(buildFixedVhdFooter(MiB)).geometry).toEqual({
      cylinders: 65535,
      heads: 16,
      sectorsPerTrack: 255,
    });
  });

  it('parses the footer qemu-img writes, and rejects a corrupted one', async () => {
    const raw = join(tmp.dir, 'q.raw');
    await writeFile(raw, Buffer.alloc(2 * MiB));
    const vhd = join(tmp.dir, 'q.vhd');
    await qemuImg('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, vhd);
    const bytes = await readFile(vhd);
    const f = parseVhdFooter(bytes.subarray(bytes.length - 512));
    expect(f.diskType).toBe('fixed');
    expect(f.currentSize).toBe(2 * MiB);
    const bad = Buffer.from(bytes.subarray(bytes.length - 512));
    bad[50] = bad[50]! ^ 0xff;
    expect(() => parseVhdFooter(bad)).toThrowError(expect.objectContaining({ code: 'BG_VHD_BAD_FOOTER' }));
    expect(() => parseVhdFooter(Buffer.alloc(512))).toThrowError(
      expect.objectContaining({ code: 'BG_VHD_BAD_FOOTER' }),
    );
  });

  it('readFixedVhd streams the content and checks the footer at the end', async () => {
    const buf = rawDisk(2 * MiB, [{ offset: MiB, data: pseudoRandom(5000, 4) }]);
    const vhd = await collect(writeFixedVhd(diskFromBuffer(buf)));
    const h = await hashDisk(readFixedVhd(chunked(vhd, 3333), vhd.length));
    expect(h.sha256).toBe(sha256(buf));
    const corrupt = Buffer.from(vhd);
    corrupt.writeUInt32BE(3, corrupt.length - 512 + 60); // dynamic, checksum now wrong
    await expect(hashDisk(readFixedVhd(chunked(corrupt, 65536), corrupt.length))).rejects.toMatchObject({
      code: 'BG_VHD_BAD_FOOTER',
    });
    await expect(
      hashDisk(readFixedVhd(chunked(vhd.subarray(0, 10_000), vhd.length), vhd.length)),
    ).rejects.toMatchObject({
      code: 'BG_IMAGE_TRUNCATED',
    });
  });

  it('refuses a capacity that is not a multiple of 512 at once', () => {
    expect(() => writeFixedVhd(diskFromBuffer(Buffer.alloc(1000)))).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_UNALIGNED' }),
    );
  });
});

describe('openDiskImage', () => {
  it('opens streamOptimized VMDK, raw, and fixed VHD (with the tail) to the same content', async () => {
    // Prepare
    const buf = rawDisk(2 * MiB, [{ offset: 70_000, data: pseudoRandom(9000, 5) }]);
    const raw = join(tmp.dir, 'o.raw');
    await writeFile(raw, buf);
    const vmdk = join(tmp.dir, 'o.vmdk');
    await qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, vmdk);
    const vhd = join(tmp.dir, 'o.vhd');
    await writeStreamToFile(writeFixedVhd(diskFromBuffer(buf)), vhd);
    const vhdBytes = await readFile(vhd);
    // Act
    const a = await openDiskImage(fileChunks(vmdk), { totalSize: (await stat(vmdk)).size });
    const aHash = await hashDisk(a.disk);
    const b = await openDiskImage(fileChunks(raw), { totalSize: buf.length });
    const bHash = await hashDisk(b.disk);
    const c = await openDiskImage(fileChunks(vhd), {
      totalSize: vhdBytes.length,
      tail: vhdBytes.subarray(-512),
    });
    const cRaw = await collect(diskToRaw(c.disk));
    // Assess
    expect([a.format, b.format, c.format]).toEqual(['vmdk-stream-optimized', 'raw', 'vhd-fixed']);
    expect(aHash.sha256).toBe(sha256(buf));
    expect(bHash.sha256).toBe(sha256(buf));
    expect(cRaw.equals(buf)).toBe(true);
  });

  it('rejects other formats with BG_IMAGE_UNSUPPORTED_FORMAT naming the format', async () => {
    const raw = join(tmp.dir, 'u.raw');
    await writeFile(raw, Buffer.alloc(MiB));
    for (const [fmt, name] of [
      ['qcow2', 'qcow2'],
      ['vhdx', 'vhdx'],
    ] as const) {
      const out = join(tmp.dir, `u.${fmt}`);
      await qemuImg('convert', '-f', 'raw', '-O', fmt, raw, out);
      await expect(
        openDiskImage(fileChunks(out), { totalSize: (await stat(out)).size }),
      ).rejects.toMatchObject({
        code: 'BG_IMAGE_UNSUPPORTED_FORMAT',
        message: expect.stringContaining(`"${name}"`),
      });
    }
  });
});
