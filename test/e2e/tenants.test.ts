/**
 * Two tenants on one embedded gateway, through the HTTP API: key B gets 404 — the very answer a
 * missing job gets — on every route of A's job, A's schedule and A's image cache entry, and never
 * sees A's jobs in its list; the same Idempotency-Key and the same schedule name are two things in
 * two tenants; a key without `cancel` gets 403 naming the scope; `admin` reads across tenants but
 * changes nothing there; and B's direct offload of a VM named like A's never reuses A's snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followJob } from '../../shared/client/follow';
import { GatewayClient } from '../../shared/client/api-client';
import type { JobView } from '../../shared/client/types';
import { issueApiKey } from '../../shared/domain/api-keys';
import { ApiKeyStore } from '../../shared/store/api-key-store';
import { AWS_TARGET, callApi, offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';

const DIRECT = { ...AWS_TARGET, mode: 'direct' as const };
const VM = 'shared-name-vm';
const SETTLED = ['running', 'failed', 'cancelled'];
const ALL = ['read', 'offload', 'return', 'cancel', 'schedule'];

let gw: TestGateway;
const keys: Record<'a' | 'b' | 'aReadOnly' | 'admin', string> = { a: '', b: '', aReadOnly: '', admin: '' };
let jobA: JobView;

async function keyFor(tenant: string, scopes: string[]): Promise<string> {
  const store = new ApiKeyStore(gw.deps.ddb, gw.deps.config.jobsTable);
  return (await issueApiKey(store, { tenant, scopes, label: `e2e-${tenant}` }, gw.clock.now())).key;
}

const as = (apiKey: string, method: string, path: string, body?: unknown, idempotencyKey?: string) =>
  callApi(gw, method, path, body, { apiKey, ...(idempotencyKey ? { idempotencyKey } : {}) });

const settle = (apiKey: string, jobId: string) =>
  followJob(new GatewayClient({ baseUrl: gw.apiUrl, apiKey }), jobId, {
    until: (j) => SETTLED.includes(j.state),
    intervalMs: 20,
  });

beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  keys.a = await keyFor('team-a', ALL);
  keys.b = await keyFor('team-b', ALL);
  keys.aReadOnly = await keyFor('team-a', ['read', 'offload']);
  keys.admin = await keyFor('ops', ['admin']);
  const { created } = await offloadSample(gw, VM, undefined, DIRECT, 'ova', {}, keys.a);
  jobA = await settle(keys.a, created.jobId);
});
afterAll(async () => {
  await gw?.close();
});

describe('two tenants', () => {
  it("answers B with 404 job-not-found on every route of A's job, as for a job that does not exist", async () => {
    // Prepare
    expect(jobA.state, jobA.error?.detail).toBe('running');
    expect(jobA.tenant).toBe('team-a');
    const id = jobA.jobId;
    const missing = 'job-00000000000000000000000000';
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/offloads/{id}'],
      ['PATCH', '/offloads/{id}', { lease: { onExpiry: 'cancel' } }],
      ['DELETE', '/offloads/{id}'],
      ['POST', '/offloads/{id}/upload-complete', { parts: [{ partNumber: 1, etag: '"x"' }] }],
      ['POST', '/offloads/{id}/return', {}],
      ['POST', '/offloads/{id}/launch', {}],
      ['GET', '/offloads/{id}/deliveries'],
    ];
    // Act
    const answers = [];
    for (const [method, path, body] of routes) {
      const theirs = await as(keys.b, method, path.replace('{id}', id), body);
      const none = await as(keys.b, method, path.replace('{id}', missing), body);
      answers.push({ method, path, theirs, none });
    }
    const after = await as(keys.a, 'GET', `/offloads/${id}`);
    // Assess
    for (const { method, path, theirs, none } of answers) {
      expect([method, path, theirs.status], JSON.stringify(theirs.body)).toEqual([method, path, 404]);
      expect(theirs.body.type).toBe('https://burstgate.dev/problems/job-not-found');
      // the same words as for a missing job, but for the id itself
      expect(String(theirs.body.detail).replace(id, 'ID')).toBe(
        String(none.body.detail).replace(missing, 'ID'),
      );
    }
    expect(after.body.state).toBe('running'); // B changed nothing: no return, no cancel, no lease change
    expect(after.body.lease.onExpiry).toBe(jobA.lease!.onExpiry);
  });

  it("never lists A's jobs to B, and pages B's own with a cursor", async () => {
    // Prepare
    for (let i = 0; i < 3; i++) {
      const made = await as(keys.b, 'POST', '/offloads', {
        vmName: `b-${i}`,
        imageFormat: 'ova',
        imageSizeBytes: 1024,
        target: AWS_TARGET,
      });
      expect(made.status).toBe(202);
    }
    // Act
    const first = await as(keys.b, 'GET', '/offloads?limit=2');
    const second = await as(keys.b, 'GET', `/offloads?limit=2&cursor=${first.body.nextCursor}`);
    const listA = await as(keys.a, 'GET', '/offloads');
    const forged = await as(keys.a, 'GET', `/offloads?cursor=${first.body.nextCursor}`);
    // Assess
    const ids = [...first.body.items, ...second.body.items].map((j: JobView) => j.jobId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(3);
    expect(ids).not.toContain(jobA.jobId);
    expect([...first.body.items, ...second.body.items].every((j: JobView) => j.tenant === 'team-b')).toBe(
      true,
    );
    expect(listA.body.items.map((j: JobView) => j.jobId)).toEqual([jobA.jobId]);
    expect(forged.status).toBe(400); // B's cursor is not a page of A's listing
    expect(forged.body.errors).toEqual([{ path: 'query.cursor', message: 'it belongs to another listing' }]);
  });

  it('keeps Idempotency-Keys per tenant: the same key makes two jobs in two tenants', async () => {
    // Prepare
    const body = { vmName: 'idem-vm', imageFormat: 'ova', imageSizeBytes: 1024, target: AWS_TARGET };
    // Act
    const a = await as(keys.a, 'POST', '/offloads', body, 'same-key-for-both');
    const b = await as(keys.b, 'POST', '/offloads', body, 'same-key-for-both');
    const aAgain = await as(keys.a, 'POST', '/offloads', body, 'same-key-for-both');
    // Assess
    expect([a.status, b.status, aAgain.status]).toEqual([202, 202, 202]);
    expect(b.body.jobId).not.toBe(a.body.jobId);
    expect(aAgain.body.jobId).toBe(a.body.jobId);
    expect((await as(keys.b, 'GET', `/offloads/${a.body.jobId}`)).status).toBe(404);
  });

  it("hides A's image cache entry from B, and B's offload of a VM with the same name uploads its own", async () => {
    // Act
    const mine = await as(keys.a, 'GET', `/image-cache/${AWS_TARGET.region}/${VM}`);
    const theirs = await as(keys.b, 'GET', `/image-cache/${AWS_TARGET.region}/${VM}`);
    const { created } = await offloadSample(gw, VM, undefined, DIRECT, 'ova', {}, keys.b);
    const jobB = await settle(keys.b, created.jobId);
    const again = await offloadSample(gw, VM, undefined, DIRECT, 'ova', {}, keys.a);
    const jobA2 = await settle(keys.a, again.created.jobId);
    // Assess
    expect(mine.status).toBe(200);
    expect(mine.body.jobId).toBe(jobA.jobId);
    expect(theirs.status).toBe(404);
    expect(theirs.body.type).toBe('https://burstgate.dev/problems/image-cache-entry-not-found');
    expect(jobB.state, jobB.error?.detail).toBe('running');
    expect(jobB.cloud.imageCache?.outcome).toBe('full'); // the same disk, but not B's to reuse
    expect(jobB.cloud.baseSnapshotId).not.toBe(jobA.cloud.baseSnapshotId);
    expect(jobA2.cloud.imageCache).toMatchObject({ outcome: 'reused', fromJobId: jobA.jobId });
  });

  it("keeps schedules per tenant: B cannot see or change A's, and may use the same name", async () => {
    // Prepare
    const schedule = {
      name: 'nightly',
      vms: [{ vmName: 'batch', target: AWS_TARGET, source: 'upload' }],
      window: { cron: 'cron(0 22 * * ? *)', timeZone: 'Europe/Berlin' },
      duration: 'PT4H',
    };
    const made = await as(keys.a, 'POST', '/schedules', schedule);
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const id = made.body.scheduleId as string;
    // Act
    const byName = await as(keys.b, 'GET', '/schedules/nightly');
    const byId = await as(keys.b, 'GET', `/schedules/${id}`);
    const patch = await as(keys.b, 'PATCH', `/schedules/${id}`, { state: 'paused' });
    const prestage = await as(keys.b, 'POST', `/schedules/${id}/prestage`, {
      vmName: 'batch',
      imageFormat: 'ova',
      imageSizeBytes: 1024,
    });
    const del = await as(keys.b, 'DELETE', `/schedules/${id}`);
    const listB = await as(keys.b, 'GET', '/schedules');
    const ownB = await as(keys.b, 'POST', '/schedules', schedule);
    const stillA = await as(keys.a, 'GET', '/schedules/nightly');
    // Assess
    for (const answer of [byName, byId, patch, prestage, del]) {
      expect(answer.status, JSON.stringify(answer.body)).toBe(404);
      expect(answer.body.type).toBe('https://burstgate.dev/problems/schedule-not-found');
    }
    expect(listB.body.items).toEqual([]);
    expect(ownB.status, JSON.stringify(ownB.body)).toBe(201); // its own "nightly", no overlap with A's VM
    expect(ownB.body.scheduleId).not.toBe(id);
    expect([stillA.status, stillA.body.scheduleId, stillA.body.state]).toEqual([200, id, 'active']);
  });

  it('answers a key without the scope 403 scope-missing naming it, before anything changes', async () => {
    // Act
    const cancel = await as(keys.aReadOnly, 'DELETE', `/offloads/${jobA.jobId}`);
    const ret = await as(keys.aReadOnly, 'POST', `/offloads/${jobA.jobId}/return`, {});
    const schedule = await as(keys.aReadOnly, 'POST', '/schedules', {});
    const read = await as(keys.aReadOnly, 'GET', `/offloads/${jobA.jobId}`);
    // Assess
    expect(cancel.status).toBe(403);
    expect(cancel.body).toMatchObject({
      type: 'https://burstgate.dev/problems/scope-missing',
      status: 403,
      instance: `/offloads/${jobA.jobId}`,
    });
    expect(cancel.body.detail).toContain("the scope 'cancel'");
    expect(ret.body.detail).toContain("the scope 'return'");
    expect(schedule.body.detail).toContain("the scope 'schedule'");
    expect(read.body.state).toBe('running');
  });

  it("lets admin read another tenant's job and list, and change nothing there", async () => {
    // Act
    const read = await as(keys.admin, 'GET', `/offloads/${jobA.jobId}`);
    const list = await as(keys.admin, 'GET', '/offloads?tenant=team-a');
    const cancel = await as(keys.admin, 'DELETE', `/offloads/${jobA.jobId}`);
    const notAdmin = await as(keys.b, 'GET', '/offloads?tenant=team-a');
    const own = await as(keys.admin, 'GET', '/offloads');
    // Assess
    expect(read.status).toBe(200);
    expect(read.body.tenant).toBe('team-a');
    expect(list.body.items.map((j: JobView) => j.jobId)).toContain(jobA.jobId);
    expect(cancel.status).toBe(404); // admin reads across tenants; it does not act there
    expect(notAdmin.status).toBe(403);
    expect(notAdmin.body.type).toBe('https://burstgate.dev/problems/tenant-not-allowed');
    expect(own.body.items).toEqual([]);
    expect((await as(keys.a, 'GET', `/offloads/${jobA.jobId}`)).body.state).toBe('running');
  });
});
