import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { diskFromBuffer, type DiskStream } from '../../../shared/images/extents';
import { formatManifest } from '../../../shared/images/manifest';
import { inspectOva, writeOva } from '../../../shared/images/ova';
import { buildOvf } from '../../../shared/images/ovf-build';
import { readTar, writeTar, type TarWriteEntry } from '../../../shared/images/tar';
import { writeStreamOptimizedVmdk } from '../../../shared/images/vmdk-stream-writer';
import {
  chunked,
  collect,
  join,
  pseudoRandom,
  qemuImg,
  rawDisk,
  sha256,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const tmp = useTmpDir();

function gptDisk(capacity: number): Buffer {
  const buf = rawDisk(capacity, [{ offset: 3 * MiB, data: pseudoRandom(50_000, 11) }]);
  buf[446 + 4] = 0xee;
  buf.writeUInt32LE(1, 446 + 8);
  buf.writeUInt32LE(0xffffffff, 446 + 12);
  buf[510] = 0x55;
  buf[511] = 0xaa;
  buf.write('EFI PART', 512, 'latin1');
  return buf;
}

function once(buf: Buffer, size = 64 * 1024): AsyncIterable<Buffer> {
  return chunked(buf, size);
}

/** A hand-made OVA: descriptor, VMDK, optional manifest; entries can be reordered or altered. */
async function handMadeOva(opts: {
  order?: (e: TarWriteEntry[]) => TarWriteEntry[];
  manifest?: (ovf: Buffer, vmdk: Buffer) => string | undefined;
  diskName?: string;
}): Promise<{ ova: Buffer; disk: Buffer }> {
  const disk = rawDisk(4 * MiB, [{ offset: 0, data: pseudoRandom(1000, 3) }]);
  const vmdk = await collect(writeStreamOptimizedVmdk(diskFromBuffer(disk)));
  const ovf = Buffer.from(
    buildOvf({
      vmName: 'hand',
      vcpus: 2,
      memoryMiB: 2048,
      firmware: 'bios',
      disks: [{ fileName: 'hand-disk1.vmdk', fileSize: vmdk.length, capacityBytes: disk.length }],
    }),
  );
  const mf =
    opts.manifest?.(ovf, vmdk) ??
    formatManifest([
      { algorithm: 'SHA256', file: 'hand.ovf', digest: sha256(ovf) },
      { algorithm: 'SHA256', file: 'hand-disk1.vmdk', digest: sha256(vmdk) },
    ]);
  let entries: TarWriteEntry[] = [
    { name: 'hand.ovf', size: ovf.length, body: [ovf] },
    { name: opts.diskName ?? 'hand-disk1.vmdk', size: vmdk.length, body: [vmdk] },
    { name: 'hand.mf', size: Buffer.byteLength(mf), body: [Buffer.from(mf)] },
  ];
  if (opts.order) entries = opts.order(entries);
  return { ova: await collect(writeTar(entries)), disk };
}

describe('writeOva + inspectOva', () => {
  it('writes an OVA that GNU tar lists in order, whose VMDK passes qemu-img check and compare, and inspects it back', async () => {
    // Prepare
    const buf = gptDisk(6 * MiB + 512);
    const second = rawDisk(MiB, [{ offset: 0, data: Buffer.from('second') }]);
    const staging = join(tmp.dir, 'staging');
    await mkdir(staging);
    // Act
    const ova = await collect(
      writeOva({
        vmName: 'web01',
        vcpus: 2,
        memoryMiB: 4096,
        firmware: 'efi',
        disks: [
          { fileName: 'web01-disk1.vmdk', disk: diskFromBuffer(buf) },
          { fileName: 'web01-disk2.vmdk', disk: diskFromBuffer(second) },
        ],
        tmpDir: staging,
      }),
    );
    const inspection = await inspectOva(once(ova, 1000));
    // Assess: the archive
    const path = join(tmp.dir, 'web01.ova');
    await writeFile(path, ova);
    const { stdout } = await run('tar', ['-tf', path]);
    expect(stdout.trim().split('\n')).toEqual([
      'web01.ovf',
      'web01-disk1.vmdk',
      'web01-disk2.vmdk',
      'web01.mf',
    ]);
    const out = join(tmp.dir, 'x');
    await mkdir(out);
    await run('tar', ['-xf', path, '-C', out]);
    expect((await qemuImg('check', join(out, 'web01-disk1.vmdk'))).stdout).toContain('No errors were found');
    const raw = join(tmp.dir, 'web01-disk1.raw');
    await writeFile(raw, buf);
    expect(
      (await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, join(out, 'web01-disk1.vmdk'))).stdout,
    ).toContain('Images are identical');
    // Assess: the inspection
    expect(inspection.descriptorName).toBe('web01.ovf');
    expect(inspection.hardware).toMatchObject({
      vmName: 'web01',
      vcpus: 2,
      memoryMiB: 4096,
      firmware: 'efi',
    });
    expect(inspection.manifest?.verified).toEqual(['web01.ovf', 'web01-disk1.vmdk', 'web01-disk2.vmdk']);
    expect(inspection.disks).toEqual([
      {
        name: 'web01-disk1.vmdk',
        format: 'vmdk-stream-optimized',
        capacity: buf.length,
        contentSha256: sha256(buf),
        dataBytes: expect.any(Number),
        partitionTable: 'gpt',
      },
      {
        name: 'web01-disk2.vmdk',
        format: 'vmdk-stream-optimized',
        capacity: MiB,
        contentSha256: sha256(second),
        dataBytes: 65536,
        partitionTable: 'none',
      },
    ]);
    expect(inspection.files.map((f) => f.name)).toEqual([
      'web01.ovf',
      'web01-disk1.vmdk',
      'web01-disk2.vmdk',
      'web01.mf',
    ]);
    expect(await readdir(staging)).toEqual([]);
  });

  it('removes its temporary files when the disk stream fails', async () => {
    const staging = join(tmp.dir, 'staging-fail');
    await mkdir(staging);
    const broken: DiskStream = {
      capacity: MiB,
      extents: (async function* () {
        yield { kind: 'data' as const, offset: 0, data: Buffer.alloc(512, 1) };
        throw new Error('source went away');
      })(),
    };
    await expect(
      collect(writeOva({ vmName: 'x', disks: [{ fileName: 'x.vmdk', disk: broken }], tmpDir: staging })),
    ).rejects.toThrow('source went away');
    expect(await readdir(staging)).toEqual([]);
  });

  it('hands each disk to onDisk, and still hashes what the callback does not read', async () => {
    const { ova, disk } = await handMadeOva({});
    const seen: Array<{ name: string; capacity: number; firstKind: string }> = [];
    const r = await inspectOva(once(ova), {
      onDisk: async (name, d) => {
        for await (const e of d.extents) {
          seen.push({ name, capacity: d.capacity, firstKind: e.kind });
          break; // read one extent only
        }
      },
    });
    expect(seen).toEqual([{ name: 'hand-disk1.vmdk', capacity: disk.length, firstKind: 'data' }]);
    expect(r.disks[0]?.contentSha256).toBe(sha256(disk));
    expect(r.manifest?.verified).toEqual(['hand.ovf', 'hand-disk1.vmdk']);
  });

  it('names the file whose digest does not match the manifest', async () => {
    const { ova } = await handMadeOva({
      manifest: (ovf) =>
        formatManifest([
          { algorithm: 'SHA256', file: 'hand.ovf', digest: sha256(ovf) },
          { algorithm: 'SHA256', file: 'hand-disk1.vmdk', digest: '0'.repeat(64) },
        ]),
    });
    await expect(inspectOva(once(ova))).rejects.toMatchObject({
      name: 'ImageError',
      code: 'BG_OVA_MANIFEST_MISMATCH',
      message: expect.stringContaining('"hand-disk1.vmdk"'),
    });
  });

  it('verifies SHA1 manifests in the ovftool syntax when the manifest comes second', async () => {
    const { createHash } = await import('node:crypto');
    const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');
    const { ova } = await handMadeOva({
      manifest: (ovf, vmdk) => `SHA1 (hand.ovf) = ${sha1(ovf)}\nSHA1 (hand-disk1.vmdk) = ${sha1(vmdk)}\n`,
      order: ([ovf, vmdk, mf]) => [ovf!, mf!, vmdk!],
    });
    const r = await inspectOva(once(ova));
    expect(r.manifest?.verified).toEqual(['hand.ovf', 'hand-disk1.vmdk']);
  });

  it('names a listed file that is absent', async () => {
    const { ova } = await handMadeOva({
      manifest: (ovf, vmdk) =>
        formatManifest([
          { algorithm: 'SHA256', file: 'hand.ovf', digest: sha256(ovf) },
          { algorithm: 'SHA256', file: 'hand-disk1.vmdk', digest: sha256(vmdk) },
          { algorithm: 'SHA256', file: 'hand.nvram', digest: '1'.repeat(64) },
        ]),
    });
    await expect(inspectOva(once(ova))).rejects.toMatchObject({
      code: 'BG_OVA_MANIFEST_MISSING_FILE',
      message: expect.stringContaining('"hand.nvram"'),
    });
  });

  it('rejects a descriptor that is not first, an archive without descriptor, and a missing disk', async () => {
    const notFirst = await handMadeOva({ order: ([ovf, vmdk, mf]) => [vmdk!, ovf!, mf!] });
    await expect(inspectOva(once(notFirst.ova))).rejects.toMatchObject({
      code: 'BG_OVA_DESCRIPTOR_NOT_FIRST',
    });
    const none = await handMadeOva({ order: ([, vmdk]) => [vmdk!] });
    await expect(inspectOva(once(none.ova))).rejects.toMatchObject({ code: 'BG_OVA_NO_DESCRIPTOR' });
    const renamed = await handMadeOva({ diskName: 'other.vmdk', manifest: () => '' });
    await expect(inspectOva(once(renamed.ova))).rejects.toMatchObject({
      code: 'BG_OVA_MISSING_DISK',
      message: expect.stringContaining('hand-disk1.vmdk'),
    });
  });

  it('rejects an OVF that names no disk file', async () => {
    const ovf = Buffer.from(
      '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"><VirtualSystem><Name>empty</Name></VirtualSystem></Envelope>',
    );
    const ova = await collect(writeTar([{ name: 'e.ovf', size: ovf.length, body: [ovf] }]));
    await expect(inspectOva(once(ova))).rejects.toMatchObject({ code: 'BG_OVA_NO_DISK' });
  });

  it('fails with BG_IMAGE_TRUNCATED (never hangs) when the OVA is cut', async () => {
    const { ova } = await handMadeOva({});
    for (const cut of [100, 512, 3000, 5000, ova.length - 2000, ova.length - 1024]) {
      await expect(inspectOva(once(ova.subarray(0, cut))), `cut at ${cut}`).rejects.toMatchObject({
        code: 'BG_IMAGE_TRUNCATED',
      });
    }
  });

  it('a disk that is not streamOptimized in an OVA is a typed error naming the format', async () => {
    const raw = join(tmp.dir, 'q.raw');
    await writeFile(raw, rawDisk(MiB, [{ offset: 0, data: Buffer.from('x') }]));
    const qcow = join(tmp.dir, 'q.qcow2');
    await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, qcow);
    const { readFile } = await import('node:fs/promises');
    const q = await readFile(qcow);
    const ovf = Buffer.from(
      buildOvf({
        vmName: 'q',
        vcpus: 1,
        memoryMiB: 1,
        firmware: 'bios',
        disks: [{ fileName: 'q.vmdk', fileSize: q.length, capacityBytes: MiB }],
      }),
    );
    const ova = await collect(
      writeTar([
        { name: 'q.ovf', size: ovf.length, body: [ovf] },
        { name: 'q.vmdk', size: q.length, body: [q] },
      ]),
    );
    await expect(inspectOva(once(ova))).rejects.toMatchObject({
      code: 'BG_IMAGE_UNSUPPORTED_FORMAT',
      message: expect.stringContaining('qcow2'),
    });
    // the archive itself is fine
    const names: string[] = [];
    for await (const e of readTar(once(ova))) names.push(e.name);
    expect(names).toEqual(['q.ovf', 'q.vmdk']);
  });
});
