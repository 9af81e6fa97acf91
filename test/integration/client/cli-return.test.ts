/**
 * `burstgate offload --cloud azure` and `burstgate return` against a fake gateway on 127.0.0.1, in
 * process (main(argv, io)). The returns publish what issue #4's contract says: a delta (made with
 * writeDelta over a base disk) or a whole OVA. Results are checked with qemu-img (compare, check)
 * and by content hash; failures must leave neither the output nor a temporary file.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../bin/burstgate';
import { formatBytes } from '../../../shared/client/progress';
import type { JobTarget } from '../../../shared/client/types';
import { describeImage } from '../../../shared/images/convert';
import { writeDelta, type DeltaExtentInput } from '../../../shared/images/delta-writer';
import { diskFromBuffer } from '../../../shared/images/extents';
import { writeOva } from '../../../shared/images/ova';
import {
  collect,
  pseudoRandom,
  qemuOk,
  qemuStreamOptimized,
  sha256,
  writeStreamToFile,
} from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';
import { startFakeGateway, type AddJobOptions, type FakeGateway } from '../../helpers/fake-gateway';

const KEY = 'cli-return-test-key';
const SAMPLE = join(import.meta.dirname, '..', '..', 'fixtures', 'sample-vm', 'burstgate-sample.ova');
const KiB = 1024;
const MiB = 1024 * KiB;
const CAPACITY = 8 * MiB;
const AZURE: JobTarget = { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v3' };

/** The on-prem original: data at the start, in the middle and at the very end, holes between. */
const BASE_PATCHES = [
  { offset: 0, data: pseudoRandom(200 * KiB, 11) },
  { offset: 3 * MiB, data: pseudoRandom(MiB, 12) },
  { offset: CAPACITY - 64 * KiB, data: pseudoRandom(64 * KiB, 13) },
];
/** What the VM changed in Azure: a small write, one across grains, a trim, a write into a hole. */
const CHANGES: DeltaExtentInput[] = [
  { kind: 'data', offset: 4096 + 100, data: pseudoRandom(1000, 14) },
  { kind: 'data', offset: 3 * MiB + 60 * KiB, data: pseudoRandom(300 * KiB, 15) },
  { kind: 'zero', offset: 3 * MiB + 512 * KiB, length: 256 * KiB },
  { kind: 'data', offset: 6 * MiB, data: pseudoRandom(128 * KiB + 7, 16) },
];

function disk(patches: Array<{ offset: number; data: Buffer }>): Buffer {
  const b = Buffer.alloc(CAPACITY);
  for (const p of patches) p.data.copy(b, p.offset);
  return b;
}

const baseDisk = disk(BASE_PATCHES);
const resultDisk = (() => {
  const b = Buffer.from(baseDisk);
  for (const e of CHANGES) {
    if (e.kind === 'zero') b.fill(0, e.offset, e.offset + e.length);
    else (e.data as Buffer).copy(b, e.offset);
  }
  return b;
})();
const BASE_SHA = sha256(baseDisk);
const RESULT_SHA = sha256(resultDisk);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], opts: { tty?: boolean } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s), ...(opts.tty ? { isTTY: true, columns: 120 } : {}) },
    env: {},
  });
  return { code, stdout, stderr };
}

const tmp = useTmpDir('bg-cli-return-');
let gw: FakeGateway;
/** Fixture files: the base as a streamOptimized VMDK (by qemu-img) and as an OVA, another disk, the expected result. */
const files = { baseVmdk: '', baseOva: '', otherVmdk: '', expectedRaw: '', resultOva: '' };
let delta: Buffer;
/** The gateway's full-disk fallback: every byte of the result as data or zero extents, no base named. */
let fullDelta: Buffer;
/** Changes only, but naming no base (neither in the header nor in the job view). */
let changesNoBase: Buffer;

/** The result disk as extents covering every byte: 256 KiB blocks of data, or zero extents. */
function wholeDiskExtents(buf: Buffer): DeltaExtentInput[] {
  const block = 256 * KiB;
  const out: DeltaExtentInput[] = [];
  for (let off = 0; off < buf.length; off += block) {
    const data = buf.subarray(off, off + block);
    out.push(
      data.some((b) => b !== 0)
        ? { kind: 'data', offset: off, data }
        : { kind: 'zero', offset: off, length: block },
    );
  }
  return out;
}

beforeAll(async () => {
  gw = await startFakeGateway({ apiKey: KEY });
  const dir = tmp.dir;
  files.baseVmdk = await qemuStreamOptimized(dir, 'app01', CAPACITY, BASE_PATCHES);
  files.otherVmdk = await qemuStreamOptimized(dir, 'other', CAPACITY, [
    ...BASE_PATCHES,
    { offset: 5 * MiB, data: pseudoRandom(4096, 99) },
  ]);
  const ova = (name: string, buf: Buffer) =>
    writeOva({
      vmName: name,
      vcpus: 2,
      memoryMiB: 2048,
      disks: [{ fileName: `${name}-disk1.vmdk`, disk: diskFromBuffer(buf) }],
      mtime: new Date('2025-01-01T00:00:00Z'),
      tmpDir: dir,
    });
  files.baseOva = join(dir, 'app01.ova');
  await writeStreamToFile(ova('app01', baseDisk), files.baseOva);
  files.resultOva = join(dir, 'fixture-result.ova');
  await writeStreamToFile(ova('app01', resultDisk), files.resultOva);
  files.expectedRaw = join(dir, 'expected.raw');
  await writeFile(files.expectedRaw, resultDisk);
  delta = await collect(
    writeDelta(
      { virtualSize: CAPACITY, baseCapacity: CAPACITY, baseSha256: BASE_SHA, resultSha256: RESULT_SHA },
      CHANGES,
    ),
  );
  fullDelta = await collect(
    writeDelta({ virtualSize: CAPACITY, resultSha256: RESULT_SHA }, wholeDiskExtents(resultDisk)),
  );
  changesNoBase = await collect(writeDelta({ virtualSize: CAPACITY, resultSha256: RESULT_SHA }, CHANGES));
});
afterAll(() => gw.close());

/** A running Azure job whose return publishes `delta` (overridable). */
function azureJob(overrides: Partial<AddJobOptions> = {}): string {
  return gw.addJob({
    vmName: 'app01',
    target: AZURE,
    image: { format: 'vmdk', sizeBytes: CAPACITY, diskSha256: BASE_SHA },
    returnAs: { format: 'delta', bytes: delta, diskSha256: RESULT_SHA, baseDiskSha256: BASE_SHA },
    ...overrides,
  });
}

const gateway = (): string[] => ['--gateway', gw.url, '--api-key', KEY, '--interval', '0.01'];
const out = (name: string): string => join(tmp.dir, name);

/** Files in the test folder named after `path` (the output, or a temporary next to it). */
async function leftovers(path: string): Promise<string[]> {
  const name = basename(path);
  return (await readdir(tmp.dir)).filter((f) => f.startsWith(name) || f.startsWith(`.${name}`));
}

describe('burstgate return: a delta applied to the offloaded image', () => {
  it('rebuilds a streamOptimized VMDK from a VMDK base (.vmdk → vmdk-stream by default)', async () => {
    // Prepare
    const id = azureJob();
    const target = out('back.vmdk');
    // Act
    const r = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    const job = gw.jobs.get(id)!;
    expect(job.returnsStarted).toBe(1);
    expect(job.downloads).toBe(1);
    await qemuOk('compare', '-f', 'raw', '-F', 'vmdk', files.expectedRaw, target);
    await qemuOk('check', '-f', 'vmdk', target);
    const info = JSON.parse(await qemuOk('info', '--output=json', target)) as {
      'format-specific'?: { data?: { 'create-type'?: string } };
    };
    expect(info['format-specific']?.data?.['create-type']).toBe('streamOptimized');
    expect(r.stdout).toContain(
      `base ${files.baseVmdk}: disk content sha256 ${BASE_SHA} (the offloaded disk)`,
    );
    expect(r.stdout).toMatch(
      new RegExp(`^returned image: ${target} \\(vmdk-stream, [0-9.]+ [KM]iB\\)$`, 'm'),
    );
    const deltaSha = createHash('sha256').update(delta).digest('hex');
    expect(r.stdout).toContain(
      `  delta         ${formatBytes(delta.length)} downloaded (${delta.length} bytes), sha256 ${deltaSha} (verified)`,
    );
    const applied = 1000 + 300 * KiB + 128 * KiB + 7;
    expect(r.stdout).toContain(
      `  applied       4 extent(s) to ${files.baseVmdk} (vmdk-stream-optimized): ${(applied / KiB).toFixed(1)} KiB of data (${applied} bytes), 256.0 KiB zeroed`,
    );
    expect(r.stdout).toContain(`  disk sha256   ${RESULT_SHA} (verified: the disk the gateway returned)`);
    expect(r.stdout).toContain('  original      the disk changed in the cloud');
    expect(r.stderr).toMatch(/^base sha256 {2}8\.0 MiB in /m);
    expect(r.stderr).toMatch(/^download {2}[0-9.]+ KiB in /m);
    expect(await leftovers(target)).toEqual(['back.vmdk']);
  });

  it('writes an OVA from an OVA base (.ova → ova by default), keeping its VM profile', async () => {
    // Prepare
    const id = azureJob();
    const target = out('back.ova');
    // Act
    const r = await cli(['return', id, '--base', files.baseOva, '--out', target, ...gateway()]);
    // Assess
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    const written = await describeImage(target, { hash: true });
    expect(written.format).toBe('ova');
    expect(written.sha256).toBe(RESULT_SHA);
    expect(written.capacity).toBe(CAPACITY);
    expect(written.ova?.hardware.vmName).toBe('app01');
    expect(written.ova?.hardware.vcpus).toBe(2);
    expect(written.ova?.manifest?.verified.length).toBeGreaterThan(0);
    expect(r.stdout).toContain(`4 extent(s) to ${files.baseOva} (ova)`);
    expect(await leftovers(target)).toEqual(['back.ova']);
  });

  it('draws progress bars for the base check and the download on a TTY', async () => {
    // Prepare
    const id = azureJob();
    const target = out('tty.vmdk');
    // Act
    const r = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()], {
      tty: true,
    });
    // Assess
    expect(r.code).toBe(0);
    // every redraw starts by returning to the line's start and clearing it
    const redraws = r.stderr.split('\r\u001b[2K').slice(1);
    expect(redraws.some((l) => /^base sha256 \[#+\] 100\.0%/.test(l))).toBe(true);
    expect(redraws.some((l) => /^download \[#+\] 100\.0%/.test(l))).toBe(true);
    expect(redraws.some((l) => /^download {2}[0-9.]+ KiB in [0-9.]+ s/.test(l))).toBe(true);
  });

  it('--to picks the output format whatever the name says (an OVA base to a VMDK named .img)', async () => {
    // Prepare
    const id = azureJob();
    const target = out('from-ova.img');
    // Act
    const r = await cli([
      'return',
      id,
      '--base',
      files.baseOva,
      '--out',
      target,
      '--to',
      'vmdk-stream',
      ...gateway(),
    ]);
    // Assess
    expect(r.code).toBe(0);
    await qemuOk('compare', '-f', 'raw', '-F', 'vmdk', files.expectedRaw, target);
  });

  it('without --base exits 2 naming the file to pass, downloads nothing, and a re-run with it finishes', async () => {
    // Prepare
    const id = azureJob();
    const target = out('no-base.vmdk');
    // Act
    const r = await cli(['return', id, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `burstgate return: ${id} came back as a delta (only what changed in the cloud): pass the image that was offloaded (the file given to \`burstgate offload\`) as --base`,
    );
    expect(r.stderr).toContain('running it again only downloads');
    expect(gw.jobs.get(id)!.downloads).toBe(0);
    expect(await leftovers(target)).toEqual([]);

    // Act: the same return, now with the base; the job is already returned
    const again = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${id} is already returned`);
    expect(gw.jobs.get(id)!.returnsStarted).toBe(1);
    await qemuOk('compare', '-f', 'raw', '-F', 'vmdk', files.expectedRaw, target);
  });

  it('refuses a wrong base before the return starts, when the offloaded disk is known', async () => {
    // Prepare
    const id = azureJob();
    const target = out('wrong-base.vmdk');
    const otherSha = (await describeImage(files.otherVmdk, { hash: true })).sha256!;
    // Act
    const r = await cli(['return', id, '--base', files.otherVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')).toContain(
      `burstgate: wrong base file: ${files.otherVmdk} holds a disk with content SHA-256 ${otherSha}, but job ${id} offloaded a disk with ${BASE_SHA}; pass the image that was offloaded (the file given to \`burstgate offload\`) as --base`,
    );
    const job = gw.jobs.get(id)!;
    expect(job.returnsStarted).toBe(0);
    expect(job.view.state).toBe('running');
    expect(job.downloads).toBe(0);
    expect(await leftovers(target)).toEqual([]);
  });

  it("refuses a wrong base before downloading, by the download's baseDiskSha256", async () => {
    // Prepare: a gateway that did not record the offloaded disk's hash on the job
    const id = azureJob({ image: { format: 'vmdk', sizeBytes: CAPACITY } });
    const target = out('wrong-base-late.vmdk');
    // Act
    const r = await cli(['return', id, '--base', files.otherVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `burstgate: wrong base file: ${files.otherVmdk} holds a disk with content SHA-256`,
    );
    expect(r.stderr).toContain(`offloaded a disk with ${BASE_SHA}`);
    const job = gw.jobs.get(id)!;
    expect(job.returnsStarted).toBe(1);
    expect(job.downloads).toBe(0);
    expect(await leftovers(target)).toEqual([]);
  });

  it('exits 1 and keeps nothing when the served delta differs from the announced SHA-256', async () => {
    // Prepare
    const served = Buffer.from(delta);
    served[200] = served[200]! ^ 0xff;
    const id = azureJob({
      returnAs: { format: 'delta', bytes: delta, served, diskSha256: RESULT_SHA, baseDiskSha256: BASE_SHA },
    });
    const target = out('tampered.vmdk');
    // Act
    const r = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^burstgate: the downloaded delta's SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} the gateway announced; the partial file was deleted/m,
    );
    expect(gw.jobs.get(id)!.downloads).toBe(1);
    expect(await leftovers(target)).toEqual([]);
  });

  it.each([
    [
      'longer',
      (d: Buffer) => Buffer.concat([d, Buffer.alloc(4096, 1)]),
      /is longer than the \d+ bytes the gateway announced/,
    ],
    [
      'shorter',
      (d: Buffer) => d.subarray(0, d.length - 100),
      /^burstgate: the downloaded delta has \d+ bytes, not the \d+ the gateway announced/m,
    ],
  ])('exits 1 and keeps nothing when the served delta is %s than announced', async (_how, serve, message) => {
    // Prepare
    const id = azureJob({
      returnAs: {
        format: 'delta',
        bytes: delta,
        served: serve(delta),
        diskSha256: RESULT_SHA,
        baseDiskSha256: BASE_SHA,
      },
    });
    const target = out(`size-${_how}.vmdk`);
    // Act
    const r = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(await leftovers(target)).toEqual([]);
  });

  it('exits 1 with the delta error code when the published delta itself is damaged', async () => {
    // Prepare: the gateway announces the damaged bytes' own hash, so only the delta's checks can tell
    const damaged = Buffer.from(delta);
    damaged[72 + 32 + 10] = damaged[72 + 32 + 10]! ^ 0x01; // inside the first extent's data
    const id = azureJob({
      returnAs: { format: 'delta', bytes: damaged, diskSha256: RESULT_SHA, baseDiskSha256: BASE_SHA },
    });
    const target = out('damaged.vmdk');
    // Act
    const r = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^burstgate: BG_DELTA_EXTENT_MISMATCH: /m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(await leftovers(target)).toEqual([]);
  });

  it('exits 1 and keeps nothing when the rebuilt disk is not the one the gateway announced', async () => {
    // Prepare
    const announced = 'e'.repeat(64);
    const id = azureJob({
      returnAs: { format: 'delta', bytes: delta, diskSha256: announced, baseDiskSha256: BASE_SHA },
    });
    const target = out('mismatch.ova');
    // Act
    const r = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `burstgate: the disk rebuilt from ${files.baseVmdk} and the delta has content SHA-256 ${RESULT_SHA}, but the gateway announced ${announced} for the returned disk; nothing was kept`,
    );
    expect(await leftovers(target)).toEqual([]);
  });
});

describe("burstgate return: the gateway's full-disk fallback (a delta that names no base)", () => {
  it('rebuilds the disk without --base, onto an empty disk', async () => {
    // Prepare
    const id = azureJob({ returnAs: { format: 'delta', bytes: fullDelta, diskSha256: RESULT_SHA } });
    const target = out('full.vmdk');
    // Act
    const r = await cli(['return', id, '--out', target, ...gateway()]);
    // Assess
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    await qemuOk('compare', '-f', 'raw', '-F', 'vmdk', files.expectedRaw, target);
    expect(r.stdout).toMatch(
      /^ {2}applied {7}\d+ extent\(s\) to an empty disk \(the gateway sent the whole disk: no base existed in the cloud\): /m,
    );
    expect(r.stdout).toContain(`  disk sha256   ${RESULT_SHA} (verified: the disk the gateway returned)`);
    expect(await leftovers(target)).toEqual(['full.vmdk']);
  });

  it.each([
    ['whose header names its base', () => delta, 'and the delta names the disk it applies to'],
    ['that does not cover the whole disk', () => changesNoBase, 'that does not hold the whole disk'],
  ])('exits 2 asking for --base for a delta %s, keeping nothing', async (_what, bytes, why) => {
    // Prepare: the job view names no base, so only the delta can tell
    const id = azureJob({ returnAs: { format: 'delta', bytes: bytes(), diskSha256: RESULT_SHA } });
    const target = out(`needs-base-${_what.split(' ')[0]}.vmdk`);
    // Act
    const r = await cli(['return', id, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `burstgate return: job ${id} came back as a delta (only what changed in the cloud) ${why}: pass the image that was offloaded as --base`,
    );
    expect(await leftovers(target)).toEqual([]);
  });
});

describe('burstgate return: a whole OVA', () => {
  it('--to vmdk-stream converts the verified OVA and keeps only the VMDK', async () => {
    // Prepare
    const ova = await readFile(files.resultOva);
    const id = gw.addJob({
      vmName: 'app01',
      target: { cloud: 'aws', region: 'eu-west-1', instanceType: 't3.medium' },
      returnAs: { format: 'ova', bytes: ova, diskSha256: RESULT_SHA },
    });
    const target = out('whole.vmdk');
    // Act
    const r = await cli(['return', id, '--base', files.baseVmdk, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`note: ${id} came back as a whole OVA; --base is not needed and was not used`);
    await qemuOk('compare', '-f', 'raw', '-F', 'vmdk', files.expectedRaw, target);
    await qemuOk('check', '-f', 'vmdk', target);
    expect(r.stdout).toContain(
      `  downloaded    OVA, ${formatBytes(ova.length)} (${ova.length} bytes), sha256 ${sha256(ova)} (verified), converted to vmdk-stream`,
    );
    expect(r.stdout).toContain(`  disk sha256   ${RESULT_SHA} (verified: the disk the gateway returned)`);
    expect(await leftovers(target)).toEqual(['whole.vmdk']);
  });

  it("keeps nothing when the OVA's disk is not the one the gateway announced", async () => {
    // Prepare
    const id = gw.addJob({
      vmName: 'app01',
      target: { cloud: 'aws', region: 'eu-west-1', instanceType: 't3.medium' },
      returnAs: { format: 'ova', bytes: await readFile(files.resultOva), diskSha256: BASE_SHA },
    });
    const target = out('whole-mismatch.vmdk');
    // Act
    const r = await cli(['return', id, '--out', target, ...gateway()]);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `burstgate: the disk in the downloaded OVA has content SHA-256 ${RESULT_SHA}, not the ${BASE_SHA} the gateway announced; nothing was kept`,
    );
    expect(await leftovers(target)).toEqual([]);
  });
});

describe('burstgate offload --cloud azure, status and list', () => {
  it('sends the Azure target, follows the job, and says how to bring it home with --base', async () => {
    // Act
    const r = await cli([
      'offload',
      SAMPLE,
      '--cloud',
      'azure',
      '--location',
      'westeurope',
      '--vm-size',
      'Standard_D2s_v3',
      '--resource-group',
      'rg-burst',
      '--no-hash',
      ...gateway(),
    ]);
    // Assess
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    const id = /^(job-\d+): offloading/m.exec(r.stdout)?.[1] ?? '';
    expect(gw.jobs.get(id)?.view.target).toEqual({
      cloud: 'azure',
      location: 'westeurope',
      vmSize: 'Standard_D2s_v3',
      resourceGroup: 'rg-burst',
    });
    expect(r.stdout).toContain(
      `${id}: offloading burstgate-sample (ova, 190.0 KiB) to azure westeurope Standard_D2s_v3 (resource group rg-burst)`,
    );
    expect(r.stdout).toContain(
      `bring it home with: burstgate return ${id} --base ${SAMPLE} --out burstgate-sample-returned.ova`,
    );
  });

  it('status shows the delta download and list the Azure target', async () => {
    // Prepare
    const id = azureJob({ state: 'returned' });
    // Act
    const status = await cli(['status', id, ...gateway()]);
    const list = await cli(['list', '--state', 'returned', '--gateway', gw.url, '--api-key', KEY]);
    // Assess
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('  target     azure westeurope Standard_D2s_v3');
    expect(status.stdout).toContain(
      `  download   delta (only what changed in the cloud), ${formatBytes(delta.length)}`,
    );
    expect(status.stdout).toContain(`applies to the disk with content sha256 ${BASE_SHA}`);
    expect(list.stdout).toMatch(
      new RegExp(`^${id}  returned  app01  azure westeurope Standard_D2s_v3  `, 'm'),
    );
  });

  it('--help describes --cloud, the Azure flags, --base and the --to rule', async () => {
    const offload = await cli(['offload', '--help']);
    expect(offload.stdout).toContain('--cloud aws|azure');
    expect(offload.stdout).toMatch(/--location L +Azure region, e\.g\. westeurope \(required\)/);
    expect(offload.stdout).toMatch(/--vm-size S +VM size, e\.g\. Standard_D2s_v3 \(required\)/);
    const ret = await cli(['return', '--help']);
    expect(ret.stdout).toContain('--base IMAGE');
    expect(ret.stdout).toContain('default: ova when FILE ends in .ova, else vmdk-stream');
  });
});
