/**
 * Interop with files made by real tools (VirtualBox, VMware, ovftool, vCenter). They live outside
 * the project, in ../shared/fixtures/real-world (seen from the project root), and are never copied
 * in. When the folder is absent this suite says so plainly and checks nothing.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectImageFormat } from '../../../shared/images/detect';
import { hashDisk } from '../../../shared/images/extents';
import { VmdkStreamReader } from '../../../shared/images/vmdk-stream-reader';
import {
  fileChunks,
  join,
  makeTmpDir,
  qemuImg,
  sha256File,
  writeDiskToSparseFile,
} from '../../helpers/images/fixtures';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const realWorld = resolve(projectRoot, '../shared/fixtures/real-world');
const present = existsSync(join(realWorld, 'PROVENANCE.md'));
if (!present) {
  console.log(`real-world interop tests SKIPPED: ${realWorld} does not exist (CI always has it)`);
}

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await makeTmpDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe.runIf(present)('real-world VMDKs', () => {
  it.each([
    ['cot-virtualbox/ubuntu.2.0-disk1.vmdk', 8 * 1024 ** 3, 'gd-at-end', 'ide'],
    ['cot-vmware/blank.vmdk', 512 * 1024 ** 2, 'gd-in-header', 'lsilogic'],
    ['cot-vmware/input.vmdk', 1024 ** 3, 'gd-in-header', 'lsilogic'],
  ])('%s reads like qemu-img reads it', async (rel, capacity, layout, adapter) => {
    // Prepare
    const path = join(realWorld, rel);
    const bytes = await readFile(path);
    const ours = join(tmp.dir, rel.replace(/\W/g, '_') + '.raw');
    // Act
    const format = detectImageFormat(bytes.subarray(0, 65536), bytes.length, bytes.subarray(-512));
    const disk = await new VmdkStreamReader().read(fileChunks(path));
    await writeDiskToSparseFile(disk, ours);
    // Assess
    expect(format).toBe('vmdk-stream-optimized');
    expect(disk.capacity).toBe(capacity);
    expect(disk.layout).toBe(layout);
    expect(disk.header.version).toBe(3);
    expect(disk.descriptor.createType).toBe('streamOptimized');
    expect(disk.descriptor.adapterType).toBe(adapter);
    const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', ours, path);
    expect(cmp.stdout).toContain('Images are identical');
    expect(cmp.code).toBe(0);
  });

  it('content hash of the 512 MiB VMware disk equals the hash of qemu-img convert -O raw', async () => {
    // Prepare
    const path = join(realWorld, 'cot-vmware/blank.vmdk');
    const raw = join(tmp.dir, 'blank-qemu.raw');
    expect((await qemuImg('convert', '-f', 'vmdk', '-O', 'raw', path, raw)).code).toBe(0);
    // Act
    const ours = await hashDisk(await new VmdkStreamReader().read(fileChunks(path)));
    // Assess
    expect(ours.sha256).toBe(await sha256File(raw));
    expect(ours.capacity).toBe(512 * 1024 ** 2);
  });
});
