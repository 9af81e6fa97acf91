import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { diskFromBuffer, hashDisk } from '../../../shared/images/extents';
import { formatManifest } from '../../../shared/images/manifest';
import { inspectOva, listOvaEntries, subSource, writeOva } from '../../../shared/images/ova';
import { STREAM_OPTIMIZED_FORMAT_URI } from '../../../shared/images/ovf-build';
import { bufferSource, type ByteSource } from '../../../shared/images/source';
import { readTar, writeTar } from '../../../shared/images/tar';
import { VmdkStreamReader } from '../../../shared/images/vmdk-stream-reader';
import { chunked, collect, join, pseudoRandom, rawDisk, sha256 } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const tmp = useTmpDir();
const realWorld = join(__dirname, '../../../../shared/fixtures/real-world');

/** A ByteSource that counts what is read through it. */
function counting(src: ByteSource): { src: ByteSource; bytes: () => number; reads: () => number } {
  let bytes = 0;
  let reads = 0;
  return {
    src: {
      size: src.size,
      name: src.name,
      read: async (o, l) => {
        bytes += l;
        reads++;
        return src.read(o, l);
      },
      close: () => src.close(),
    },
    bytes: () => bytes,
    reads: () => reads,
  };
}

async function tinyOva(): Promise<{ ova: Buffer; disk: Buffer }> {
  const disk = rawDisk(2 * MiB, [{ offset: 70_000, data: pseudoRandom(5000, 4) }]);
  const ova = await collect(
    writeOva({
      vmName: 'ra',
      disks: [{ fileName: 'ra-disk1.vmdk', disk: diskFromBuffer(disk) }],
      tmpDir: tmp.dir,
      mtime: new Date(0),
    }),
  );
  return { ova, disk };
}

describe('listOvaEntries + subSource', () => {
  it('lists entries with body offsets that match readTar, reading only the headers', async () => {
    // Prepare
    const { ova, disk } = await tinyOva();
    const src = counting(bufferSource(ova, 'ra.ova'));
    // Act
    const entries = await listOvaEntries(src.src);
    // Assess
    const streamed: Array<{ name: string; offset: number; size: number; data: Buffer }> = [];
    for await (const e of readTar(chunked(ova, 777))) {
      streamed.push({ name: e.name, offset: e.offset, size: e.size, data: await collect(e.body) });
    }
    expect(entries).toEqual(streamed.map(({ name, offset, size }) => ({ name, offset, size, type: 'file' })));
    expect(entries.map((e) => e.name)).toEqual(['ra.ovf', 'ra-disk1.vmdk', 'ra.mf']);
    // 3 headers + the two zero blocks of the end marker, never a body
    expect(src.reads()).toBe(5);
    expect(src.bytes()).toBe(5 * 512);
    // the disk opened in place through a sub-range
    const vmdkEntry = entries[1]!;
    const sub = subSource(bufferSource(ova), vmdkEntry.offset, vmdkEntry.size, 'ra-disk1.vmdk');
    expect(sub.size).toBe(vmdkEntry.size);
    const bytes = await sub.read(0, sub.size);
    expect(bytes.equals(streamed[1]!.data)).toBe(true);
    const opened = await new VmdkStreamReader().read(chunked(bytes, 4096));
    expect((await hashDisk(opened)).sha256).toBe(sha256(disk));
  });

  it('subSource checks reads against its own range and never closes the parent', async () => {
    const parent = counting(bufferSource(Buffer.from('0123456789'), 'p'));
    let closed = false;
    const src: ByteSource = { ...parent.src, close: async () => void (closed = true) };
    const sub = subSource(src, 2, 5);
    expect((await sub.read(1, 3)).toString()).toBe('345');
    await expect(sub.read(3, 3)).rejects.toMatchObject({ code: 'BG_IMAGE_TRUNCATED' });
    await expect(sub.read(-1, 1)).rejects.toMatchObject({ code: 'BG_IMAGE_INVALID_ARGUMENT' });
    await sub.close();
    expect(closed).toBe(false);
    expect(() => subSource(src, 8, 5)).toThrowError(expect.objectContaining({ code: 'BG_IMAGE_TRUNCATED' }));
    expect(() => subSource(src, 1.5, 1)).toThrowError(
      expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
    );
  });

  it('reads what GNU tar writes (gnu long names and pax), same as readTar', async () => {
    const src = join(tmp.dir, 'src');
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}.vmdk`;
    await mkdir(join(src, 'd'.repeat(120)), { recursive: true });
    await writeFile(join(src, 'a.ovf'), '<Envelope/>');
    await writeFile(join(src, long), pseudoRandom(1500, 9));
    for (const format of ['gnu', 'pax', 'ustar']) {
      const archive = join(tmp.dir, `${format}.tar`);
      const names = format === 'ustar' ? ['a.ovf'] : ['a.ovf', long];
      await run('tar', [`--format=${format}`, '-cf', archive, '-C', src, ...names]);
      const bytes = await readFile(archive);
      const entries = await listOvaEntries(bufferSource(bytes));
      const streamed: Array<{ name: string; offset: number; size: number }> = [];
      for await (const e of readTar(chunked(bytes, 512))) {
        streamed.push({ name: e.name, offset: e.offset, size: e.size });
      }
      expect(
        entries.map(({ name, offset, size }) => ({ name, offset, size })),
        format,
      ).toEqual(streamed);
      expect(entries.map((e) => e.name)).toEqual(names);
      if (format !== 'ustar') {
        const e = entries[1]!;
        expect((await bufferSource(bytes).read(e.offset, e.size)).equals(pseudoRandom(1500, 9))).toBe(true);
      }
    }
  });

  it('a cut OVA is BG_IMAGE_TRUNCATED, a damaged header BG_TAR_BAD_HEADER, an unsafe name BG_TAR_UNSAFE_NAME', async () => {
    const { ova } = await tinyOva();
    const entries = await listOvaEntries(bufferSource(ova));
    const vmdk = entries[1]!;
    for (const cut of [0, 100, 512, vmdk.offset + 10, ova.length - 1024]) {
      await expect(listOvaEntries(bufferSource(ova.subarray(0, cut))), `cut at ${cut}`).rejects.toMatchObject(
        {
          code: 'BG_IMAGE_TRUNCATED',
        },
      );
    }
    const bad = Buffer.from(ova);
    bad[vmdk.offset - 512 + 3]! ^= 0x20;
    await expect(listOvaEntries(bufferSource(bad))).rejects.toMatchObject({ code: 'BG_TAR_BAD_HEADER' });
    const evil = await collect(writeTar([{ name: '../evil.ovf', size: 1, body: [Buffer.from('x')] }]));
    await expect(listOvaEntries(bufferSource(evil))).rejects.toMatchObject({ code: 'BG_TAR_UNSAFE_NAME' });
  });
});

describe('writeOva describes the profile', () => {
  it('NICs, OS ids, controllers and memory in bytes come back from inspectOva', async () => {
    const disk = rawDisk(MiB, [{ offset: 0, data: Buffer.from('boot') }]);
    const r = await inspectOva(
      writeOva({
        vmName: 'prof',
        vcpus: 3,
        memoryBytes: 1536 * MiB,
        firmware: 'efi',
        osType: { cimId: 94, vmwOsType: 'ubuntu64Guest', description: 'Ubuntu Linux (64-bit)' },
        nics: [
          { name: 'eth0', network: 'prod', adapterType: 'VmxNet3' },
          { name: 'eth1', network: 'mgmt', adapterType: 'E1000' },
        ],
        disks: [
          {
            fileName: 'prof-disk1.vmdk',
            disk: diskFromBuffer(disk),
            controller: { type: 'ide', busNumber: 0, unit: 0 },
          },
          {
            fileName: 'prof-disk2.vmdk',
            disk: diskFromBuffer(disk),
            controller: { type: 'sata', subtype: 'vmware.sata.ahci', busNumber: 0, unit: 1 },
          },
        ],
        tmpDir: tmp.dir,
      }),
    );
    expect(r.hardware.profile).toEqual({
      name: 'prof',
      vcpus: 3,
      memoryBytes: 1536 * MiB,
      firmware: 'efi',
      osType: { cimId: 94, vmwOsType: 'ubuntu64Guest', description: 'Ubuntu Linux (64-bit)' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'prof-disk1.vmdk',
          capacityBytes: MiB,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'ide', busNumber: 0, unit: 0 },
        },
        {
          diskId: 'vmdisk2',
          fileRef: 'file2',
          href: 'prof-disk2.vmdk',
          capacityBytes: MiB,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'sata', subtype: 'vmware.sata.ahci', busNumber: 0, unit: 1 },
        },
      ],
      nics: [
        { name: 'eth0', network: 'prod', adapterType: 'VmxNet3' },
        { name: 'eth1', network: 'mgmt', adapterType: 'E1000' },
      ],
    });
    expect(r.hardware).toMatchObject({ vmName: 'prof', vcpus: 3, memoryMiB: 1536, firmware: 'efi' });
    expect(r.files.map((f) => f.offset)).toEqual([
      512,
      expect.any(Number),
      expect.any(Number),
      expect.any(Number),
    ]);
  });
});

describe('manifest verification names every missing and every mismatched file', () => {
  it('a mismatched disk and two absent files in one error', async () => {
    const { ova } = await tinyOva();
    // rebuild the archive with a manifest that lists a wrong digest for the disk and two absent files
    const parts: Array<{ name: string; data: Buffer }> = [];
    for await (const e of readTar(chunked(ova, 4096)))
      parts.push({ name: e.name, data: await collect(e.body) });
    const [ovf, vmdk] = [parts[0]!, parts[1]!];
    const mf = formatManifest([
      { algorithm: 'SHA256', file: ovf.name, digest: sha256(ovf.data) },
      { algorithm: 'SHA256', file: vmdk.name, digest: 'ab'.repeat(32) },
      { algorithm: 'SHA1', file: 'gone.iso', digest: 'cd'.repeat(20) },
      { algorithm: 'SHA512', file: 'also-gone.txt', digest: 'ef'.repeat(64) },
    ]);
    const rebuilt = await collect(
      writeTar([
        { name: ovf.name, size: ovf.data.length, body: [ovf.data] },
        { name: 'ra.mf', size: mf.length, body: [Buffer.from(mf)] },
        { name: vmdk.name, size: vmdk.data.length, body: [vmdk.data] },
      ]),
    );
    const err = await inspectOva(chunked(rebuilt, 4096)).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'ImageError',
      code: 'BG_OVA_MANIFEST_MISMATCH',
      verification: {
        verified: ['ra.ovf'],
        missing: ['gone.iso', 'also-gone.txt'],
        mismatched: [
          {
            file: 'ra-disk1.vmdk',
            algorithm: 'SHA256',
            expected: 'ab'.repeat(32),
            actual: sha256(vmdk.data),
          },
        ],
      },
    });
    const message = (err as Error).message;
    for (const f of ['"ra-disk1.vmdk"', '"gone.iso"', '"also-gone.txt"']) expect(message).toContain(f);
  });

  it.runIf(existsSync(realWorld))(
    'real-world cot-vmware/input.mf: both absent files (input.iso, sample_cfg.txt) are named; ovf and vmdk verify',
    async () => {
      // input.mf lists input.ovf, input.vmdk (present, SHA1 c3bd25… and 264caa… match the files)
      // and input.iso, sample_cfg.txt (not in the folder)
      const files = ['input.ovf', 'input.vmdk', 'input.mf'];
      const data = await Promise.all(files.map((f) => readFile(join(realWorld, 'cot-vmware', f))));
      const ova = await collect(
        writeTar(files.map((name, i) => ({ name, size: data[i]!.length, body: [data[i]!] }))),
      );
      const err = await inspectOva(chunked(ova, 65536)).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'BG_OVA_MANIFEST_MISSING_FILE',
        verification: {
          verified: ['input.ovf', 'input.vmdk'],
          missing: ['input.iso', 'sample_cfg.txt'],
          mismatched: [],
        },
      });
      expect((err as Error).message).toMatch(/"input\.iso".*"sample_cfg\.txt"/);
    },
  );
});
