/**
 * Callback delivery (shared/domain/callbacks.ts) to a receiver on 127.0.0.1: it goes to the address
 * the check resolved (no second lookup), a name that resolves elsewhere by the time of delivery is
 * refused, and a redirect is not followed. Resolvers are injected: no DNS query leaves.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { notifyCallback, pinnedLookup } from '../../../shared/domain/callbacks';
import { redactUrl } from '../../../shared/domain/egress';
import type { EgressPolicy, Resolver } from '../../../shared/domain/egress';
import { sendJson, startServer, type TestServer } from '../../helpers/http-server';

const LOCAL: EgressPolicy = { allowCidrs: ['127.0.0.0/8'], allowHosts: [], httpToLoopback: true };
const logger = new Logger({ logLevel: 'SILENT' });

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

describe('notifyCallback', () => {
  it('POSTs the event to the address the check resolved, with the URL host as Host', async () => {
    // Prepare
    server = await startServer((_req, res) => sendJson(res, 204, {}));
    const lookups: string[] = [];
    const resolve: Resolver = async (host) => {
      lookups.push(host);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    // Act
    await notifyCallback(
      { policy: LOCAL, resolve },
      logger,
      `http://localhost:${server.port}/burst?token=t`,
      { type: 'burstgate.job-state-changed', jobId: 'job-1' },
      { jobId: 'job-1' },
    );
    // Assess
    expect(lookups).toEqual(['localhost']);
    expect(server.requests).toHaveLength(1);
    const got = server.requests[0]!;
    expect([got.method, got.url, got.headers.host]).toEqual([
      'POST',
      '/burst?token=t',
      `localhost:${server.port}`,
    ]);
    expect(JSON.parse(got.body.toString())).toEqual({ type: 'burstgate.job-state-changed', jobId: 'job-1' });
  });

  it('refuses a name that resolves to a refused address by delivery time (DNS rebinding), sending nothing', async () => {
    // Prepare
    server = await startServer((_req, res) => sendJson(res, 204, {}));
    const warn = vi.spyOn(logger, 'warn');
    const rebinding: Resolver = async () => [{ address: '169.254.169.254', family: 4 }];
    // Act
    await notifyCallback(
      { policy: LOCAL, resolve: rebinding },
      logger,
      `http://localhost:${server.port}/burst`,
      { type: 'burstgate.job-state-changed' },
      { jobId: 'job-1' },
    );
    // Assess
    expect(server.requests).toEqual([]);
    expect(warn).toHaveBeenCalledWith(
      'refused to deliver the callback',
      expect.objectContaining({ jobId: 'job-1', url: `http://localhost:${server.port}/burst` }),
    );
  });

  it('does not follow a redirect: one request, logged as an error answer', async () => {
    // Prepare
    server = await startServer((_req, res) => {
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    });
    const warn = vi.spyOn(logger, 'warn');
    // Act
    await notifyCallback(
      { policy: LOCAL, resolve: undefined },
      logger,
      `${server.url}/burst`,
      { type: 'burstgate.job-state-changed' },
      { jobId: 'job-1' },
    );
    // Assess
    expect(server.requests).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(
      'the callback answered with an error',
      expect.objectContaining({ status: 307 }),
    );
  });
});

describe('redactUrl', () => {
  it('drops user info and query', () => {
    // Act / Assess
    expect(redactUrl('https://u:p@hooks.example/x?token=secret#f')).toBe('https://hooks.example/x');
  });
});
