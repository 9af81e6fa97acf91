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
import { parseManifest } from '../../../shared/images/manifest';
import { inspectOva } from '../../../shared/images/ova';
import { parseOvf } from '../../../shared/images/ovf-parse';
import { writeTar } from '../../../shared/images/tar';
import { VmdkStreamReader } from '../../../shared/images/vmdk-stream-reader';
import {
  collect,
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

describe.runIf(present)('real-world OVF descriptors', () => {
  it.each([
    [
      'cot-virtualbox/ubuntu.2.0.ovf',
      { vmName: 'ubuntu', vcpus: 1, memoryMiB: 512, firmware: 'bios', osType: 'Ubuntu_64' },
      [{ href: 'ubuntu.2.0-disk1.vmdk', capacityBytes: 8 * 1024 ** 3 }],
      [{ network: 'NAT', adapterType: 'E1000' }],
    ],
    [
      'cot-vmware/input.ovf',
      { vmName: 'test', vcpus: 4, memoryMiB: 4096, firmware: 'bios', configuration: '4CPU-4GB-3NIC' },
      [{ href: 'input.vmdk', capacityBytes: 1024 ** 3 }],
      [1, 2, 3].map((i) => ({ name: `GigabitEthernet${i}`, network: 'VM Network', adapterType: 'VMXNET3' })),
    ],
    [
      'cot-vmware/vmware.ovf',
      { vmName: 'vmw', vcpus: 2, memoryMiB: 1536, firmware: 'bios', osType: 'rhel6_64Guest' },
      [{ href: 'input.vmdk', capacityBytes: 1024 ** 3 }],
      [1, 2, 3, 4].map((i) => ({
        name: `Network adapter ${i}`,
        network: 'lanethernet0',
        adapterType: 'E1000',
      })),
    ],
    [
      'cot-vmware/v0.9.ovf',
      { vcpus: 1, memoryMiB: 8192, firmware: 'bios', osType: 'other26xLinux64Guest' },
      [{ href: 'input.vmdk', capacityBytes: 1024 ** 3 }],
      [{ network: 'bridged', adapterType: 'PCNet32' }],
    ],
    [
      'govmomi-ovftool/ttylinux-pc_i486-16.1.ovf',
      { vmName: 'ttylinux-pc_i486-16.1', vcpus: 1, memoryMiB: 32, firmware: 'efi' },
      [{ href: 'ttylinux-pc_i486-16.1-disk1.vmdk', capacityBytes: 30 * 1024 ** 2 }],
      [{ name: 'ethernet0', network: 'nat', adapterType: 'E1000' }],
    ],
    [
      'govmomi-vcenter/windowsVM40g.ovf',
      { vcpus: 4, memoryMiB: 16384, firmware: 'bios', osType: 'winNetEnterprise64Guest' },
      [{ href: 'windowsVM40g-disk1.vmdk', capacityBytes: 40 * 1024 ** 3 }],
      [{ network: '1GVM Network', adapterType: 'E1000' }],
    ],
    [
      'govmomi-vcenter/converter_winxp.ovf',
      { vcpus: 2, memoryMiB: 256, firmware: 'bios', osType: 'winXPProGuest' },
      [{ href: 'converter_winxp-disk1.vmdk', capacityBytes: 7 * 1024 ** 3 }],
      [{ network: 'dvportgroup-4574', adapterType: 'PCNet32' }],
    ],
    [
      'govmomi-virtualbox/vbox1.ovf',
      { vmName: 'vbox1', vcpus: 1, memoryMiB: 192, firmware: 'bios' },
      [{ href: 'vbox1.vmdk', capacityBytes: 10 * 1024 ** 3 }],
      [{ network: 'NAT', adapterType: 'PCNet32' }],
    ],
  ] as const)('%s', async (rel, expected, disks, nics) => {
    // Act
    const h = parseOvf(await readFile(join(realWorld, rel), 'utf8'));
    // Assess
    expect(h).toMatchObject(expected);
    expect(h.disks).toHaveLength(disks.length);
    disks.forEach((d, i) => expect(h.disks[i]).toMatchObject(d));
    expect(h.nics).toHaveLength(nics.length);
    nics.forEach((n, i) => expect(h.nics[i]).toMatchObject(n));
  });

  it('parses every real-world manifest (both syntaxes)', async () => {
    const vbox = parseManifest(await readFile(join(realWorld, 'cot-virtualbox/ubuntu.2.0.mf'), 'utf8'));
    const ovftool = parseManifest(
      await readFile(join(realWorld, 'govmomi-ovftool/ttylinux-pc_i486-16.1.mf'), 'utf8'),
    );
    expect(vbox.map((e) => [e.algorithm, e.file])).toEqual([
      ['SHA256', 'ubuntu.2.0.ovf'],
      ['SHA256', 'ubuntu.2.0-disk1.vmdk'],
    ]);
    expect(ovftool).toEqual([
      {
        algorithm: 'SHA1',
        file: 'ttylinux-pc_i486-16.1.ovf',
        digest: '06271f767e0d5671c67e4edeaa2c157cabb66c2b',
      },
      {
        algorithm: 'SHA1',
        file: 'ttylinux-pc_i486-16.1-disk1.vmdk',
        digest: '648e20a1e1625b1bb963b08c926bc18e62f15dfc',
      },
    ]);
  });
});

// input.vmdk holds only all-zero grains (qemu-img compare above proves our reading of it); this is
// the SHA-256 of 1 GiB of zeros ("head -c 1073741824 /dev/zero | sha256sum")
const ZERO_GIB_SHA256 = '49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14';

async function ovaOf(files: string[]): Promise<Buffer> {
  const entries = await Promise.all(
    files.map(async (rel) => {
      const data = await readFile(join(realWorld, rel));
      return { name: rel.replace(/^.*\//, ''), size: data.length, body: [data] };
    }),
  );
  return collect(writeTar(entries));
}

describe.runIf(present)(
  'real-world files packed into an OVA (in memory, never copied into the project)',
  () => {
    it('VMware export: SHA1 manifest entries verify, and the listed-but-absent input.iso is named', async () => {
      // Prepare
      const ova = await ovaOf(['cot-vmware/input.ovf', 'cot-vmware/input.vmdk', 'cot-vmware/input.mf']);
      // Act
      const attempt = inspectOva(
        (async function* () {
          yield ova;
        })(),
      );
      // Assess
      await expect(attempt).rejects.toMatchObject({
        code: 'BG_OVA_MANIFEST_MISSING_FILE',
        message: expect.stringContaining('"input.iso"'),
      });
    });

    it('VMware export without its manifest: the disk is read and hashed', async () => {
      const ova = await ovaOf(['cot-vmware/input.ovf', 'cot-vmware/input.vmdk']);
      const r = await inspectOva(
        (async function* () {
          yield ova;
        })(),
      );
      expect(r.descriptorName).toBe('input.ovf');
      expect(r.hardware.vcpus).toBe(4);
      expect(r.disks).toEqual([
        {
          name: 'input.vmdk',
          format: 'vmdk-stream-optimized',
          capacity: 1024 ** 3,
          contentSha256: ZERO_GIB_SHA256,
          dataBytes: 0,
          partitionTable: 'none',
        },
      ]);
      expect(r.files.map((f) => f.name)).toEqual(['input.ovf', 'input.vmdk']);
      expect(r.manifest).toBeUndefined();
    });

    it('ovftool manifest ("SHA1 (name) = hex") naming a disk that is not there: the error names it', async () => {
      const ova = await ovaOf([
        'govmomi-ovftool/ttylinux-pc_i486-16.1.ovf',
        'govmomi-ovftool/ttylinux-pc_i486-16.1.mf',
      ]);
      await expect(
        inspectOva(
          (async function* () {
            yield ova;
          })(),
        ),
      ).rejects.toMatchObject({
        code: 'BG_OVA_MANIFEST_MISSING_FILE',
        message: expect.stringContaining('ttylinux-pc_i486-16.1-disk1.vmdk'),
      });
    });
  },
);
