import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  startHttpApi,
  type HttpApiAnswer,
  type HttpApiRoute,
  type LocalHttpApi,
} from '../../../infra/local/http-api';

type Handler = (event: Record<string, unknown>) => Promise<unknown>;

const authorizer = {
  functionLogicalId: 'Auth',
  identitySource: ['$request.header.Authorization'],
  simpleResponses: true,
};
const route = (routeKey: string, functionLogicalId: string, auth = true): HttpApiRoute => {
  const [method, path] = routeKey.split(' ') as [string, string];
  return { routeKey, method, path, functionLogicalId, ...(auth ? { authorizer } : {}) };
};

const calls: Array<{ fn: string; event: Record<string, unknown> }> = [];
const answers: HttpApiAnswer[] = [];
const handlers: Record<string, Handler> = {
  Echo: async (event) => ({
    statusCode: 201,
    headers: { 'content-type': 'application/json', 'X-Echo': 'yes' },
    cookies: ['a=1; Path=/', 'b=2'],
    body: JSON.stringify(event),
  }),
  Plain: async () => ({ hello: 'world' }),
  Binary: async () => ({
    statusCode: 200,
    headers: { 'content-type': 'application/octet-stream' },
    isBase64Encoded: true,
    body: Buffer.from([0, 1, 2, 255]).toString('base64'),
  }),
  Boom: async () => {
    throw new Error('integration failed');
  },
  Auth: async (event) => {
    const [value] = event.identitySource as string[];
    if (value === 'Bearer throw') throw new Error('authorizer crashed');
    if (value === 'Bearer weird') return { allowed: true };
    return value === 'Bearer good'
      ? { isAuthorized: true, context: { keyLabel: 'test-key' } }
      : { isAuthorized: false };
  },
};

let api: LocalHttpApi;

beforeAll(async () => {
  api = await startHttpApi({
    routes: [
      route('POST /offloads', 'Echo'),
      route('GET /offloads/{id}', 'Echo'),
      route('GET /offloads/special', 'Plain', false),
      route('GET /files/{path+}', 'Echo', false),
      route('GET /boom', 'Boom', false),
      route('GET /binary', 'Binary', false),
      route('POST /upload', 'Echo', false),
    ],
    invoke: async (fn, event) => {
      calls.push({ fn, event: event as Record<string, unknown> });
      return handlers[fn]!(JSON.parse(JSON.stringify(event)) as Record<string, unknown>);
    },
    observe: (answer) => answers.push(answer),
  });
});

afterAll(async () => {
  await api?.close();
});

beforeEach(() => {
  calls.length = 0;
  answers.length = 0;
});

const authorizerCalls = () => calls.filter((c) => c.fn === 'Auth');

describe('local HTTP API (payload format 2.0)', () => {
  it('turns a request into a 2.0 event and maps the formal response back', async () => {
    // Act
    const res = await fetch(`${api.url}/offloads?x=1&x=2&y=a%20b`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer good',
        'content-type': 'application/json',
        'x-custom': 'Yes',
        cookie: 'c1=v1; c2=v2',
      },
      body: '{"vmName":"web-01"}',
    });
    const event = (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    // Assess
    expect(res.status).toBe(201);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect(res.headers.get('apigw-requestid')).toBeTruthy();
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /offloads',
      rawPath: '/offloads',
      rawQueryString: 'x=1&x=2&y=a%20b',
      cookies: ['c1=v1', 'c2=v2'],
      queryStringParameters: { x: '1,2', y: 'a b' },
      body: '{"vmName":"web-01"}',
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        http: { method: 'POST', path: '/offloads', sourceIp: '127.0.0.1', protocol: 'HTTP/1.1' },
        routeKey: 'POST /offloads',
        stage: '$default',
        authorizer: { lambda: { keyLabel: 'test-key' } },
      },
    });
    expect(event.headers).toMatchObject({
      authorization: 'Bearer good',
      'content-type': 'application/json',
      'x-custom': 'Yes',
    });
    expect(event.headers.cookie).toBeUndefined();
    expect(event.pathParameters).toBeUndefined();
    expect(typeof event.requestContext.timeEpoch).toBe('number');
    expect(event.requestContext.requestId).toBeTruthy();
  });

  it('calls the authorizer with a REQUEST 2.0 event carrying the identity source', async () => {
    // Act
    const res = await fetch(`${api.url}/offloads/job-42`, { headers: { authorization: 'Bearer good' } });
    // Assess
    expect(res.status).toBe(201);
    const [auth] = authorizerCalls();
    expect(auth?.event).toMatchObject({
      version: '2.0',
      type: 'REQUEST',
      routeArn: 'arn:aws:execute-api:us-east-1:000000000000:local/$default/GET/offloads/job-42',
      identitySource: ['Bearer good'],
      routeKey: 'GET /offloads/{id}',
      rawPath: '/offloads/job-42',
      pathParameters: { id: 'job-42' },
      headers: { authorization: 'Bearer good' },
      requestContext: { http: { method: 'GET' } },
    });
  });

  it('answers 401 without calling the authorizer when the Authorization header is missing', async () => {
    // Act
    const res = await fetch(`${api.url}/offloads`, { method: 'POST', body: '{}' });
    // Assess
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ message: 'Unauthorized' });
    expect(calls).toEqual([]);
  });

  it('answers 403 when the authorizer says no, 500 when it throws or answers nonsense', async () => {
    // Act
    const denied = await fetch(`${api.url}/offloads/x`, { headers: { authorization: 'Bearer wrong' } });
    const crashed = await fetch(`${api.url}/offloads/x`, { headers: { authorization: 'Bearer throw' } });
    const weird = await fetch(`${api.url}/offloads/x`, { headers: { authorization: 'Bearer weird' } });
    // Assess
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ message: 'Forbidden' });
    expect(crashed.status).toBe(500);
    expect(await crashed.json()).toEqual({ message: 'Internal Server Error' });
    expect(weird.status).toBe(500);
    expect(calls.filter((c) => c.fn === 'Echo')).toEqual([]);
  });

  it('answers 404 Not Found without a matching route or method', async () => {
    // Act
    const noPath = await fetch(`${api.url}/nothing-here`);
    const noMethod = await fetch(`${api.url}/boom`, { method: 'PUT' });
    // Assess
    expect(noPath.status).toBe(404);
    expect(await noPath.json()).toEqual({ message: 'Not Found' });
    expect(noMethod.status).toBe(404);
    expect(calls).toEqual([]);
  });

  it('answers 500 when the integration throws, and 200 JSON for a result without statusCode', async () => {
    // Act
    const boom = await fetch(`${api.url}/boom`);
    const plain = await fetch(`${api.url}/offloads/special`);
    // Assess
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({ message: 'Internal Server Error' });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('application/json');
    expect(await plain.json()).toEqual({ hello: 'world' });
  });

  it('prefers static paths to parameters and decodes greedy path parameters', async () => {
    // Act
    const res = await fetch(`${api.url}/files/a/b%20c.txt`);
    const event = (await res.json()) as { pathParameters: Record<string, string>; routeKey: string };
    // Assess
    expect(event.routeKey).toBe('GET /files/{path+}');
    expect(event.pathParameters).toEqual({ path: 'a/b c.txt' });
    expect(calls.map((c) => c.fn)).toEqual(['Echo']);
  });

  it('base64-encodes binary bodies both ways', async () => {
    // Prepare
    const bytes = Buffer.from([0xff, 0x00, 0x10, 0x80]);
    // Act
    const up = await fetch(`${api.url}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    const event = (await up.json()) as { body: string; isBase64Encoded: boolean };
    const down = await fetch(`${api.url}/binary`);
    // Assess
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body, 'base64')).toEqual(bytes);
    expect(Buffer.from(await down.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('refuses bodies over 10 MB with 413 and does not call the function', async () => {
    // Prepare
    const body = Buffer.alloc(10 * 1024 * 1024 + 1, 97);
    // Act
    const res = await fetch(`${api.url}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body,
    });
    const exactly = await fetch(`${api.url}/upload`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: body.subarray(1),
    });
    // Assess
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ message: 'Request Entity Too Large' });
    expect(exactly.status).toBe(201);
    expect(calls).toHaveLength(1);
  });

  it('reports each answer as written, with its route: function answers and its own', async () => {
    // Act
    await fetch(`${api.url}/offloads/special`);
    await fetch(`${api.url}/offloads/job-1`);
    await fetch(`${api.url}/nowhere`);

    // Assess
    expect(answers.map((a) => ({ ...a, body: a.body.toString() }))).toEqual([
      {
        method: 'GET',
        path: '/offloads/special',
        routeKey: 'GET /offloads/special',
        status: 200,
        contentType: 'application/json',
        body: '{"hello":"world"}',
      },
      {
        method: 'GET',
        path: '/offloads/job-1',
        routeKey: 'GET /offloads/{id}',
        status: 401,
        contentType: 'application/json',
        body: '{"message":"Unauthorized"}',
      },
      {
        method: 'GET',
        path: '/nowhere',
        status: 404,
        contentType: 'application/json',
        body: '{"message":"Not Found"}',
      },
    ]);
  });
});
