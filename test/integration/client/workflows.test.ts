/**
 * The client's workflows (shared/client/offload-workflow.ts, return-workflow.ts) as a program calls
 * them, against the fake gateway on 127.0.0.1: the events they report, in order, what they leave on
 * the gateway, and how they fail — before anything happens when they can (a wrong or unreadable
 * base, a delta without a base), and with the stage named by the last event when they cannot.
 * Also the local-file checks the CLI runs first (checkImageFile, checkBaseFile, checkOutputFile).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../../shared/client/api-client';
import { GatewayClientError } from '../../../shared/client/errors';
import { checkBaseFile, checkImageFile, checkOutputFile } from '../../../shared/client/image-file';
import { offloadImage, type OffloadEvent } from '../../../shared/client/offload-workflow';
import { returnJob, type ReturnClient, type ReturnEvent } from '../../../shared/client/return-workflow';
import type { JobState, JobTarget, JobView } from '../../../shared/client/types';
import { writeDelta, type DeltaExtentInput } from '../../../shared/images/delta-writer';
import { collect, pseudoRandom, rawDisk, sha256 } from '../../helpers/images/fixtures';
import { useTmpDir } from '../../helpers/images/tmp-dir';
import { startFakeGateway, type FakeGateway } from '../../helpers/fake-gateway';

const KEY = 'workflow-test-key';
const SAMPLE = join(import.meta.dirname, '..', '..', 'fixtures', 'sample-vm', 'burstgate-sample.ova');
const AWS: JobTarget = { cloud: 'aws', region: 'eu-west-1', instanceType: 't3.medium' };
const AZURE: JobTarget = { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v3' };
const KiB = 1024;
const MiB = 1024 * KiB;
const CAPACITY = 4 * MiB;

const tmp = useTmpDir('bg-workflows-');
let gw: FakeGateway;
let client: GatewayClient;
let sample: Buffer;

/** The offloaded disk (raw), the disk the VM has now, and the delta between them. */
const baseDisk = rawDisk(CAPACITY, [
  { offset: 0, data: pseudoRandom(64 * KiB, 1) },
  { offset: 2 * MiB, data: pseudoRandom(256 * KiB, 2) },
]);
const CHANGES: DeltaExtentInput[] = [
  { kind: 'data', offset: 4096, data: pseudoRandom(8 * KiB, 3) },
  { kind: 'zero', offset: 2 * MiB + 64 * KiB, length: 64 * KiB },
];
const resultDisk = (() => {
  const b = Buffer.from(baseDisk);
  (CHANGES[0] as { data: Buffer }).data.copy(b, 4096);
  b.fill(0, 2 * MiB + 64 * KiB, 2 * MiB + 128 * KiB);
  return b;
})();
const BASE_SHA = sha256(baseDisk);
const RESULT_SHA = sha256(resultDisk);
let delta: Buffer;
const files = { base: '', otherBase: '', notAnImage: '' };

beforeAll(async () => {
  gw = await startFakeGateway({ apiKey: KEY, partSizeBytes: 64 * KiB });
  client = new GatewayClient({ baseUrl: gw.url, apiKey: KEY });
  sample = await readFile(SAMPLE);
  files.base = join(tmp.dir, 'base.img');
  await writeFile(files.base, baseDisk);
  files.otherBase = join(tmp.dir, 'other.img');
  await writeFile(files.otherBase, resultDisk);
  // a VMDK's magic and nothing that makes sense after it
  files.notAnImage = join(tmp.dir, 'garbage.vmdk');
  await writeFile(files.notAnImage, Buffer.concat([Buffer.from('KDMV'), Buffer.alloc(4092, 0x5a)]));
  delta = await collect(
    writeDelta(
      { virtualSize: CAPACITY, baseCapacity: CAPACITY, baseSha256: BASE_SHA, resultSha256: RESULT_SHA },
      CHANGES,
    ),
  );
});
afterAll(() => gw?.close());

/** The events of one run, and the stages they went through. */
function recorder<E extends { type: string }>() {
  const events: E[] = [];
  return {
    events,
    onEvent: (e: E) => void events.push(e),
    stages: () => events.flatMap((e) => ('stage' in e && e.type === 'stage' ? [e.stage] : [])),
    of: <T extends E['type']>(type: T) => events.filter((e): e is Extract<E, { type: T }> => e.type === type),
  };
}

const sampleImage = () => ({ path: SAMPLE, sizeBytes: sample.length });

describe('offloadImage', () => {
  it('hashes, creates, uploads in parts, completes and follows until running, saying so in order', async () => {
    // Prepare
    const r = recorder<OffloadEvent>();
    // Act
    const result = await offloadImage(client, {
      image: sampleImage(),
      format: 'ova',
      vmName: 'sample',
      target: AWS,
      intervalMs: 5,
      onEvent: r.onEvent,
    });
    // Assess
    expect(r.stages()).toEqual(['hash', 'create', 'upload', 'complete', 'follow']);
    const created = r.of('created')[0]!;
    expect(created).toMatchObject({ jobId: result.jobId, vmName: 'sample', parts: 3, target: AWS });
    expect(created.upload).toEqual({ path: SAMPLE, sizeBytes: sample.length, format: 'ova' });
    for (const stage of ['hash', 'upload'] as const) {
      const progress = r.of('progress').filter((p) => p.stage === stage);
      expect(progress.length, stage).toBeGreaterThan(0);
      expect(progress.at(-1), stage).toMatchObject({ done: sample.length, total: sample.length });
    }
    expect(r.of('uploaded')).toEqual([{ type: 'uploaded', jobId: result.jobId, parts: 3 }]);
    expect(r.of('job').map((e) => e.job.state)).toEqual(['inspecting', 'importing', 'launching', 'running']);
    expect(r.of('job')[0]!.previous).toBeUndefined();
    // the events come in the order things happen
    const order = r.events.map((e) => e.type);
    expect(order.indexOf('created')).toBeLessThan(order.indexOf('uploaded'));
    expect(order.lastIndexOf('progress')).toBeLessThan(order.indexOf('uploaded'));
    expect(result).toMatchObject({ jobId: result.jobId, parts: 3, job: { state: 'running' } });
    const job = gw.jobs.get(result.jobId)!;
    expect(job.image!.equals(sample)).toBe(true);
    expect(job.view.image.sha256).toBe(createHash('sha256').update(sample).digest('hex'));
  });

  it('skips the hash with hash: false and stops after the upload with follow: false', async () => {
    // Prepare
    const r = recorder<OffloadEvent>();
    // Act
    const result = await offloadImage(client, {
      image: sampleImage(),
      format: 'ova',
      vmName: 'no-follow',
      target: AZURE,
      hash: false,
      follow: false,
      onEvent: r.onEvent,
    });
    // Assess
    expect(r.stages()).toEqual(['create', 'upload', 'complete']);
    expect(result.job).toBeUndefined();
    const job = gw.jobs.get(result.jobId)!;
    expect(job.view.image.sha256).toBeUndefined();
    expect(job.view.state).toBe('inspecting');
    expect(job.view.target).toEqual(AZURE);
  });

  it('resolves with the failed job when the offload fails in the cloud (a result, not an error)', async () => {
    const failing = await startFakeGateway({ apiKey: KEY, failImport: true });
    try {
      // Act
      const result = await offloadImage(new GatewayClient({ baseUrl: failing.url, apiKey: KEY }), {
        image: sampleImage(),
        format: 'ova',
        vmName: 'doomed',
        target: AWS,
        hash: false,
        intervalMs: 5,
      });
      // Assess
      expect(result.job?.state).toBe('failed');
      expect(result.job?.error?.type).toBe('import-failed');
    } finally {
      await failing.close();
    }
  });

  it('fails at create with a rejected key, having created nothing', async () => {
    // Prepare
    const r = recorder<OffloadEvent>();
    const before = gw.jobs.size;
    // Act
    const run = offloadImage(new GatewayClient({ baseUrl: gw.url, apiKey: 'wrong' }), {
      image: sampleImage(),
      format: 'ova',
      vmName: 'rejected',
      target: AWS,
      onEvent: r.onEvent,
    });
    // Assess
    await expect(run).rejects.toMatchObject({ name: 'GatewayClientError', kind: 'forbidden' });
    expect(r.stages().at(-1)).toBe('create');
    expect(r.of('created')).toEqual([]);
    expect(gw.jobs.size).toBe(before);
  });

  it('stops the upload when aborted, after `created` named the job left waiting for it', async () => {
    // Prepare
    const r = recorder<OffloadEvent>();
    const ac = new AbortController();
    // Act
    const run = offloadImage(client, {
      image: sampleImage(),
      format: 'ova',
      vmName: 'aborted',
      target: AWS,
      hash: false,
      concurrency: 1,
      signal: ac.signal,
      onEvent: (e) => {
        r.onEvent(e);
        if (e.type === 'stage' && e.stage === 'upload') ac.abort(new Error('stop'));
      },
    });
    // Assess
    await expect(run).rejects.toThrow();
    expect(r.stages().at(-1)).toBe('upload');
    const jobId = r.of('created')[0]!.jobId;
    expect(gw.jobs.get(jobId)!.view.state).toBe('awaiting-upload');
    expect(r.of('uploaded')).toEqual([]);
  });

  it('refuses an incremental offload to anything but AWS direct, before anything happens', async () => {
    const r = recorder<OffloadEvent>();
    for (const target of [AZURE, { ...AWS, mode: 'import' } as const]) {
      await expect(
        offloadImage(client, {
          image: sampleImage(),
          format: 'ova',
          vmName: 'x',
          target,
          incremental: true,
          onEvent: r.onEvent,
        }),
      ).rejects.toThrow(/needs an AWS direct target/);
    }
    expect(r.events).toEqual([]);
  });

  it('uploads the whole image when the gateway holds no cached one, saying why', async () => {
    // Prepare: the fake gateway has no image cache: a client that answers as one without an entry does
    const r = recorder<OffloadEvent>();
    const noCache = Object.assign(Object.create(client) as GatewayClient, {
      getImageCache: () => Promise.resolve(undefined),
    });
    // Act
    const result = await offloadImage(noCache, {
      image: sampleImage(),
      format: 'ova',
      vmName: 'first-time',
      target: { ...AWS, mode: 'direct' },
      incremental: true,
      hash: false,
      follow: false,
      onEvent: r.onEvent,
    });
    // Assess
    expect(r.stages()).toEqual(['compare', 'create', 'upload', 'complete']);
    const compared = r.of('compared')[0]!.comparison;
    expect(compared.kind).toBe('whole');
    expect(compared.kind === 'whole' && compared.reason).toMatch(
      /no cached image of first-time in eu-west-1/,
    );
    expect(result.upload.format).toBe('ova');
    expect(gw.jobs.get(result.jobId)!.image!.equals(sample)).toBe(true);
  });
});

describe('returnJob', () => {
  /** A running Azure job whose return publishes the delta (overridable). */
  const deltaJob = (image: Partial<JobView['image']> = { diskSha256: BASE_SHA }) =>
    gw.addJob({
      vmName: 'app01',
      target: AZURE,
      image: { format: 'raw', sizeBytes: CAPACITY, ...image },
      returnAs: { format: 'delta', bytes: delta, diskSha256: RESULT_SHA, baseDiskSha256: BASE_SHA },
    });
  const out = (name: string) => join(tmp.dir, name);
  const leftovers = async (name: string) => (await readdir(tmp.dir)).filter((f) => f.startsWith(name));

  it('checks the base, starts, follows, downloads the delta and rebuilds the disk, saying so in order', async () => {
    // Prepare
    const id = deltaJob();
    const r = recorder<ReturnEvent>();
    const target = out('rebuilt.raw');
    // Act
    const result = await returnJob(client, {
      jobId: id,
      out: target,
      to: 'raw',
      base: files.base,
      intervalMs: 5,
      onEvent: r.onEvent,
    });
    // Assess
    expect(r.stages()).toEqual(['check', 'base', 'start', 'follow', 'fetch']);
    expect(r.of('base-measured')[0]!.base).toMatchObject({
      path: files.base,
      sha256: BASE_SHA,
      format: 'raw',
    });
    expect(r.of('base-checked')[0]!.base.sha256).toBe(BASE_SHA);
    expect(r.of('started')).toEqual([{ type: 'started', state: 'returning' }]);
    expect(r.of('job').map((e) => e.job.state)).toEqual(['returning', 'returned']);
    expect(r.of('phase').map((e) => e.phase)).toEqual(['base', 'download', 'rebuild']);
    const downloads = r.of('progress').filter((p) => p.phase === 'download');
    expect(downloads.at(-1)).toMatchObject({ done: delta.length });
    expect(
      r
        .of('progress')
        .filter((p) => p.phase === 'base')
        .at(-1),
    ).toMatchObject({ done: CAPACITY });
    expect(result.returned).toBe(true);
    if (!result.returned) return;
    expect(result.image).toMatchObject({
      source: 'delta',
      diskSha256: RESULT_SHA,
      downloadedBytes: delta.length,
    });
    expect(result.download.format).toBe('delta');
    expect((await readFile(target)).equals(resultDisk)).toBe(true);
    expect(await leftovers('rebuilt.raw')).toEqual(['rebuilt.raw']);
    // the base was hashed once, before the return started: the fetch did not measure it again
    expect(r.of('base-measured')).toHaveLength(1);
  });

  it('refuses a base with another disk before the return starts (disk mismatch)', async () => {
    // Prepare
    const id = deltaJob();
    const r = recorder<ReturnEvent>();
    // Act
    const run = returnJob(client, {
      jobId: id,
      out: out('mismatch.raw'),
      to: 'raw',
      base: files.otherBase,
      onEvent: r.onEvent,
    });
    // Assess
    await expect(run).rejects.toMatchObject({
      kind: 'wrong-base',
      message: expect.stringContaining(
        `holds a disk with content SHA-256 ${RESULT_SHA}, but job ${id} offloaded a disk with ${BASE_SHA}`,
      ),
    });
    expect(r.of('base-measured')).toHaveLength(1);
    expect(r.of('base-checked')).toEqual([]);
    expect(r.stages()).toEqual(['check', 'base']);
    const job = gw.jobs.get(id)!;
    expect(job.returnsStarted).toBe(0);
    expect(job.downloads).toBe(0);
    expect(await leftovers('mismatch.raw')).toEqual([]);
  });

  it('refuses a wrong base before the download when only the download names the offloaded disk', async () => {
    // Prepare: the job does not record the offloaded disk's hash, so only its download can tell
    const id = deltaJob({});
    // Act
    const run = returnJob(client, {
      jobId: id,
      out: out('late.raw'),
      to: 'raw',
      base: files.otherBase,
      intervalMs: 5,
    });
    // Assess
    await expect(run).rejects.toMatchObject({ kind: 'wrong-base' });
    const job = gw.jobs.get(id)!;
    expect(job.returnsStarted).toBe(1);
    expect(job.downloads).toBe(0);
    expect(await leftovers('late.raw')).toEqual([]);
  });

  it('says a base that is no disk image is an image-file error, with a hint, before the return starts', async () => {
    // Prepare
    const id = deltaJob();
    // Act
    const run = returnJob(client, { jobId: id, out: out('garbage.raw'), to: 'raw', base: files.notAnImage });
    // Assess
    await expect(run).rejects.toMatchObject({
      name: 'GatewayClientError',
      kind: 'image-file',
      message: expect.stringMatching(/^--base .*garbage\.vmdk is not a readable disk image \(BG_VMDK_/),
      hint: 'pass the image that was offloaded (the file given to `burstgate offload`)',
    });
    expect(gw.jobs.get(id)!.returnsStarted).toBe(0);
  });

  it('asks for the base of a returned delta without downloading anything; with it, a re-run only downloads', async () => {
    // Prepare: returned already, without a base
    const id = deltaJob();
    await returnJob(client, { jobId: id, out: out('first.raw'), to: 'raw', intervalMs: 5 }).catch(
      (e: unknown) => e,
    );
    const r = recorder<ReturnEvent>();
    // Act
    const run = returnJob(client, { jobId: id, out: 'again.raw', to: 'raw', onEvent: r.onEvent });
    // Assess
    await expect(run).rejects.toMatchObject({
      kind: 'base-required',
      message: `${id} came back as a delta (only what changed in the cloud): pass the image that was offloaded (the file given to \`burstgate offload\`) as --base, e.g. burstgate return ${id} --base vm.ova --out again.raw`,
    });
    expect(r.stages()).toEqual(['check']);
    expect(gw.jobs.get(id)!.downloads).toBe(0);

    // Act: with the base, the same return only downloads
    const again = recorder<ReturnEvent>();
    const result = await returnJob(client, {
      jobId: id,
      out: out('second.raw'),
      to: 'raw',
      base: files.base,
      onEvent: again.onEvent,
    });
    // Assess
    expect(result.returned).toBe(true);
    expect(again.of('resumed')).toEqual([{ type: 'resumed', state: 'returned' }]);
    expect(again.of('started')).toEqual([]);
    expect(gw.jobs.get(id)!.returnsStarted).toBe(1);
    expect((await readFile(out('second.raw'))).equals(resultDisk)).toBe(true);
  });

  it('downloads a whole OVA as it is, and says the base given was not used', async () => {
    // Prepare
    const id = gw.addJob({
      vmName: 'whole',
      target: AWS,
      state: 'returned',
      returnAs: { format: 'ova', bytes: sample, diskSha256: 'd'.repeat(64), matchesOriginal: true },
    });
    const r = recorder<ReturnEvent>();
    const target = out('whole.ova');
    // Act
    const result = await returnJob(client, {
      jobId: id,
      out: target,
      to: 'ova',
      base: files.base,
      onEvent: r.onEvent,
    });
    // Assess
    expect(r.stages()).toEqual(['check', 'follow', 'fetch']);
    expect(r.of('base-unused')).toHaveLength(1);
    expect(r.of('base-measured')).toEqual([]);
    expect(result.returned && result.image.source).toBe('ova');
    expect((await readFile(target)).equals(sample)).toBe(true);
  });

  it('resolves with the job when the return fails in the cloud (a result, not an error)', async () => {
    // Prepare: a gateway whose job goes returning → return-failed
    const states: JobState[] = ['running', 'returning', 'return-failed'];
    // (the fake gateway's Azure target leaves the resource group to the gateway, as a client sends it)
    const running = gw.jobs.get(deltaJob())!.view as JobView;
    const view = (state: JobState): JobView => ({
      ...running,
      state,
      ...(state === 'return-failed'
        ? { error: { type: 'export-failed', title: 'The export failed', detail: 'no space', step: 'export' } }
        : {}),
    });
    let polls = 0;
    const flaky: ReturnClient = {
      getOffload: () => Promise.resolve(view(states[Math.min(polls++, states.length - 1)]!)),
      startReturn: (jobId) => Promise.resolve({ jobId, state: 'returning' }),
    };
    // Act
    const result = await returnJob(flaky, {
      jobId: 'job-x',
      out: out('failed.raw'),
      to: 'raw',
      intervalMs: 1,
    });
    // Assess
    expect(result.returned).toBe(false);
    expect(result.job.state).toBe('return-failed');
    expect(result.job.error?.detail).toBe('no space');
    expect(await leftovers('failed.raw')).toEqual([]);
  });
});

describe('the local files a command is given', () => {
  it('checkImageFile: an image-file error naming the path for a missing, empty or directory image', async () => {
    await writeFile(join(tmp.dir, 'empty.ova'), '');
    const cases: Array<[string, RegExp]> = [
      [join(tmp.dir, 'nope.ova'), /nope\.ova: no such file$/],
      [join(tmp.dir, 'empty.ova'), /empty\.ova is empty$/],
      [tmp.dir, / is a directory, not an image file$/],
    ];
    for (const [path, message] of cases) {
      const e = await checkImageFile(path).catch((err: unknown) => err);
      expect(e, path).toBeInstanceOf(GatewayClientError);
      expect(e, path).toMatchObject({ kind: 'image-file', message: expect.stringMatching(message) });
    }
    expect(await checkImageFile(SAMPLE)).toEqual({ path: SAMPLE, sizeBytes: sample.length });
  });

  it('checkBaseFile: a missing base or a folder is an image-file error, the missing one with a hint', async () => {
    const missing = join(tmp.dir, 'missing.vmdk');
    await expect(checkBaseFile(missing)).rejects.toMatchObject({
      kind: 'image-file',
      message: `cannot read the --base image ${missing}: no such file`,
      hint: 'pass the image that was offloaded (the file given to `burstgate offload`)',
    });
    await expect(checkBaseFile(tmp.dir)).rejects.toMatchObject({
      kind: 'image-file',
      message: `--base ${tmp.dir} is not a file; pass the image that was offloaded`,
    });
    await expect(checkBaseFile(files.base)).resolves.toBeUndefined();
  });

  it('checkOutputFile: an output-file error for a taken name (unless forced), a folder, or no folder', async () => {
    const taken = join(tmp.dir, 'taken.ova');
    await writeFile(taken, 'x');
    await expect(checkOutputFile(taken)).rejects.toMatchObject({
      kind: 'output-file',
      message: `${taken} already exists`,
      hint: 'pass --force to overwrite it',
    });
    await expect(checkOutputFile(taken, { force: true })).resolves.toBeUndefined();
    const folder = join(tmp.dir, 'a-folder');
    await mkdir(folder);
    await expect(checkOutputFile(folder, { force: true })).rejects.toMatchObject({
      kind: 'output-file',
      message: `--out ${folder} is a directory; name a file such as vm.ova`,
    });
    const nowhere = join(tmp.dir, 'no', 'such', 'vm.ova');
    await expect(checkOutputFile(nowhere)).rejects.toMatchObject({
      kind: 'output-file',
      message: `cannot write ${nowhere}: the folder ${join(tmp.dir, 'no', 'such')} does not exist`,
    });
  });
});
