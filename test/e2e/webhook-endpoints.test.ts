/**
 * A tenant's webhook endpoints through the HTTP API on the embedded deployment, with receivers on
 * 127.0.0.1: every event of the tenant's jobs reaches the endpoint signed with its secret (checked
 * with `standardwebhooks`); a rotation keeps the old secret signing beside the new one; a replay
 * sends the same webhook-id again; a 410 turns the endpoint off; URLs aimed at the metadata
 * service are refused when created; another tenant sees none of it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { issueApiKey } from '../../shared/domain/api-keys';
import { ApiKeyStore } from '../../shared/store/api-key-store';
import { callApi, offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';
import { startServer, type Handler, type TestServer } from '../helpers/http-server';

let gw: TestGateway;
let receiver: TestServer | undefined;
const keys = { a: '', b: '', readOnly: '' };

beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  const store = new ApiKeyStore(gw.deps.ddb, gw.deps.config.jobsTable);
  const key = async (tenant: string, scopes: string[]) =>
    (await issueApiKey(store, { tenant, scopes, label: 'hooks' }, gw.clock.now())).key;
  keys.a = await key('hooks-a', ['read', 'offload', 'return', 'webhook']);
  keys.b = await key('hooks-b', ['read', 'offload', 'webhook']);
  keys.readOnly = await key('hooks-a', ['read']);
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});
afterAll(async () => {
  await gw?.close();
});

const as = (apiKey: string, method: string, path: string, body?: unknown) =>
  callApi(gw, method, path, body, { apiKey });

type Log = Array<{ deliveryId: string; state: string; attempts: Array<{ status?: number }> }>;

async function untilLog(apiKey: string, id: string, done: (log: Log) => boolean): Promise<Log> {
  for (let i = 0; i < 1000; i++) {
    const log = (await as(apiKey, 'GET', `/webhooks/${id}/deliveries`)).body.items as Log;
    if (done(log)) return log;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`webhook ${id}'s deliveries did not get there`);
}

/** A receiver, an endpoint of tenant A for it, and a job of A run to `running`. */
async function endpointAndJob(handler: Handler, events: string[] = ['*']) {
  receiver = await startServer(handler);
  const made = await as(keys.a, 'POST', '/webhooks', { url: `${receiver.url}/in`, events });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  const { created } = await offloadSample(gw, 'hooked-vm', undefined, undefined, 'ova', {}, keys.a);
  const client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: keys.a });
  await followJob(client, created.jobId, {
    until: (j) => ['running', 'failed'].includes(j.state),
    intervalMs: 10,
  });
  return { id: made.body.webhookId as string, secret: made.body.secret as string, jobId: created.jobId };
}

const done = (n: number) => (log: Log) => log.length >= n && log.every((d) => d.state !== 'pending');

describe('webhook endpoints', () => {
  it("signs every event of the tenant's jobs with the endpoint's secret, and never shows the secret again", async () => {
    // Act
    const { id, secret, jobId } = await endpointAndJob((_q, res) => void res.writeHead(204).end());
    const log = await untilLog(keys.a, id, done(5));
    const listed = await as(keys.a, 'GET', '/webhooks');
    const jobLog = (await as(keys.a, 'GET', `/offloads/${jobId}/deliveries`)).body.items as Log;
    // Assess: the job's own log lists the endpoint's deliveries about it, naming the endpoint
    expect(jobLog.map((d) => [d.deliveryId, d.state])).toEqual(log.map((d) => [d.deliveryId, d.state]));
    expect(jobLog.every((d) => (d as { webhookId?: string }).webhookId === id)).toBe(true);
    const hook = new Webhook(secret);
    const events = receiver!.requests.map(
      (r) =>
        hook.verify(r.body.toString(), r.headers as Record<string, string>) as { data: { jobId: string } },
    );
    expect(events.every((e) => e.data.jobId === jobId)).toBe(true);
    expect(log.every((d) => d.state === 'delivered')).toBe(true);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ webhookId: id, state: 'enabled', events: ['*'] }),
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    await as(keys.a, 'DELETE', `/webhooks/${id}`);
  });

  it('keeps the old secret signing beside the new one after a rotation, so a receiver with either verifies', async () => {
    // Prepare
    const { id, secret: old } = await endpointAndJob((_q, res) => void res.writeHead(204).end());
    await untilLog(keys.a, id, done(5));
    // Act
    const rotated = await as(keys.a, 'POST', `/webhooks/${id}/rotate-secret`, { overlapSeconds: 3600 });
    const before = receiver!.requests.length;
    const { created } = await offloadSample(gw, 'after-rotation', undefined, undefined, 'ova', {}, keys.a);
    await untilLog(keys.a, id, (log) => log.length >= 6 && log.every((d) => d.state !== 'pending'));
    // Assess
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(old);
    expect(rotated.body.secrets).toHaveLength(2);
    const later = receiver!.requests.slice(before);
    expect(later.length).toBeGreaterThan(0);
    for (const r of later) {
      const headers = r.headers as Record<string, string>;
      expect(new Webhook(old).verify(r.body.toString(), headers)).toMatchObject({
        data: { jobId: created.jobId },
      });
      expect(new Webhook(rotated.body.secret as string).verify(r.body.toString(), headers)).toBeTruthy();
    }
    await as(keys.a, 'DELETE', `/webhooks/${id}`);
  });

  it('replays a delivery under the same webhook-id, and turns an endpoint off on 410 Gone', async () => {
    // Prepare: deliveries succeed until the receiver is told to answer 410
    let gone = false;
    const { id } = await endpointAndJob((_q, res) => void res.writeHead(gone ? 410 : 204).end());
    const log = await untilLog(keys.a, id, done(5));
    const first = log[log.length - 1]!;
    // Act
    const replayed = await as(keys.a, 'POST', `/webhooks/${id}/deliveries/${first.deliveryId}/replay`, {});
    const again = await untilLog(
      keys.a,
      id,
      (l) => l.find((d) => d.deliveryId === first.deliveryId)!.attempts.length === 2 && done(5)(l),
    );
    gone = true;
    const second = await as(keys.a, 'POST', `/webhooks/${id}/deliveries/${first.deliveryId}/replay`, {});
    await untilLog(keys.a, id, (l) => l.some((d) => d.state === 'gone'));
    const listed = await as(keys.a, 'GET', '/webhooks');
    // Assess
    expect(replayed.status).toBe(202);
    expect(again.find((d) => d.deliveryId === first.deliveryId)!.attempts.map((a) => a.status)).toEqual([
      204, 204,
    ]);
    const ids = receiver!.requests.map((r) => r.headers['webhook-id']);
    expect(ids.filter((x) => x === first.deliveryId)).toHaveLength(3);
    expect(second.status).toBe(202);
    expect(listed.body.items).toEqual([
      expect.objectContaining({
        webhookId: id,
        state: 'disabled',
        disabledReason: expect.stringContaining('410'),
      }),
    ]);
    await as(keys.a, 'DELETE', `/webhooks/${id}`);
  });

  it('refuses URLs aimed at the metadata service when created, creating nothing', async () => {
    // Act
    const answers = await Promise.all(
      [
        'http://169.254.169.254/latest/meta-data/',
        'https://[fd00:ec2::254]/',
        'https://u:p@hooks.example/x',
      ].map((url) => as(keys.a, 'POST', '/webhooks', { url, events: ['*'] })),
    );
    const listed = await as(keys.a, 'GET', '/webhooks');
    // Assess
    for (const a of answers) {
      expect(a.status).toBe(400);
      expect(a.body.errors[0].path).toBe('url');
    }
    expect(listed.body.items).toEqual([]);
  });

  it("answers another tenant 404 on every route of A's endpoint, and a key without the scope 403", async () => {
    // Prepare
    receiver = await startServer((_q, res) => void res.writeHead(204).end());
    const made = await as(keys.a, 'POST', '/webhooks', {
      url: `${receiver.url}/in`,
      events: ['burstgate.lease-expiring'],
    });
    const id = made.body.webhookId as string;
    // Act
    const theirs = [
      await as(keys.b, 'DELETE', `/webhooks/${id}`),
      await as(keys.b, 'POST', `/webhooks/${id}/rotate-secret`, {}),
      await as(keys.b, 'GET', `/webhooks/${id}/deliveries`),
      await as(keys.b, 'POST', `/webhooks/${id}/deliveries/msg_00000000000000000000000000/replay`, {}),
    ];
    const listB = await as(keys.b, 'GET', '/webhooks');
    const noScope = await as(keys.readOnly, 'POST', '/webhooks', { url: `${receiver.url}/x`, events: ['*'] });
    // Assess
    for (const t of theirs) {
      expect(t.status).toBe(404);
      expect(t.body.type).toBe('https://burstgate.dev/problems/webhook-not-found');
    }
    expect(listB.body.items).toEqual([]);
    expect(noScope.status).toBe(403);
    expect(noScope.body.detail).toContain("the scope 'webhook'");
    expect((await as(keys.a, 'GET', '/webhooks')).body.items).toHaveLength(1);
  });
});
