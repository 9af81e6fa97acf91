import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { diskFromBuffer, hashDisk, rawToDisk } from '../../../shared/images/extents';
import { parseVmdkHeader } from '../../../shared/images/vmdk-format';
import { VmdkStreamReader } from '../../../shared/images/vmdk-stream-reader';
import { writeStreamOptimizedVmdk } from '../../../shared/images/vmdk-stream-writer';
import {
  chunked,
  collect,
  fileChunks,
  join,
  pseudoRandom,
  qemuImg,
  rawDisk,
  sha256,
  writeSparseRaw,
  writeStreamToFile,
  type Patch,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const tmp = useTmpDir();

const MiB = 1024 * 1024;
const cases: Array<{ name: string; capacity: number; patches: Patch[] }> = [
  { name: 'data-at-start', capacity: 4 * MiB, patches: [{ offset: 0, data: pseudoRandom(200_000, 1) }] },
  {
    name: 'data-in-middle-across-grain-tables',
    capacity: 70 * MiB,
    patches: [
      { offset: 32 * MiB - 1000, data: pseudoRandom(3000, 2) },
      { offset: 40 * MiB, data: Buffer.alloc(100_000, 7) },
    ],
  },
  { name: 'data-at-end', capacity: 5 * MiB, patches: [{ offset: 5 * MiB - 3, data: Buffer.from('end') }] },
  {
    name: 'capacity-not-grain-multiple',
    capacity: 3 * MiB + 7 * 512,
    patches: [
      { offset: 3 * MiB, data: pseudoRandom(7 * 512, 4) },
      { offset: 12345, data: Buffer.from('x') },
    ],
  },
  { name: 'all-zero', capacity: 2 * MiB, patches: [] },
];

describe('writeStreamOptimizedVmdk', () => {
  it.each(cases)(
    '$name: qemu-img check passes and compare finds it identical',
    async ({ name, capacity, patches }) => {
      // Prepare
      const raw = join(tmp.dir, `${name}.raw`);
      await writeSparseRaw(raw, capacity, patches);
      const out = join(tmp.dir, `${name}.vmdk`);
      // Act
      await writeStreamToFile(writeStreamOptimizedVmdk(rawToDisk(fileChunks(raw, 100_000), capacity)), out);
      // Assess
      const check = await qemuImg('check', out);
      expect(check.stderr).toBe('');
      expect(check.stdout).toContain('No errors were found');
      const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, out);
      expect(cmp.stdout).toContain('Images are identical');
      const info = JSON.parse((await qemuImg('info', '--output=json', out)).stdout) as {
        'virtual-size': number;
        'format-specific': { data: { 'create-type': string } };
      };
      expect(info['virtual-size']).toBe(capacity);
      expect(info['format-specific'].data['create-type']).toBe('streamOptimized');
    },
  );

  it('writes VMware layout: version 3, compressed+markers flags, GD_AT_END in the header, footer and EOS', async () => {
    // Prepare
    const disk = diskFromBuffer(rawDisk(MiB, [{ offset: 0, data: Buffer.from('boot') }]));
    // Act
    const out = await collect(writeStreamOptimizedVmdk(disk, { adapterType: 'ide' }));
    // Assess
    const h = parseVmdkHeader(out);
    expect(h.magic).toBe(0x564d444b);
    expect(h.version).toBe(3);
    expect(h.flags).toBe(0x30001);
    expect(h.gdOffset).toBe(0xffffffffffffffffn);
    expect(h.grainSize).toBe(128n);
    expect(h.compressAlgorithm).toBe(1);
    const descriptor = out.subarray(512, 512 + Number(h.descriptorSize) * 512).toString('latin1');
    expect(descriptor).toContain('createType="streamOptimized"');
    expect(descriptor).toContain('ddb.adapterType = "ide"');
    expect(out.subarray(out.length - 512).equals(Buffer.alloc(512))).toBe(true); // EOS
    const footerMarker = out.subarray(out.length - 1536, out.length - 1024);
    expect(footerMarker.readBigUInt64LE(0)).toBe(1n);
    expect(footerMarker.readUInt32LE(12)).toBe(3);
    const footer = parseVmdkHeader(out.subarray(out.length - 1024, out.length - 512));
    expect(footer.gdOffset).not.toBe(0xffffffffffffffffn);
    expect(out.length % 512).toBe(0);
  });

  it('round-trips through our reader with 1-byte chunks and through qemu-img convert', async () => {
    // Prepare
    const buf = rawDisk(2 * MiB, [
      { offset: 100, data: pseudoRandom(70_000, 8) },
      { offset: 2 * MiB - 10, data: Buffer.from('0123456789') },
    ]);
    // Act
    const vmdk = await collect(writeStreamOptimizedVmdk(diskFromBuffer(buf), { compressionLevel: 1 }));
    const viaOurs = await hashDisk(await new VmdkStreamReader().read(chunked(vmdk, 1)));
    const path = join(tmp.dir, 'rt.vmdk');
    await writeStreamToFile(chunked(vmdk, 65536), path);
    const raw = join(tmp.dir, 'rt.raw');
    await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', path, raw);
    // Assess
    expect(viaOurs.sha256).toBe(sha256(buf));
    expect((await readFile(raw)).equals(buf)).toBe(true);
  });

  it('writes the same bytes whether grains are compressed in parallel or one by one', async () => {
    const buf = rawDisk(40 * MiB, [
      { offset: 0, data: pseudoRandom(300_000, 12) },
      { offset: 33 * MiB, data: pseudoRandom(200_000, 13) },
    ]);
    const serial = await collect(writeStreamOptimizedVmdk(diskFromBuffer(buf), { cid: 7, concurrency: 1 }));
    const parallel = await collect(writeStreamOptimizedVmdk(diskFromBuffer(buf), { cid: 7, concurrency: 8 }));
    expect(parallel.equals(serial)).toBe(true);
    expect((await hashDisk(await new VmdkStreamReader().read(chunked(parallel, 65536)))).sha256).toBe(
      sha256(buf),
    );
  });

  it('refuses a capacity that is not a whole number of sectors', () => {
    expect(() => writeStreamOptimizedVmdk(diskFromBuffer(Buffer.alloc(1000)))).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_UNALIGNED' }),
    );
  });
});
