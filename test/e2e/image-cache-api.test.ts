/**
 * GET /image-cache/{region}/{vmName} over HTTP on the embedded deployment: no entry before a VM's
 * first direct offload (404 problem+json), the entry once the offload runs (its snapshot, disk
 * SHA-256 and capacity, and a presigned block manifest whose blocks are the entry's), 400 naming
 * the wrong path parameter, and the authorizer in front of it like every other route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import type { ImageCacheView, JobView } from '../../shared/client/types';
import { openBaseImage } from '../../shared/images';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { nonZeroBlocks } from '../helpers/aws-sim';
import { AWS_TARGET, offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';
import { caught } from '../helpers/client-errors';

const DIRECT = { ...AWS_TARGET, mode: 'direct' as const };
const REGION = AWS_TARGET.region;
/** Every character class a VM name may hold: the path carries it URL-encoded. */
const VM_NAME = 'Cache API vm_01.prod-2';
const SETTLED = ['running', 'failed', 'cancelled'];

let gw: TestGateway;
let client: GatewayClient;
/** Non-zero 512 KiB blocks of the sample VM's disk. */
let dataBlocks: number;

beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  const base = await openBaseImage(SAMPLE_OVA);
  try {
    dataBlocks = nonZeroBlocks(await base.disk.read(0, base.disk.capacity)).length;
  } finally {
    await base.close();
  }
});
afterAll(async () => {
  await gw?.close();
});

/** A GET of the route with a raw path (encoded by the caller) and these headers. */
function getRaw(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.apiUrl}/image-cache/${path}`, { headers });
}

describe('GET /image-cache/{region}/{vmName}', () => {
  it('answers 404 problem+json before the VM was ever offloaded directly, and the client undefined', async () => {
    // Prepare
    const path = `${REGION}/${encodeURIComponent(VM_NAME)}`;

    // Act
    const res = await getRaw(path, { authorization: `Bearer ${gw.apiKey}` });
    const problem = (await res.json()) as Record<string, unknown>;
    const entry = await client.getImageCache(REGION, VM_NAME);

    // Assess
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(problem).toMatchObject({
      type: 'https://burstgate.dev/problems/image-cache-entry-not-found',
      status: 404,
      instance: `/image-cache/${path}`,
    });
    expect(problem.detail).toContain(`No cached image for VM "${VM_NAME}" in ${REGION}`);
    expect(problem.detail).toContain('the first direct offload');
    expect(entry).toBeUndefined();
  });

  describe('after a direct offload reaches running', () => {
    let job: JobView;
    let entry: ImageCacheView | undefined;

    beforeAll(async () => {
      const { created } = await offloadSample(gw, VM_NAME, SAMPLE_OVA, DIRECT);
      job = await followJob(client, created.jobId, {
        until: (j) => SETTLED.includes(j.state),
        intervalMs: 20,
      });
      entry = await client.getImageCache(REGION, VM_NAME);
    });

    it("shows the job's snapshot, AMI, disk SHA-256 and capacity, without internal fields", async () => {
      // Prepare
      const path = `${REGION}/${encodeURIComponent(VM_NAME)}`;

      // Act
      const raw = (await (await getRaw(path, { authorization: `Bearer ${gw.apiKey}` })).json()) as Record<
        string,
        unknown
      >;

      // Assess
      expect(job.state, job.error?.detail).toBe('running');
      expect(entry).toEqual({
        vmName: VM_NAME,
        region: REGION,
        snapshotId: job.cloud.baseSnapshotId,
        amiId: job.cloud.amiId,
        diskSha256: job.image.diskSha256,
        diskSha256Measured: true, // a full upload: inspect measured it
        capacityBytes: job.image.diskCapacityBytes,
        blocks: dataBlocks,
        jobId: job.jobId,
        updatedAt: expect.any(String) as string,
        manifest: { url: expect.any(String) as string, expiresAt: expect.any(String) as string },
      });
      expect(entry!.diskSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Date.parse(entry!.manifest.expiresAt)).toBeGreaterThan(Date.parse(entry!.updatedAt));
      expect(Object.keys(raw).sort()).toEqual(
        [
          'amiId',
          'blocks',
          'capacityBytes',
          'diskSha256',
          'diskSha256Measured',
          'jobId',
          'manifest',
          'region',
          'snapshotId',
          'updatedAt',
          'vmName',
        ].sort(),
      );
      expect(JSON.stringify(raw)).not.toContain('"manifestKey"');
      expect(JSON.stringify(raw)).not.toContain('"retired"');
    });

    it('presigns the block manifest: it downloads without the API key and lists exactly the entry’s blocks', async () => {
      // Act
      const manifest = await client.fetchBlockManifest(entry!.manifest.url);

      // Assess
      expect(new URL(entry!.manifest.url).pathname).toContain(`/manifests/${job.jobId}/`);
      expect(manifest.version).toBe(1);
      expect(manifest.blockBytes).toBe(512 * 1024);
      expect(manifest.capacity).toBe(entry!.capacityBytes);
      expect(Object.keys(manifest.blocks)).toHaveLength(entry!.blocks);
    });

    it('keeps entries per region: the same VM has none in another region', async () => {
      // Act
      const elsewhere = await client.getImageCache('eu-west-1', VM_NAME);

      // Assess
      expect(elsewhere).toBeUndefined();
    });
  });

  it('answers 400 naming the field for a malformed region or VM name', async () => {
    // Act
    const badRegion = await caught(client.getImageCache('mars-1', 'vm'));
    const badName = await caught(client.getImageCache(REGION, '.hidden'));
    const tooLong = await caught(client.getImageCache(REGION, 'x'.repeat(129)));

    // Assess
    for (const err of [badRegion, badName, tooLong]) {
      expect(err.kind).toBe('problem');
      expect(err.status).toBe(400);
      expect(err.problemType).toBe('validation-failed');
    }
    expect(badRegion.problem?.errors?.map((e) => e.path)).toEqual(['region']);
    expect(badRegion.message).toContain('region: an AWS region name such as us-east-1');
    expect(badName.problem?.errors?.map((e) => e.path)).toEqual(['vmName']);
    expect(tooLong.problem?.errors?.map((e) => e.path)).toEqual(['vmName']);
  });

  it('is behind the authorizer: 401 without an API key, 403 with a wrong one', async () => {
    // Prepare
    const path = `${REGION}/${encodeURIComponent(VM_NAME)}`;

    // Act
    const missing = await getRaw(path);
    const wrong = await getRaw(path, { authorization: 'Bearer bg_not-a-key' });
    const wrongKeyClient = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: 'bg_not-a-key' });
    const rejected = await caught(wrongKeyClient.getImageCache(REGION, VM_NAME));

    // Assess
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ message: 'Unauthorized' });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toEqual({ message: 'Forbidden' });
    expect(rejected.kind).toBe('forbidden');
  });
});
