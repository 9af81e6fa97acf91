import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../../shared/client/api-client';
import type { CreateOffloadRequest } from '../../../shared/client/types';
import { closedPort, sendJson, startServer, type Handler, type TestServer } from '../../helpers/http-server';
import { jobView } from '../../helpers/job-view';
import { caught } from '../../helpers/client-errors';

const KEY = 'test-key-123';
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(handler: Handler): Promise<GatewayClient> {
  server = await startServer(handler);
  return new GatewayClient({ baseUrl: server.url, apiKey: KEY });
}

/** A minimal offload request for a 1-byte raw image. */
function rawOffload(vmName: string, region: string, instanceType: string): CreateOffloadRequest {
  return { vmName, imageFormat: 'raw', imageSizeBytes: 1, target: { cloud: 'aws', region, instanceType } };
}

const upload = {
  uploadId: 'up-1',
  partSizeBytes: 1024,
  parts: [{ partNumber: 1, url: 'http://127.0.0.1:9/p1' }],
  expiresAt: '2030-01-01T00:00:00Z',
};

describe('GatewayClient', () => {
  it('creates an offload with the bearer key, the Idempotency-Key and a JSON body', async () => {
    const client = await serve((_req, res) =>
      sendJson(res, 202, {
        jobId: 'job-1',
        state: 'awaiting-upload',
        upload,
        links: { self: '/offloads/job-1' },
      }),
    );
    const req = {
      vmName: 'vm1',
      imageFormat: 'ova' as const,
      imageSizeBytes: 1000,
      target: { cloud: 'aws' as const, region: 'us-east-1', instanceType: 't3.medium' },
    };
    const created = await client.createOffload(req, 'idem-0001');
    expect(created.jobId).toBe('job-1');
    expect(created.upload.parts).toHaveLength(1);
    const sent = server!.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.url).toBe('/offloads');
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(sent.headers['idempotency-key']).toBe('idem-0001');
    expect(sent.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent.body.toString())).toEqual(req);
  });

  it('keeps a stage path in the base URL and encodes ids and the state query', async () => {
    server = await startServer((_req, res) => sendJson(res, 200, { items: [jobView({ state: 'running' })] }));
    const client = new GatewayClient({ baseUrl: `${server.url}/prod`, apiKey: KEY });
    const items = await client.listOffloads('running');
    expect(items[0]!.state).toBe('running');
    await client.getOffload('job/../x').catch(() => undefined);
    expect(server.requests.map((r) => r.url)).toEqual([
      '/prod/offloads?state=running',
      '/prod/offloads/job%2F..%2Fx',
    ]);
  });

  it('sends completeUpload, startReturn and cancel to their routes', async () => {
    const client = await serve((req, res) => {
      const state =
        req.method === 'DELETE' ? 'cancelling' : req.url?.endsWith('/return') ? 'returning' : 'inspecting';
      sendJson(res, 202, { jobId: 'job-1', state });
    });
    expect(await client.completeUpload('job-1', [{ partNumber: 1, etag: '"abc"' }])).toEqual({
      jobId: 'job-1',
      state: 'inspecting',
    });
    expect((await client.startReturn('job-1')).state).toBe('returning');
    expect((await client.cancel('job-1')).state).toBe('cancelling');
    expect(server!.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /offloads/job-1/upload-complete',
      'POST /offloads/job-1/return',
      'DELETE /offloads/job-1',
    ]);
    expect(JSON.parse(server!.requests[0]!.body.toString())).toEqual({
      parts: [{ partNumber: 1, etag: '"abc"' }],
    });
  });

  it("maps API Gateway's 401 to `unauthorized` and 403 to `forbidden`, both naming the key", async () => {
    const client = await serve((req, res) =>
      req.headers.authorization
        ? sendJson(res, 403, { message: 'Forbidden' })
        : sendJson(res, 401, { message: 'Unauthorized' }),
    );
    const forbidden = await caught(client.getOffload('job-1'));
    expect(forbidden.kind).toBe('forbidden');
    expect(forbidden.status).toBe(403);
    expect(forbidden.message).toMatch(/API key was rejected.*--api-key.*\.burstgate\/api-key/);
    // API Gateway answers 401 when the Authorization header is missing altogether.
    const bare = new GatewayClient({
      baseUrl: server!.url,
      apiKey: '',
      fetch: (url, init) => {
        const headers = new Headers(init?.headers);
        headers.delete('authorization');
        return fetch(url, { ...init, headers });
      },
    });
    const unauthorized = await caught(bare.getOffload('job-1'));
    expect(unauthorized.kind).toBe('unauthorized');
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.message).toMatch(/--api-key/);
  });

  it('maps problem+json to `problem` with type, status, detail and field errors', async () => {
    const client = await serve((_req, res) =>
      sendJson(
        res,
        400,
        {
          type: 'https://burstgate.dev/problems/validation-failed',
          title: 'The request is not valid',
          status: 400,
          detail: 'the offload request is not valid: target.region: an AWS region name such as us-east-1',
          instance: '/offloads',
          errors: [{ path: 'target.region', message: 'an AWS region name such as us-east-1' }],
        },
        'application/problem+json',
      ),
    );
    const err = await caught(client.createOffload(rawOffload('vm', 'mars', 't3.medium'), 'idem-0002'));
    expect(err.kind).toBe('problem');
    expect(err.status).toBe(400);
    expect(err.problemType).toBe('validation-failed');
    expect(err.problem?.errors).toEqual([
      { path: 'target.region', message: 'an AWS region name such as us-east-1' },
    ]);
    expect(err.message).toBe(
      'The request is not valid: the offload request is not valid: target.region: an AWS region name such as us-east-1',
    );
    expect(err.transient).toBe(false);
  });

  it('lists field errors in the message when the detail does not mention them', async () => {
    const client = await serve((_req, res) =>
      sendJson(
        res,
        404,
        {
          type: 'https://burstgate.dev/problems/job-not-found',
          title: 'No such job',
          status: 404,
          detail: "No offload job with id 'job-x' exists; list jobs with GET /offloads.",
        },
        'application/problem+json',
      ),
    );
    const err = await caught(client.getOffload('job-x'));
    expect(err.problemType).toBe('job-not-found');
    expect(err.message).toBe(
      "No such job: No offload job with id 'job-x' exists; list jobs with GET /offloads.",
    );
  });

  it('reports an unreachable gateway as `unreachable`, saying to run burstgate up', async () => {
    const port = await closedPort();
    const client = new GatewayClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY });
    const err = await caught(client.listOffloads());
    expect(err.kind).toBe('unreachable');
    expect(err.transient).toBe(true);
    expect(err.message).toContain(`cannot reach the gateway at http://127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('is `burstgate up` running?');
  });

  it('times out a gateway that does not answer', async () => {
    server = await startServer(() => undefined); // never answers
    const client = new GatewayClient({ baseUrl: server.url, apiKey: KEY, timeoutMs: 200 });
    const err = await caught(client.getOffload('job-1'));
    expect(err.kind).toBe('unreachable');
    expect(err.message).toMatch(
      /did not answer GET http:\/\/127\.0\.0\.1:\d+\/offloads\/job-1 within 0\.2 s/,
    );
  });

  it('calls answers that break the contract `protocol` errors', async () => {
    let answer: () => [number, string, string] = () => [200, 'text/html', '<html>hello</html>'];
    const client = await serve((_req, res) => {
      const [status, type, body] = answer();
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    });
    const html = await caught(client.getOffload('job-1'));
    expect(html.kind).toBe('protocol');
    expect(html.message).toMatch(/not JSON: is http:\/\/127\.0\.0\.1:\d+ a burstgate gateway\?/);

    answer = () => [200, 'application/json', JSON.stringify({ jobId: 'job-1', state: 'flying' })];
    expect((await caught(client.getOffload('job-1'))).message).toContain('unknown state "flying"');

    answer = () => [502, 'application/json', JSON.stringify({ message: 'Internal Server Error' })];
    const bad = await caught(client.getOffload('job-1'));
    expect(bad.kind).toBe('protocol');
    expect(bad.status).toBe(502);
    expect(bad.transient).toBe(true);
    expect(bad.message).toContain('retry in a moment');

    answer = () => [202, 'application/json', JSON.stringify({ jobId: 'job-1', state: 'inspecting' })];
    const noUpload = await caught(
      client.createOffload(rawOffload('v', 'us-east-1', 't3.micro'), 'idem-0003'),
    );
    expect(noUpload.kind).toBe('protocol');
    expect(noUpload.message).toContain('burstgate status job-1');
  });

  it('rejects a base URL that is not http(s)', () => {
    expect(() => new GatewayClient({ baseUrl: 'ftp://x', apiKey: KEY })).toThrow(/not an http\(s\) URL/);
    expect(() => new GatewayClient({ baseUrl: 'not a url', apiKey: KEY })).toThrow(/not a gateway URL/);
  });
});

describe('GatewayClient image cache', () => {
  const view = {
    vmName: 'db 01.prod',
    region: 'us-east-1',
    snapshotId: 'snap-0123',
    amiId: 'ami-0456',
    diskSha256: 'a'.repeat(64),
    capacityBytes: 64 * 1024 * 1024,
    blocks: 3,
    jobId: 'job-1',
    updatedAt: '2030-01-01T00:00:00.000Z',
    manifest: {
      url: 'http://127.0.0.1:9/manifests/job-1/block-manifest.json?X-Amz-Signature=s',
      expiresAt: 'x',
    },
  };

  it('gets the entry from /image-cache/{region}/{vmName} with both segments encoded', async () => {
    // Prepare
    const client = await serve((_req, res) => sendJson(res, 200, view));

    // Act
    const entry = await client.getImageCache('us-east-1', 'db 01.prod');
    await client.getImageCache('us-east-1', 'a/b?c').catch(() => undefined);

    // Assess
    expect(entry).toEqual(view);
    expect(server!.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /image-cache/us-east-1/db%2001.prod',
      'GET /image-cache/us-east-1/a%2Fb%3Fc',
    ]);
    expect(server!.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it("answers undefined for the gateway's 404 image-cache-entry-not-found, and throws on any other 404", async () => {
    // Prepare
    let routeExists = true;
    const client = await serve((_req, res) =>
      routeExists
        ? sendJson(
            res,
            404,
            {
              type: 'https://burstgate.dev/problems/image-cache-entry-not-found',
              title: 'No cached image for this VM',
              status: 404,
              detail: 'No cached image for VM "vm" in us-east-1: ...',
            },
            'application/problem+json',
          )
        : sendJson(res, 404, { message: 'Not Found' }),
    );

    // Act
    const missing = await client.getImageCache('us-east-1', 'vm');
    routeExists = false;
    const oldGateway = await caught(client.getImageCache('us-east-1', 'vm'));

    // Assess: a gateway without the route is not "no cached image"
    expect(missing).toBeUndefined();
    expect(oldGateway.kind).toBe('protocol');
    expect(oldGateway.status).toBe(404);
    expect(oldGateway.message).toContain('no such route');
  });

  it('throws problems (400) as `problem` and an answer without the promised fields as `protocol`', async () => {
    // Prepare
    let answer: [number, unknown, string] = [
      400,
      {
        type: 'https://burstgate.dev/problems/validation-failed',
        title: 'The request is not valid',
        status: 400,
        detail: 'the path is not valid: region: an AWS region name such as us-east-1',
        errors: [{ path: 'region', message: 'an AWS region name such as us-east-1' }],
      },
      'application/problem+json',
    ];
    const client = await serve((_req, res) => sendJson(res, answer[0], answer[1], answer[2]));

    // Act
    const invalid = await caught(client.getImageCache('mars', 'vm'));
    answer = [200, { ...view, manifest: {} }, 'application/json'];
    const noUrl = await caught(client.getImageCache('us-east-1', 'vm'));

    // Assess
    expect(invalid.kind).toBe('problem');
    expect(invalid.problemType).toBe('validation-failed');
    expect(invalid.problem?.errors?.[0]?.path).toBe('region');
    expect(noUrl.kind).toBe('protocol');
    expect(noUrl.message).toContain('no manifest URL');
  });
});
