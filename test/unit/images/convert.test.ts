import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { convertImage, describeImage, isImageError } from '../../../shared/images';
import { SAMPLE_OVA } from '../../../infra/local/demo';
import { qemuImg, writeSparseRaw } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const SAMPLE_DISK_SHA256 = '5b3d2e6944fdb62a3b9b13ac98134ec4cc4c5ce2ea8229b2bde93e39250ef737';
const tmp = useTmpDir('bg-convert-');

describe('image convert / info', () => {
  it('converts the sample OVA to a streamOptimized VMDK and a fixed VHD that qemu-img finds identical', async () => {
    // Prepare
    const raw = join(tmp.dir, 'sample.raw');
    const vmdk = join(tmp.dir, 'sample.vmdk');
    const vhd = join(tmp.dir, 'sample.vhd');
    const progress: number[] = [];
    // Act
    const toVmdk = await convertImage(SAMPLE_OVA, vmdk, 'vmdk-stream', {
      onProgress: (d) => progress.push(d),
    });
    const toVhd = await convertImage(SAMPLE_OVA, vhd, 'vhd-fixed');
    await qemuImg('convert', '-O', 'raw', vmdk, raw);
    // Assess
    expect(toVmdk.sha256).toBe(SAMPLE_DISK_SHA256);
    expect(toVhd.sha256).toBe(SAMPLE_DISK_SHA256);
    expect(toVmdk.ova?.hardware.vmName).toBe('burstgate-sample');
    expect(progress.at(-1)).toBe(64 * 1024 * 1024);
    expect((await qemuImg('check', vmdk)).code).toBe(0);
    expect((await qemuImg('compare', '-f', 'vpc', '-F', 'raw', vhd, raw)).code).toBe(0);
    expect((await readdir(tmp.dir)).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('describes a raw disk from its map without reading it, and hashes it with --hash', async () => {
    // Prepare
    const raw = join(tmp.dir, 'd.raw');
    await writeSparseRaw(raw, 4 * 1024 * 1024, [{ offset: 0, data: Buffer.from('hello') }]);
    // Act
    const quick = await describeImage(raw);
    const full = await describeImage(raw, { hash: true });
    // Assess
    expect(quick).toMatchObject({ format: 'raw', capacity: 4 * 1024 * 1024, partitionTable: 'none' });
    expect(quick.sha256).toBeUndefined();
    expect(full.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(full.dataBytes).toBe(64 * 1024);
  });

  it.each([
    ['vhd-fixed', 'vpc'],
    ['vhd-dynamic', 'vpc'],
    ['raw', 'raw'],
    ['vmdk-stream', 'vmdk'],
    ['qcow2', 'qcow2'],
    ['vmdk-sparse', 'vmdk'],
  ] as const)(
    'writes %s that qemu-img finds identical and that reads back to the same content',
    async (to, qemuFormat) => {
      // Prepare: 3 MiB + 4 KiB, data at the start, in the middle and at the very end
      const src = join(tmp.dir, `src-${to}.raw`);
      const size = 3 * 1024 * 1024 + 4096;
      await writeSparseRaw(src, size, [
        { offset: 0, data: Buffer.alloc(4096, 1) },
        { offset: 1_500_000, data: Buffer.from('middle') },
        { offset: size - 512, data: Buffer.alloc(512, 0xee) },
      ]);
      const source = await describeImage(src, { hash: true });
      const out = join(tmp.dir, `out-${to}.img`);
      // Act
      const result = await convertImage(src, out, to, { hash: true });
      const back = await describeImage(out, { hash: true });
      // Assess
      expect(result.sha256).toBe(source.sha256);
      expect((await qemuImg('compare', '-f', qemuFormat, '-F', 'raw', out, src)).code).toBe(0);
      expect(back.sha256).toBe(source.sha256);
      expect(back.capacity).toBe(size);
    },
  );

  it('rounds a fixed VHD up to whole MiB for Azure', async () => {
    const src = join(tmp.dir, 'odd.raw');
    await writeSparseRaw(src, 1024 * 1024 + 512, [{ offset: 0, data: Buffer.from('boot') }]);
    const out = join(tmp.dir, 'azure.vhd');
    const result = await convertImage(src, out, 'vhd-fixed', { azure: true });
    expect(result.outputBytes).toBe(2 * 1024 * 1024 + 512);
    const info = await qemuImg('info', '--output=json', '-f', 'vpc', out);
    expect(JSON.parse(info.stdout)['virtual-size']).toBe(2 * 1024 * 1024);
  });

  it('leaves no output behind when the input is bad', async () => {
    // Prepare: the sample OVA cut in half
    const cut = join(tmp.dir, 'cut.ova');
    const bytes = await readFile(SAMPLE_OVA);
    await writeFile(cut, bytes.subarray(0, bytes.length >> 1));
    const out = join(tmp.dir, 'never.vmdk');
    // Act
    const err = await convertImage(cut, out, 'vmdk-stream').catch((e: unknown) => e);
    // Assess
    expect(isImageError(err, 'BG_IMAGE_TRUNCATED')).toBe(true);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  it('refuses an unknown target format with a typed error', async () => {
    const err = await convertImage(SAMPLE_OVA, join(tmp.dir, 'x'), 'nope' as never).catch((e: unknown) => e);
    expect(isImageError(err, 'BG_IMAGE_UNSUPPORTED_FORMAT')).toBe(true);
  });
});
