/**
 * Tenant quotas through the HTTP API: over concurrent jobs, declared bytes or launches per hour a
 * POST /offloads gets 429 quota-exceeded with Retry-After and creates nothing (no job, no
 * idempotency record); a replay of a request that made its job is never refused; a tenant's own
 * quota replaces the default; the hour's count falls off with the clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { cancelEnded, followJob } from '../../shared/client/follow';
import type { JobView } from '../../shared/client/types';
import { issueApiKey } from '../../shared/domain/api-keys';
import { ApiKeyStore } from '../../shared/store/api-key-store';
import { AWS_TARGET, callApi, startTestGateway, type TestGateway } from '../helpers/embedded';

const MIB = 1024 * 1024;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    azure: false,
    quotas: {
      defaults: { concurrentJobs: 2, declaredBytes: 10 * MIB, launchesPerHour: 3 },
      tenants: { 'team-big': { concurrentJobs: 4, launchesPerHour: 10 } },
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

async function keyFor(tenant: string): Promise<string> {
  const store = new ApiKeyStore(gw.deps.ddb, gw.deps.config.jobsTable);
  const scopes = ['read', 'offload', 'cancel'];
  return (await issueApiKey(store, { tenant, scopes, label: 'quota-e2e' }, gw.clock.now())).key;
}

const offload = (apiKey: string, sizeBytes = MIB, idempotencyKey: string = randomUUID(), vmName = 'q-vm') =>
  callApi(
    gw,
    'POST',
    '/offloads',
    { vmName, imageFormat: 'ova', imageSizeBytes: sizeBytes, target: AWS_TARGET },
    { apiKey, idempotencyKey },
  );

/** DELETE /offloads/{id} and the wait for its cancel workflow: a cancelling job still counts. */
async function cancel(apiKey: string, jobId: string): Promise<void> {
  const answer = await callApi(gw, 'DELETE', `/offloads/${jobId}`, undefined, { apiKey });
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  const source = {
    getOffload: async (id: string) =>
      (await callApi(gw, 'GET', `/offloads/${id}`, undefined, { apiKey })).body as JobView,
  };
  expect((await followJob(source, jobId, { until: cancelEnded, intervalMs: 25 })).state).toBe('cancelled');
}

const jobsOf = async (apiKey: string) =>
  ((await callApi(gw, 'GET', '/offloads', undefined, { apiKey })).body.items as Array<{ jobId: string }>).map(
    (j) => j.jobId,
  );

describe('tenant quotas', () => {
  it('refuses a job past concurrentJobs with 429 and Retry-After, creating nothing; a replay still answers', async () => {
    // Prepare
    const key = await keyFor('team-conc');
    const first = await offload(key, MIB, 'quota-conc-1');
    await offload(key);
    // Act
    const refused = await offload(key, MIB, 'quota-conc-3');
    const replay = await offload(key, MIB, 'quota-conc-1');
    const jobs = await jobsOf(key);
    await cancel(key, first.body.jobId);
    // the refused request's key was never claimed: a different body under it is a new job, not a 409
    const after = await offload(key, 2 * MIB, 'quota-conc-3', 'other-vm');
    // Assess
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      type: 'https://burstgate.dev/problems/quota-exceeded',
      status: 429,
      detail: expect.stringContaining('concurrentJobs 2'),
    });
    expect(replay.status).toBe(202);
    expect(replay.body.jobId).toBe(first.body.jobId);
    expect(jobs).toHaveLength(2);
    expect(after.status, JSON.stringify(after.body)).toBe(202);
  });

  it('sends Retry-After with the 429', async () => {
    // Prepare
    const key = await keyFor('team-header');
    await offload(key);
    await offload(key);
    // Act
    const res = await fetch(`${gw.apiUrl}/offloads`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({ vmName: 'x', imageFormat: 'ova', imageSizeBytes: MIB, target: AWS_TARGET }),
    });
    // Assess
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('60');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });

  it('refuses a job whose declared size would pass declaredBytes', async () => {
    // Prepare
    const key = await keyFor('team-bytes');
    await offload(key, 6 * MIB);
    // Act
    const refused = await offload(key, 5 * MIB);
    const fits = await offload(key, 4 * MIB);
    // Assess
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toContain('declaredBytes 10485760');
    expect(fits.status).toBe(202);
  });

  it('refuses past launchesPerHour until the oldest of the hour is an hour old, and says when', async () => {
    // Prepare: three jobs made and cancelled (not concurrent any more, but made this hour)
    const key = await keyFor('team-rate');
    for (let i = 0; i < 3; i++) {
      const made = await offload(key);
      await cancel(key, made.body.jobId);
    }
    // Act
    const refused = await offload(key);
    gw.clock.advance(3601 * 1000);
    const later = await offload(key);
    // Assess
    expect(refused.status).toBe(429);
    expect(refused.body.detail).toContain('launchesPerHour 3');
    expect(Number(/next may start in (\d+) s/.exec(refused.body.detail)?.[1])).toBeGreaterThan(3500);
    expect(later.status).toBe(202);
  });

  it("applies a tenant's own quota instead of the default, and counts each tenant apart", async () => {
    // Prepare
    const big = await keyFor('team-big');
    const small = await keyFor('team-small');
    // Act
    const bigAnswers = [];
    for (let i = 0; i < 4; i++) bigAnswers.push((await offload(big, MIB / 4)).status);
    const bigFifth = await offload(big, MIB / 4);
    const smallFirst = await offload(small);
    // Assess
    expect(bigAnswers).toEqual([202, 202, 202, 202]);
    expect(bigFifth.status).toBe(429);
    expect(bigFifth.body.detail).toContain('concurrentJobs 4');
    expect(smallFirst.status).toBe(202);
  });
});
