import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../../shared/client/api-client';
import { GatewayClientError } from '../../../shared/client/errors';
import type { CreateOffloadRequest } from '../../../shared/client/types';
import { closedPort, sendJson, startServer, type Handler, type TestServer } from './http-server';
import { jobView } from './job-fixture';

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

async function caught(p: Promise<unknown>): Promise<GatewayClientError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayClientError);
    return err as GatewayClientError;
  }
  throw new Error('expected a GatewayClientError');
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
