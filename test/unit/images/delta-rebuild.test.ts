import { readdir, readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { rebuildFromDelta } from '../../../shared/images/delta-rebuild';
import { writeDelta, type DeltaExtentInput } from '../../../shared/images/delta-writer';
import { diskFromBuffer } from '../../../shared/images/extents';
import { writeOva } from '../../../shared/images/ova';
import { parseOvf } from '../../../shared/images/ovf-parse';
import { readTar } from '../../../shared/images/tar';
import {
  chunked,
  collect,
  join,
  pseudoRandom,
  qemuImg,
  qemuOk,
  sha256,
  writeSparseRaw,
  writeStreamToFile,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';

const KiB = 1024;
const MiB = 1024 * KiB;
const tmp = useTmpDir('bg-delta-');

const CAPACITY = 8 * MiB;
/** The on-prem original: data at the start, a hole, data in the middle, data at the very end. */
const BASE_PATCHES = [
  { offset: 0, data: pseudoRandom(200 * KiB, 1) },
  { offset: 3 * MiB, data: pseudoRandom(MiB, 2) },
  { offset: CAPACITY - 64 * KiB, data: pseudoRandom(64 * KiB, 3) },
];
/** What the VM changed in the cloud: a write inside a grain, one across grains, a trim, a write in a hole. */
const CHANGES: DeltaExtentInput[] = [
  { kind: 'data', offset: 4096 + 100, data: pseudoRandom(1000, 4) },
  { kind: 'data', offset: 3 * MiB + 60 * KiB, data: pseudoRandom(300 * KiB, 5) },
  { kind: 'zero', offset: 3 * MiB + 512 * KiB, length: 256 * KiB },
  { kind: 'data', offset: 6 * MiB, data: pseudoRandom(128 * KiB + 7, 6) },
];

function baseBuffer(): Buffer {
  const b = Buffer.alloc(CAPACITY);
  for (const p of BASE_PATCHES) p.data.copy(b, p.offset);
  return b;
}

function resultBuffer(): Buffer {
  const b = baseBuffer();
  for (const e of CHANGES) {
    if (e.kind === 'zero') b.fill(0, e.offset, e.offset + e.length);
    else (e.data as Buffer).copy(b, e.offset);
  }
  return b;
}

async function deltaFile(name: string, header: { baseSha256?: string; baseCapacity?: number } = {}) {
  const result = resultBuffer();
  const path = join(tmp.dir, name);
  await writeStreamToFile(
    writeDelta({ virtualSize: CAPACITY, resultSha256: sha256(result), ...header }, CHANGES),
    path,
  );
  return { path, result };
}

async function expectedRaw(): Promise<string> {
  const path = join(tmp.dir, 'expected.raw');
  await writeFile(path, resultBuffer());
  return path;
}

/** The files in the temporary directory that start with `prefix` (a leftover .part would show). */
async function filesStartingWith(prefix: string): Promise<string[]> {
  return (await readdir(tmp.dir)).filter((f) => f.startsWith(prefix) || f.startsWith(`.${prefix}`));
}

describe('rebuildFromDelta over every base format', () => {
  const formats: Array<{ name: string; make: (raw: string, out: string) => Promise<unknown> }> = [
    { name: 'raw', make: (raw, out) => qemuOk('convert', '-f', 'raw', '-O', 'raw', raw, out) },
    { name: 'qcow2', make: (raw, out) => qemuOk('convert', '-f', 'raw', '-O', 'qcow2', raw, out) },
    {
      name: 'qcow2-compressed',
      make: (raw, out) => qemuOk('convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, out),
    },
    { name: 'vmdk-sparse', make: (raw, out) => qemuOk('convert', '-f', 'raw', '-O', 'vmdk', raw, out) },
    {
      name: 'vmdk-stream',
      make: (raw, out) =>
        qemuOk('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', raw, out),
    },
    {
      name: 'vmdk-flat',
      make: (raw, out) =>
        qemuOk('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raw, out),
    },
    {
      name: 'vhd-fixed',
      make: (raw, out) =>
        qemuOk('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed,force_size=on', raw, out),
    },
    {
      name: 'vhd-dynamic',
      make: (raw, out) =>
        qemuOk('convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=dynamic,force_size=on', raw, out),
    },
    { name: 'vhdx', make: (raw, out) => qemuOk('convert', '-f', 'raw', '-O', 'vhdx', raw, out) },
  ];
  for (const f of formats) {
    it(`${f.name} base → streamOptimized VMDK identical to the expected disk (qemu-img compare)`, async () => {
      // Prepare
      const raw = join(tmp.dir, `${f.name}-base.raw`);
      await writeSparseRaw(raw, CAPACITY, BASE_PATCHES);
      const base = join(tmp.dir, `${f.name}-base.img`);
      await f.make(raw, base);
      const { path: delta, result } = await deltaFile(`${f.name}.bgdelta`, {
        baseSha256: sha256(baseBuffer()),
        baseCapacity: CAPACITY,
      });
      const out = join(tmp.dir, `${f.name}-out.vmdk`);
      // Act
      const r = await rebuildFromDelta({ base, delta, out, to: 'vmdk-stream' });
      // Assess
      expect(r).toMatchObject({
        sha256: sha256(result),
        extents: 4,
        bytesApplied: 1000 + 300 * KiB + 128 * KiB + 7,
        zeroBytes: 256 * KiB,
        virtualSize: CAPACITY,
      });
      expect((await qemuImg('check', out)).code).toBe(0);
      const cmp = await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', await expectedRaw(), out);
      expect(cmp.stdout).toMatch(/Images are identical/);
      expect(cmp.code).toBe(0);
    });
  }

  it('OVA base → OVA output that keeps the base VM profile; the delta streamed in 1-byte chunks', async () => {
    // Prepare
    const ovaBase = join(tmp.dir, 'web01.ova');
    await writeStreamToFile(
      writeOva({
        vmName: 'web01',
        vcpus: 4,
        memoryMiB: 3072,
        firmware: 'efi',
        osType: 'ubuntu64Guest',
        nics: 2,
        disks: [
          {
            fileName: 'web01-disk1.vmdk',
            disk: diskFromBuffer(baseBuffer()),
            controller: { type: 'sata', subtype: 'vmware.sata.ahci', busNumber: 0, unit: 0 },
          },
        ],
        tmpDir: tmp.dir,
      }),
      ovaBase,
    );
    const { path } = await deltaFile('ova.bgdelta', { baseSha256: sha256(baseBuffer()) });
    const out = join(tmp.dir, 'web01-returned.ova');
    // Act
    const r = await rebuildFromDelta({
      base: ovaBase,
      delta: chunked(await readFile(path), 1),
      out,
      to: 'ova',
      tmpDir: tmp.dir,
    });
    // Assess
    expect(r.baseFormat).toBe('ova');
    const entries: Array<{ name: string; data: Buffer }> = [];
    for await (const e of readTar(chunked(await readFile(out), 64 * KiB))) {
      entries.push({ name: e.name, data: await collect(e.body) });
    }
    expect(entries.map((e) => e.name)).toEqual(['web01.ovf', 'web01-disk1.vmdk', 'web01.mf']);
    const before = parseOvf(await ovfOf(ovaBase)).profile;
    const after = parseOvf(entries[0]!.data.toString('utf8')).profile;
    expect(after).toEqual(before);
    expect(after).toMatchObject({ name: 'web01', vcpus: 4, firmware: 'efi', memoryBytes: 3072 * MiB });
    const vmdk = join(tmp.dir, 'web01-returned-disk1.vmdk');
    await writeFile(vmdk, entries[1]!.data);
    expect((await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', await expectedRaw(), vmdk)).code).toBe(0);
    // the same OVA base rebuilt as a bare streamOptimized VMDK
    const bare = join(tmp.dir, 'web01-returned.vmdk');
    await rebuildFromDelta({ base: ovaBase, delta: path, out: bare });
    expect((await qemuImg('compare', '-f', 'raw', '-F', 'vmdk', await expectedRaw(), bare)).code).toBe(0);
  });

  it('raw base → OVA named after the output file, and → every other target', async () => {
    // Prepare
    const base = join(tmp.dir, 'plain.raw');
    await writeSparseRaw(base, CAPACITY, BASE_PATCHES);
    const { path: delta } = await deltaFile('plain.bgdelta');
    const targets = [
      ['qcow2', 'qcow2'],
      ['vhd-fixed', 'vpc'],
      ['vhd-dynamic', 'vpc'],
      ['raw', 'raw'],
      ['vmdk-sparse', 'vmdk'],
    ] as const;
    // Act
    await rebuildFromDelta({ base, delta, out: join(tmp.dir, 'app-server.ova'), to: 'ova', tmpDir: tmp.dir });
    for (const [to] of targets)
      await rebuildFromDelta({ base, delta, out: join(tmp.dir, `plain-out.${to}`), to });
    // Assess
    const ovf = parseOvf(await ovfOf(join(tmp.dir, 'app-server.ova'))).profile;
    expect(ovf.name).toBe('app-server');
    for (const [to, qemuFormat] of targets) {
      const cmp = await qemuImg(
        'compare',
        '-f',
        'raw',
        '-F',
        qemuFormat,
        await expectedRaw(),
        join(tmp.dir, `plain-out.${to}`),
      );
      expect(cmp.code, to).toBe(0);
    }
  });
});

async function ovfOf(ova: string): Promise<string> {
  for await (const e of readTar(chunked(await readFile(ova), 64 * KiB))) {
    const body = await collect(e.body);
    if (e.name.endsWith('.ovf')) return body.toString('utf8');
  }
  throw new Error(`${ova} has no descriptor`);
}

describe('rebuildFromDelta leaves nothing behind on error', () => {
  async function attempt(
    name: string,
    delta: Buffer | string,
    base?: Buffer,
  ): Promise<{ code: string; left: string[] }> {
    const basePath = join(tmp.dir, `${name}-base.raw`);
    await writeFile(basePath, base ?? baseBuffer());
    const out = join(tmp.dir, `${name}-out.vmdk`);
    try {
      await rebuildFromDelta({
        base: basePath,
        delta: typeof delta === 'string' ? delta : chunked(delta, 4096),
        out,
      });
      return { code: 'ok', left: await filesStartingWith(`${name}-out`) };
    } catch (err) {
      return {
        code: (err as { code?: string }).code ?? String(err),
        left: await filesStartingWith(`${name}-out`),
      };
    }
  }

  it('tampered data, tampered result hash, wrong base, truncated delta: the right code and no output file', async () => {
    // Prepare
    const { path } = await deltaFile('good.bgdelta', {
      baseSha256: sha256(baseBuffer()),
      baseCapacity: CAPACITY,
    });
    const good = await readFile(path);
    const badData = Buffer.from(good);
    badData[72 + 32 + 500]! ^= 1; // inside the first extent's data
    const badDataPath = join(tmp.dir, 'bad-data.bgdelta');
    await writeFile(badDataPath, badData);
    const { path: noBaseInfo } = await deltaFile('nobase.bgdelta');
    const wrongHash = Buffer.from(await readFile(noBaseInfo));
    wrongHash.writeUInt8(wrongHash[wrongHash.length - 40]! ^ 1, wrongHash.length - 40);
    const { crc32 } = await import('node:zlib');
    wrongHash.writeUInt32BE(
      crc32(wrongHash.subarray(wrongHash.length - 72, wrongHash.length - 4)) >>> 0,
      wrongHash.length - 4,
    );
    const otherBase = baseBuffer();
    otherBase[7 * MiB]! ^= 1;
    // Act
    const got = {
      good: await attempt('good', good),
      badDataStream: await attempt('baddata1', badData),
      badDataFile: await attempt('baddata2', badDataPath),
      wrongResultHash: await attempt('wronghash', wrongHash),
      wrongBaseContent: await attempt('wrongbase', good, otherBase),
      wrongBaseSize: await attempt('wrongsize', good, Buffer.alloc(CAPACITY + 512)),
      truncatedStream: await attempt('cut1', good.subarray(0, good.length - 100)),
      truncatedHeader: await attempt('cut2', good.subarray(0, 40)),
    };
    // Assess
    expect(got).toEqual({
      good: { code: 'ok', left: ['good-out.vmdk'] },
      badDataStream: { code: 'BG_DELTA_EXTENT_MISMATCH', left: [] },
      badDataFile: { code: 'BG_DELTA_EXTENT_MISMATCH', left: [] },
      wrongResultHash: { code: 'BG_DELTA_RESULT_MISMATCH', left: [] },
      wrongBaseContent: { code: 'BG_DELTA_WRONG_BASE', left: [] },
      wrongBaseSize: { code: 'BG_DELTA_WRONG_BASE', left: [] },
      truncatedStream: { code: 'BG_DELTA_TRUNCATED', left: [] },
      truncatedHeader: { code: 'BG_DELTA_TRUNCATED', left: [] },
    });
  });

  it('refuses to write over the base and an unknown target', async () => {
    // Prepare
    const { path } = await deltaFile('self.bgdelta');
    const base = join(tmp.dir, 'self.raw');
    await writeFile(base, baseBuffer());
    // Act / Assess
    await expect(rebuildFromDelta({ base, delta: path, out: base })).rejects.toMatchObject({
      code: 'BG_IMAGE_INVALID_ARGUMENT',
    });
    await expect(
      rebuildFromDelta({ base, delta: path, out: join(tmp.dir, 'x.vhdx'), to: 'vhdx' as never }),
    ).rejects.toMatchObject({ code: 'BG_IMAGE_UNSUPPORTED_FORMAT' });
    expect(sha256(await readFile(base))).toBe(sha256(baseBuffer()));
  });
});
