/**
 * A job's callback URL through the webhook outbox, on the embedded deployment with receivers on
 * 127.0.0.1: every delivery verifies with `standardwebhooks` and the secret POST /offloads
 * answered; a receiver that fails twice gets the event on the third attempt and the job's delivery
 * log shows all three; a receiver that holds every request delays no API answer and no state
 * change; a 410 Gone stops the job's deliveries. (The embedded Wait states take 5 ms, not 5 s.)
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Webhook } from 'standardwebhooks';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { uploadImage } from '../../shared/client/upload';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { AWS_TARGET, callApi, startTestGateway, type TestGateway } from '../helpers/embedded';
import { startServer, type Handler, type TestServer } from '../helpers/http-server';

let gw: TestGateway;
let client: GatewayClient;
let receiver: TestServer | undefined;

beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});
afterAll(async () => {
  await gw?.close();
});

type Delivery = {
  deliveryId: string;
  state: string;
  eventType: string;
  attempts: Array<{ status?: number }>;
};

/** An offload of the sample VM with a callback to `handler`, uploaded; its id and secret. */
async function offloadWithCallback(handler: Handler): Promise<{ jobId: string; secret: string }> {
  receiver = await startServer(handler);
  const created = await callApi(gw, 'POST', '/offloads', {
    vmName: `hooked-${randomUUID().slice(0, 8)}`,
    imageFormat: 'ova',
    imageSizeBytes: (await stat(SAMPLE_OVA)).size,
    target: AWS_TARGET,
    callbackUrl: `${receiver.url}/hooks`,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  await client.completeUpload(created.body.jobId, await uploadImage(SAMPLE_OVA, created.body.upload));
  return { jobId: created.body.jobId as string, secret: created.body.callbackSecret as string };
}

const settle = (jobId: string) =>
  followJob(client, jobId, { until: (j) => ['running', 'failed'].includes(j.state), intervalMs: 10 });

async function deliveries(jobId: string): Promise<Delivery[]> {
  return (await callApi(gw, 'GET', `/offloads/${jobId}/deliveries`)).body.items as Delivery[];
}

/** Polls the job's delivery log until `done` holds. */
async function untilDeliveries(jobId: string, done: (ds: Delivery[]) => boolean): Promise<Delivery[]> {
  for (let i = 0; i < 1000; i++) {
    const ds = await deliveries(jobId);
    if (done(ds)) return ds;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the deliveries of ${jobId} did not get there: ${JSON.stringify(await deliveries(jobId))}`);
}

const settled = (ds: Delivery[]) => ds.length > 0 && ds.every((d) => d.state !== 'pending');

describe('webhook deliveries of a job', () => {
  it('signs every delivery so that standardwebhooks verifies it with the callbackSecret', async () => {
    // Prepare / Act
    const { jobId, secret } = await offloadWithCallback((_req, res) => void res.writeHead(204).end());
    const job = await settle(jobId);
    const log = await untilDeliveries(jobId, (ds) => settled(ds) && ds.length >= 5);
    // Assess
    expect(job.state, job.error?.detail).toBe('running');
    expect(secret).toMatch(/^whsec_/);
    expect(JSON.stringify(job)).not.toContain(secret); // views never hold it
    const verifier = new Webhook(secret);
    const got = receiver!.requests.map((r) =>
      verifier.verify(r.body.toString(), r.headers as Record<string, string>),
    );
    const states = got.map((p) => (p as { data: { to: string } }).data.to);
    expect(new Set(states)).toEqual(
      new Set(['awaiting-upload', 'inspecting', 'importing', 'launching', 'running']),
    );
    expect(new Set(receiver!.requests.map((r) => r.headers['webhook-id']))).toEqual(
      new Set(log.map((d) => d.deliveryId)),
    );
    expect(log.every((d) => d.state === 'delivered' && d.eventType === 'burstgate.job-state-changed')).toBe(
      true,
    );
  });

  it('delivers to a receiver that fails twice on the third attempt, and the log shows all three', async () => {
    // Prepare: the first two requests of each delivery fail
    const seen = new Map<string, number>();
    const { jobId, secret } = await offloadWithCallback((req, res) => {
      const id = String(req.headers['webhook-id']);
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      res.writeHead(n <= 2 ? 503 : 200).end();
    });
    // Act
    await settle(jobId);
    const log = await untilDeliveries(jobId, (ds) => settled(ds) && ds.length >= 5);
    // Assess
    for (const d of log) {
      expect(d.state).toBe('delivered');
      expect(d.attempts.map((a) => a.status)).toEqual([503, 503, 200]);
    }
    const verifier = new Webhook(secret);
    for (const r of receiver!.requests)
      expect(verifier.verify(r.body.toString(), r.headers as Record<string, string>)).toBeTruthy();
  });

  it('lets a receiver that holds every request delay no API answer and no state change', async () => {
    // Prepare: the receiver answers nothing until released
    const held: Array<() => void> = [];
    const { jobId } = await offloadWithCallback(
      (_req, res) => void held.push(() => res.writeHead(204).end()),
    );
    // Act: the job runs while every delivery so far waits on the receiver
    const job = await settle(jobId);
    const answered = await callApi(gw, 'GET', `/offloads/${jobId}`);
    const pending = (await deliveries(jobId)).filter((d) => d.state === 'pending').length;
    const heldWhileRunning = held.length;
    for (const release of held.splice(0)) release();
    // Assess
    expect(job.state).toBe('running');
    expect(answered.status).toBe(200);
    expect(heldWhileRunning).toBeGreaterThan(0);
    expect(pending).toBeGreaterThan(0);
  });

  it('stops sending to a receiver that answers 410 Gone', async () => {
    // Prepare
    const { jobId } = await offloadWithCallback((_req, res) => void res.writeHead(410).end());
    await settle(jobId);
    const first = await untilDeliveries(jobId, (ds) => ds.some((d) => d.state === 'gone') && settled(ds));
    // Act: more events (the return)
    await client.startReturn(jobId);
    await followJob(client, jobId, {
      until: (j) => ['returned', 'return-failed'].includes(j.state),
      intervalMs: 10,
    });
    const after = await untilDeliveries(jobId, settled);
    // Assess
    expect(first.every((d) => d.attempts.length === 1 && d.attempts[0]!.status === 410)).toBe(true);
    expect(after).toHaveLength(first.length); // nothing new was queued for it
  });

  it('answers another tenant 404 for the delivery log, as for a missing job', async () => {
    // Prepare
    const missing = await callApi(gw, 'GET', '/offloads/job-00000000000000000000000000/deliveries');
    // Assess
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('https://burstgate.dev/problems/job-not-found');
  });
});
