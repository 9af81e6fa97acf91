/**
 * The whole loop through the HTTP API on the embedded deployment: the real handlers, the real
 * state machine definitions from the CDK stack, s3rver, dynalite and the AWS simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelOverHttp } from '../helpers/cancel';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, readFile, stat, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { convertImage, inspectOva } from '../../shared/images';
import { execFileSync } from 'node:child_process';
import { GatewayClient } from '../../shared/client/api-client';
import { uploadImage } from '../../shared/client/upload';
import { followJob } from '../../shared/client/follow';
import { downloadImage } from '../../shared/client/download';
import type { JobView } from '../../shared/domain/view';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { liveSimResources, startTestGateway, type TestGateway } from '../helpers/embedded';

const TERMINAL = ['running', 'failed', 'cancelled', 'returned', 'return-failed'];
const target = { cloud: 'aws' as const, region: 'us-east-1', instanceType: 't3.medium' };

let gw: TestGateway;
let client: GatewayClient;
let work: string;
let sampleDiskSha256: string;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  work = await mkdtemp(join(tmpdir(), 'bg-e2e-'));
  const inspected = await inspectOva(createReadStream(SAMPLE_OVA));
  sampleDiskSha256 = inspected.disks[0]!.contentSha256;
});
afterAll(async () => {
  await gw?.close();
});

async function offload(
  file: string,
  imageFormat: 'ova' | 'vmdk' | 'vhd' | 'vhdx' | 'raw' = 'ova',
  vmName = 'e2e-vm',
  callbackUrl?: string,
) {
  const size = (await stat(file)).size;
  const created = await client.createOffload(
    { vmName, imageFormat, imageSizeBytes: size, target, ...(callbackUrl ? { callbackUrl } : {}) },
    randomUUID(),
  );
  const parts = await uploadImage(file, created.upload);
  await client.completeUpload(created.jobId, parts);
  return created.jobId;
}

const settle = (jobId: string, states = TERMINAL): Promise<JobView> =>
  followJob(client, jobId, { until: (j) => states.includes(j.state), intervalMs: 20 });

describe('offload → return over HTTP', () => {
  it('takes the sample VM to simulated AWS and brings it back bit-identical, leaving nothing behind', async () => {
    // Prepare: a scheduler's callback endpoint that records what it is told
    const callbacks: Array<{ jobId: string; to: string }> = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        // Standard Webhooks: {type, timestamp, data}
        callbacks.push((JSON.parse(body) as { data: { jobId: string; to: string } }).data);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/burst`;
    // Act: offload
    const jobId = await offload(SAMPLE_OVA, 'ova', 'burstgate-sample', callbackUrl);
    const running = await settle(jobId);
    // Assess: running, with hardware read from the OVF and every resource recorded
    expect(running.state, running.error?.detail).toBe('running');
    expect(running.hardware).toMatchObject({ vcpus: 1, memoryMiB: 512, firmware: 'bios' });
    expect(running.image.diskSha256).toBe(sampleDiskSha256);
    expect(running.image.partitionTable).toBe('gpt');
    expect(running.cloud.instanceId).toMatch(/^i-[0-9a-f]{17}$/);
    expect(running.resources.map((r) => r.type)).toEqual(
      expect.arrayContaining(['multipart-upload', 's3-object', 'import-task', 'ami', 'snapshot', 'instance']),
    );
    expect(running.steps.map((s) => s.name)).toEqual(['upload', 'inspect', 'import', 'launch']);

    // Act: return
    await client.startReturn(jobId);
    const returned = await settle(jobId, ['returned', 'return-failed', 'failed']);
    // Assess: returned, downloadable, identical, and the cloud holds nothing of the job
    expect(returned.state, returned.error?.detail).toBe('returned');
    expect(returned.download?.matchesOriginal).toBe(true);
    const out = join(work, 'back.ova');
    await downloadImage(returned.download!.url, out, { expectedSha256: returned.download!.sha256 });
    const back = await inspectOva(createReadStream(out));
    expect(back.disks[0]!.contentSha256).toBe(sampleDiskSha256);
    expect(await liveSimResources(gw)).toEqual([]);
    const kept = returned.resources.filter((r) => !r.removedAt);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ type: 's3-object', retained: true });
    expect(returned.steps.map((s) => s.name)).toEqual(
      expect.arrayContaining(['stop', 'export', 'publish', 'cleanup']),
    );
    // every state change was published as an event
    const states = gw.events
      .list()
      .map((e) => JSON.parse(e.Detail ?? '{}') as { jobId: string; to: string })
      .filter((d) => d.jobId === jobId)
      .map((d) => d.to);
    expect(states).toEqual([
      'awaiting-upload',
      'inspecting',
      'importing',
      'launching',
      'running',
      'returning',
      'returned',
    ]);
    // ...and the callback URL was told each one (each its own delivery: in any order)
    for (let i = 0; i < 500 && callbacks.filter((c) => c.jobId === jobId).length < states.length; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(
      callbacks
        .filter((c) => c.jobId === jobId)
        .map((c) => c.to)
        .sort(),
    ).toEqual([...states].sort());
    receiver.close();
  });

  it('ends failed with the cloud reason and removes everything when the import fails', async () => {
    // Prepare
    gw.sim.setFaults({ failImport: { message: 'ClientError: Disk validation failed [Unsupported kernel]' } });
    // Act
    const jobId = await offload(SAMPLE_OVA);
    const job = await settle(jobId);
    gw.sim.setFaults({});
    // Assess
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ type: 'import-failed' });
    expect(job.error?.detail).toContain('ClientError: Disk validation failed');
    expect(job.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(await liveSimResources(gw)).toEqual([]);
  });

  it('retries throttled and failing (5xx) cloud calls to success', async () => {
    // Prepare: the next 3 calls of each of these actions are throttled
    gw.sim.setFaults({
      throttle: { actions: ['ImportImage', 'RunInstances', 'DescribeInstances'], count: 3 },
      serverError: { actions: ['DescribeImportImageTasks'], count: 2 },
    });
    const before = gw.sim.calls.length;
    // Act
    const jobId = await offload(SAMPLE_OVA);
    const job = await settle(jobId);
    gw.sim.setFaults({});
    // Assess
    expect(job.state, job.error?.detail).toBe('running');
    const throttled = gw.sim.calls.slice(before).filter((c) => c.error === 'RequestLimitExceeded');
    expect(throttled.length).toBeGreaterThanOrEqual(3);
    const failed5xx = gw.sim.calls.slice(before).filter((c) => c.error === 'InternalError');
    expect(failed5xx.length).toBe(2);
    await cancelOverHttp(client, jobId);
    expect((await client.getOffload(jobId)).state).toBe('cancelled');
  });
});

describe('other image formats', () => {
  it.each([
    ['vhd', 'vhd-fixed'],
    ['vhd', 'vhd-dynamic'],
    ['vhdx', 'vhdx'],
    ['raw', 'raw'],
  ] as const)('offloads a %s image (%s) and brings the same disk back', async (imageFormat, variant) => {
    // Prepare: the sample VM's disk in this format
    const raw = join(work, `sample-${variant}.raw`);
    const image = join(work, `sample-${variant}.${imageFormat}`);
    if (!existsSync(raw)) await convertImage(SAMPLE_OVA, raw, 'raw');
    if (variant === 'vhdx') {
      execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vhdx', raw, image]);
    } else if (variant === 'raw') {
      await copyFile(raw, image);
    } else {
      await convertImage(SAMPLE_OVA, image, variant);
    }
    // Act
    const jobId = await offload(image, imageFormat, `sample-${variant}`);
    const running = await settle(jobId);
    await client.startReturn(jobId);
    const returned = await settle(jobId, ['returned', 'return-failed', 'failed']);
    // Assess
    expect(running.state, running.error?.detail).toBe('running');
    expect(running.image.diskSha256).toBe(sampleDiskSha256);
    expect(returned.state, returned.error?.detail).toBe('returned');
    expect(returned.download?.diskSha256).toBe(sampleDiskSha256);
  });

  it('refuses a VMDK that AWS VM Import would refuse (monolithicSparse) with a clear reason', async () => {
    // Prepare
    const raw = join(work, 'sample-sparse.raw');
    const image = join(work, 'sample-sparse.vmdk');
    await convertImage(SAMPLE_OVA, raw, 'raw');
    await convertImage(raw, image, 'vmdk-sparse');
    // Act
    const job = await settle(await offload(image, 'vmdk'));
    // Assess
    expect(job.state).toBe('failed');
    expect(job.error?.detail).toMatch(/vmdk-monolithic-sparse.*streamOptimized/);
  });
});

describe('bad input changes nothing', () => {
  it('answers 401 without a key and 403 with a wrong key, and creates no job', async () => {
    // Prepare
    const body = JSON.stringify({ vmName: 'x', imageFormat: 'ova', imageSizeBytes: 10, target });
    const before = (await client.listOffloads()).length;
    // Act
    const none = await fetch(`${gw.apiUrl}/offloads`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body,
    });
    const wrong = await fetch(`${gw.apiUrl}/offloads`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
        authorization: 'Bearer bg_not-a-real-key-000000',
      },
      body,
    });
    // Assess
    expect(none.status).toBe(401);
    expect(wrong.status).toBe(403);
    expect((await client.listOffloads()).length).toBe(before);
  });

  it('answers malformed and invalid bodies with 400 problem+json', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${gw.apiUrl}/offloads`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${gw.apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
          ...headers,
        },
        body,
      });
    // Act
    const malformed = await post('{"vmName": ');
    const invalid = await post(JSON.stringify({ vmName: '', imageFormat: 'iso', imageSizeBytes: 0, target }));
    const noKey = await fetch(`${gw.apiUrl}/offloads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ vmName: 'a', imageFormat: 'ova', imageSizeBytes: 1, target }),
    });
    // Assess
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toBe('application/problem+json');
    expect(await malformed.json()).toMatchObject({
      type: 'https://burstgate.dev/problems/malformed-body',
      status: 400,
    });
    expect(invalid.status).toBe(400);
    const problem = (await invalid.json()) as { type: string; errors: Array<{ path: string }> };
    expect(problem.type).toBe('https://burstgate.dev/problems/validation-failed');
    expect([...new Set(problem.errors.map((e) => e.path))].sort()).toEqual([
      'imageFormat',
      'imageSizeBytes',
      'vmName',
    ]);
    expect(noKey.status).toBe(400);
  });

  it('replays the same Idempotency-Key with the same body and refuses it with another body', async () => {
    // Prepare
    const key = randomUUID();
    const req = { vmName: 'idem', imageFormat: 'raw' as const, imageSizeBytes: 4096, target };
    // Act
    const first = await client.createOffload(req, key);
    const again = await client.createOffload(req, key);
    const other = await client.createOffload({ ...req, imageSizeBytes: 8192 }, key).catch((e: unknown) => e);
    const sameKey = randomUUID();
    const [a, b] = await Promise.all([
      client.createOffload(req, sameKey),
      client.createOffload(req, sameKey),
    ]);
    // Assess
    expect(again.jobId).toBe(first.jobId);
    expect(other).toMatchObject({ kind: 'problem', status: 409 });
    expect(a.jobId).toBe(b.jobId);
    await cancelOverHttp(client, first.jobId);
    await cancelOverHttp(client, a.jobId);
  });

  it('refuses to complete an upload that holds fewer bytes than declared, and keeps the job waiting', async () => {
    // Prepare: declare 8 KiB, upload 4 KiB
    const small = join(work, 'small.img');
    await writeFile(small, Buffer.alloc(4096, 1));
    const created = await client.createOffload(
      { vmName: 'short', imageFormat: 'raw', imageSizeBytes: 8192, target },
      randomUUID(),
    );
    const put = await fetch(created.upload.parts[0]!.url, { method: 'PUT', body: await readFile(small) });
    const etag = put.headers.get('etag') ?? '';
    // Act
    const res = await fetch(`${gw.apiUrl}/offloads/${created.jobId}/upload-complete`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ parts: [{ partNumber: 1, etag }] }),
    });
    // Assess
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { type: string; detail: string };
    expect(problem.type).toBe('https://burstgate.dev/problems/upload-incomplete');
    expect(problem.detail).toContain('4096 bytes');
    const job = await client.getOffload(created.jobId);
    expect(job.state).toBe('awaiting-upload');
    expect(job.bytes.uploaded).toBe(0);
    await cancelOverHttp(client, created.jobId);
    const cancelled = await client.getOffload(created.jobId);
    expect(cancelled.resources.filter((r) => !r.removedAt)).toEqual([]);
  });

  it('fails a truncated OVA with a clear reason', async () => {
    // Prepare: the sample cut in the middle of its disk
    const bytes = await readFile(SAMPLE_OVA);
    const truncated = join(work, 'truncated.ova');
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    // Act
    const job = await settle(await offload(truncated));
    // Assess
    expect(job.state).toBe('failed');
    expect(job.error).toMatchObject({ type: 'image-rejected', step: 'inspect' });
    expect(job.error?.detail, JSON.stringify(job.error)).toMatch(/truncated/i);
    expect(job.resources.filter((r) => !r.removedAt)).toEqual([]);
  });

  it('fails a file that is not an OVA with a clear reason', async () => {
    // Prepare
    const notOva = join(work, 'not.ova');
    await writeFile(notOva, Buffer.alloc(64 * 1024, 0x41));
    // Act
    const job = await settle(await offload(notOva));
    // Assess
    expect(job.state).toBe('failed');
    expect(job.error?.type).toBe('image-rejected');
    expect(job.error?.detail).toMatch(/tar|OVA|descriptor/i);
  });

  it('cancels a running job and removes everything it created', async () => {
    // Prepare
    const jobId = await offload(SAMPLE_OVA);
    expect((await settle(jobId)).state).toBe('running');
    // Act
    await cancelOverHttp(client, jobId);
    const job = await client.getOffload(jobId);
    // Assess
    expect(job.state).toBe('cancelled');
    expect(job.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(await liveSimResources(gw)).toEqual([]);
  });
});
