/**
 * A delivery attempt's POST (shared/domain/callbacks.ts) to a receiver on 127.0.0.1: it goes to the
 * address the check resolved (no second lookup), a name that resolves elsewhere by the time of
 * delivery is refused, a redirect is an answer (not followed), a receiver that does not answer in
 * time is cut off, and Retry-After comes back. Resolvers are injected: no DNS query leaves.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkDeliveryTarget, pinnedLookup, postChecked } from '../../../shared/domain/callbacks';
import { EgressRefusedError, redactUrl } from '../../../shared/domain/egress';
import type { EgressPolicy, Resolver } from '../../../shared/domain/egress';
import { sendJson, startServer, type TestServer } from '../../helpers/http-server';

const LOCAL: EgressPolicy = { allowCidrs: ['127.0.0.0/8'], allowHosts: [], httpToLoopback: true };

async function deliver(
  resolve: Resolver | undefined,
  url: string,
  body: Record<string, unknown>,
  timeoutMs = 5000,
) {
  const target = await checkDeliveryTarget({ policy: LOCAL, resolve }, url);
  return postChecked(target, JSON.stringify(body), { 'webhook-id': 'msg_1' }, timeoutMs);
}

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.restoreAllMocks();
});

describe('pinnedLookup', () => {
  it('answers the checked address for any host, in both callback forms', () => {
    // Prepare
    const lookup = pinnedLookup('127.0.0.1', 4);
    const one = vi.fn();
    const all = vi.fn();
    // Act
    lookup('anything.example', {}, one);
    lookup('anything.example', { all: true }, all);
    // Assess
    expect(one).toHaveBeenCalledWith(null, '127.0.0.1', 4);
    expect(all).toHaveBeenCalledWith(null, [{ address: '127.0.0.1', family: 4 }]);
  });
});

describe('a delivery attempt', () => {
  it('POSTs the body to the address the check resolved, with the URL host as Host and the given headers', async () => {
    // Prepare
    server = await startServer((_req, res) => sendJson(res, 204, {}));
    const lookups: string[] = [];
    const resolve: Resolver = async (host) => {
      lookups.push(host);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    // Act
    const answer = await deliver(resolve, `http://localhost:${server.port}/burst?token=t`, {
      type: 'burstgate.job-state-changed',
    });
    // Assess
    expect(answer).toEqual({ status: 204 });
    expect(lookups).toEqual(['localhost']);
    expect(server.requests).toHaveLength(1);
    const got = server.requests[0]!;
    expect([got.method, got.url, got.headers.host, got.headers['webhook-id']]).toEqual([
      'POST',
      '/burst?token=t',
      `localhost:${server.port}`,
      'msg_1',
    ]);
    expect(JSON.parse(got.body.toString())).toEqual({ type: 'burstgate.job-state-changed' });
  });

  it('refuses a name that resolves to a refused address by delivery time (DNS rebinding), sending nothing', async () => {
    // Prepare
    server = await startServer((_req, res) => sendJson(res, 204, {}));
    const rebinding: Resolver = async () => [{ address: '169.254.169.254', family: 4 }];
    // Act
    const attempt = deliver(rebinding, `http://localhost:${server.port}/burst`, { type: 'x' });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(EgressRefusedError);
    expect(server.requests).toEqual([]);
  });

  it('does not follow a redirect: one request, the 307 is the answer', async () => {
    // Prepare
    server = await startServer((_req, res) => {
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    });
    // Act
    const answer = await deliver(undefined, `${server.url}/burst`, { type: 'x' });
    // Assess
    expect(server.requests).toHaveLength(1);
    expect(answer.status).toBe(307);
  });

  it("hands back the receiver's Retry-After", async () => {
    // Prepare
    server = await startServer((_req, res) => {
      res.writeHead(503, { 'retry-after': '120' });
      res.end();
    });
    // Act
    const answer = await deliver(undefined, `${server.url}/burst`, { type: 'x' });
    // Assess
    expect(answer).toEqual({ status: 503, retryAfter: '120' });
  });

  it('cuts off a receiver that does not answer in time', async () => {
    // Prepare: a receiver that never answers
    server = await startServer(() => undefined);
    // Act
    const attempt = deliver(undefined, `${server.url}/burst`, { type: 'x' }, 200);
    // Assess
    await expect(attempt).rejects.toThrow('no answer within 0.2 s');
  });
});

describe('redactUrl', () => {
  it('drops user info and query', () => {
    // Act / Assess
    expect(redactUrl('https://u:p@hooks.example/x?token=secret#f')).toBe('https://hooks.example/x');
  });
});
