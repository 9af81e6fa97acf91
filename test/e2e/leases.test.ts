/**
 * Leases and held launches through the HTTP API, on the embedded deployment with its clock moved
 * forward: EventBridge Scheduler (local) fires the gateway's timers, the timer workflow warns,
 * starts the return or releases the launch, and nothing is left behind in the simulators.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelOverHttp } from '../helpers/cancel';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import type { CreateOffloadRequest, JobView } from '../../shared/client/types';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { LocalClock } from '../../infra/local/clock';
import {
  AWS_TARGET,
  callApi,
  liveSimResources,
  offloadSample,
  startTestGateway,
  type TestGateway,
} from '../helpers/embedded';

const MIN = 60_000;
const HOUR = 60 * MIN;
let gw: TestGateway;
let client: GatewayClient;

beforeAll(async () => {
  gw = await startTestGateway({ clock: new LocalClock({ start: new Date('2027-10-20T08:00:00Z') }) });
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
});
afterAll(async () => {
  await gw?.close();
});

const inFuture = (ms: number) => new Date(gw.clock.now().getTime() + ms).toISOString();

/** What the tests read of an answer: a problem+json body, or a job view. */
interface Problem {
  type?: string;
  detail?: string;
  errors: Array<{ path: string; message: string }>;
  returnPlan?: unknown;
}

const call = (method: string, path: string, body?: unknown) => callApi<Problem>(gw, method, path, body);

/** The sample VM offloaded to simulated AWS with `extra` (lease, launch), uploaded. */
async function offload(
  vmName: string,
  extra: Pick<CreateOffloadRequest, 'lease' | 'launch'>,
): Promise<string> {
  const { created } = await offloadSample(gw, vmName, SAMPLE_OVA, AWS_TARGET, 'ova', extra);
  return created.jobId;
}

const until = (jobId: string, done: (j: JobView) => boolean) =>
  followJob(client, jobId, { until: done, intervalMs: 10 });

/** Moves the deployment's clock and lets the Scheduler fire what came due. */
async function advance(ms: number): Promise<void> {
  gw.clock.advance(ms);
  await gw.scheduler.idle();
}

const timersOf = (jobId: string) => gw.scheduler.schedules().filter((s) => s.name.startsWith(jobId));
const eventsOf = (jobId: string, detailType: string) =>
  gw.events
    .list({ detailType })
    .map((e) => JSON.parse(String(e.Detail)) as Record<string, unknown>)
    .filter((d) => d.jobId === jobId);

describe('a lease', () => {
  it('warns an hour ahead, then brings the VM home when it ends, leaving nothing behind', async () => {
    // Prepare
    const expiresAt = inFuture(3 * HOUR);
    const jobId = await offload('lease-ends', { lease: { expiresAt } });
    const running = await until(jobId, (j) => j.state === 'running');
    expect(running.lease).toEqual({ expiresAt, onExpiry: 'return', source: 'request' });
    expect(running.returnPlan).toEqual({ startAt: expiresAt, reason: 'lease-expires', action: 'return' });
    expect(
      timersOf(jobId)
        .map((s) => s.name)
        .sort(),
    ).toEqual([`${jobId}.lease-due`, `${jobId}.lease-expiring`]);

    // Act: to the warning, then to the end of the lease
    await advance(2 * HOUR + 1000);
    const warned = await until(jobId, () => eventsOf(jobId, 'Lease Expiring').length > 0);
    await advance(HOUR);
    const home = await until(jobId, (j) => j.state === 'returned');

    // Assess
    expect(warned.state).toBe('running');
    expect(eventsOf(jobId, 'Lease Expiring')).toEqual([
      expect.objectContaining({ secondsLeft: expect.any(Number), returnPlan: running.returnPlan }),
    ]);
    expect(eventsOf(jobId, 'Return Started By Lease')).toEqual([
      expect.objectContaining({ reason: 'lease-expires', state: 'returning' }),
    ]);
    expect(home).toMatchObject({ returnStartedBy: 'lease' });
    expect(Date.parse(home.returnStartedAt!)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    expect(home.download?.matchesOriginal).toBe(true);
    expect(timersOf(jobId)).toEqual([]);
    expect(await liveSimResources(gw)).toEqual([]);
  });

  it('is extended by PATCH: the planned return moves, the old end passes without a return', async () => {
    // Prepare
    const jobId = await offload('lease-extended', { lease: { expiresAt: inFuture(2 * HOUR) } });
    await until(jobId, (j) => j.state === 'running');
    const later = inFuture(5 * HOUR);

    // Act
    const patched = await call('PATCH', `/offloads/${jobId}`, { lease: { expiresAt: later } });
    const again = await call('PATCH', `/offloads/${jobId}`, { lease: { expiresAt: later } });
    await advance(3 * HOUR);
    const afterOldEnd = await client.getOffload(jobId);
    await advance(2 * HOUR + 1000);
    const home = await until(jobId, (j) => j.state === 'returned');

    // Assess
    expect(patched.status).toBe(200);
    expect(patched.body.returnPlan).toEqual({ startAt: later, reason: 'lease-expires', action: 'return' });
    expect(again.body.returnPlan).toEqual(patched.body.returnPlan);
    expect(afterOldEnd.state).toBe('running');
    expect(home.returnStartedBy).toBe('lease');
    expect(Date.parse(home.returnStartedAt!)).toBeGreaterThanOrEqual(Date.parse(later));
    expect(timersOf(jobId)).toEqual([]);
  });

  it('with a returnBy starts the return early by the estimate and records the deadline as met', async () => {
    // Prepare: the sample VM's first return is estimated from the model (a few minutes + margin)
    const returnBy = inFuture(6 * HOUR);
    const jobId = await offload('deadline', { lease: { expiresAt: inFuture(24 * HOUR), returnBy } });
    const running = await until(jobId, (j) => j.state === 'running' && !!j.returnPlan?.estimateSeconds);
    const plan = running.returnPlan!;

    // Act
    await advance(Date.parse(plan.startAt) - gw.clock.now().getTime() + 1000);
    const home = await until(jobId, (j) => j.state === 'returned');
    // the event goes out right after the job is saved as returned
    await until(jobId, () => eventsOf(jobId, 'Deadline Met').length > 0);

    // Assess
    expect(plan.reason).toBe('return-by');
    expect(Date.parse(returnBy) - Date.parse(plan.startAt)).toBe(plan.estimateSeconds! * 1000);
    expect(plan.basis).toMatch(/^first return of deadline \(aws-import\)/);
    expect(home.deadline).toMatchObject({ returnBy, met: true });
    expect(home.deadline!.marginSeconds).toBeGreaterThan(0);
    expect(eventsOf(jobId, 'Deadline Met')).toHaveLength(1);
  });

  it('refuses a bad lease with 400 naming the member, and a PATCH of a returned job with 409', async () => {
    // Prepare
    const returned = (await client.listOffloads('returned'))[0]!;

    // Act
    const tooSoon = await call('POST', '/offloads', {
      vmName: 'bad-lease',
      imageFormat: 'ova',
      imageSizeBytes: 1024,
      target: AWS_TARGET,
      lease: { expiresAt: inFuture(MIN) },
    });
    const noZone = await call('PATCH', `/offloads/${returned.jobId}`, {
      lease: { expiresAt: '2027-10-22T18:00' },
    });
    const tooLate = await call('PATCH', `/offloads/${returned.jobId}`, {
      lease: { expiresAt: inFuture(HOUR) },
    });

    // Assess
    expect(tooSoon.status).toBe(400);
    expect(tooSoon.body.errors).toEqual([
      { path: 'lease.expiresAt', message: expect.stringMatching(/between now/) },
    ]);
    expect(noZone.status).toBe(400);
    expect(noZone.body.errors[0]?.path).toBe('lease.expiresAt');
    expect(tooLate.status).toBe(409);
    expect(tooLate.body.type).toMatch(/invalid-job-state$/);
  });
});

describe('a held or timed launch', () => {
  it('waits staged until POST …/launch, then runs with a default lease from the launch', async () => {
    // Prepare
    const jobId = await offload('held', { launch: 'hold' });
    const staged = await until(jobId, (j) => j.state === 'staged');
    await advance(24 * HOUR);
    const stillStaged = await client.getOffload(jobId);
    const launchedAt = gw.clock.now().getTime();

    // Act
    const launched = await call('POST', `/offloads/${jobId}/launch`);
    const running = await until(jobId, (j) => j.state === 'running');

    // Assess
    expect(staged.links.launch).toBe(`/offloads/${jobId}/launch`);
    expect(stillStaged.state).toBe('staged');
    expect(launched.status).toBe(202);
    expect(running.launch).toMatchObject({ mode: 'hold', releasedBy: 'api' });
    expect(running.lease?.source).toBe('default');
    const leaseMs = Date.parse(running.lease!.expiresAt) - launchedAt;
    expect(leaseMs).toBeGreaterThanOrEqual(7 * 24 * HOUR);
    expect(leaseMs).toBeLessThan(7 * 24 * HOUR + 10 * MIN);
    expect(running.steps.map((s) => s.name)).toContain('await-launch');
    await cancelOverHttp(client, jobId);
  });

  it('launches at launch.at by its timer', async () => {
    // Prepare
    const at = inFuture(2 * HOUR);
    const jobId = await offload('timed', { launch: { at } });
    await until(jobId, (j) => j.state === 'staged');

    // Act
    await advance(2 * HOUR + 1000);
    const running = await until(jobId, (j) => j.state === 'running');

    // Assess
    expect(running.launch).toMatchObject({ mode: 'at', at, releasedBy: 'timer' });
    expect(Date.parse(running.launch!.releasedAt!)).toBeGreaterThanOrEqual(Date.parse(at));
    await cancelOverHttp(client, jobId);
    expect(timersOf(jobId)).toEqual([]);
  });

  it('refuses POST …/launch for a job that launches on its own (409)', async () => {
    // Prepare
    const jobId = await offload('not-held', {});

    // Act
    const answer = await call('POST', `/offloads/${jobId}/launch`);

    // Assess
    expect(answer.status).toBe(409);
    expect(answer.body.detail).toMatch(/launches on its own/);
    await until(jobId, (j) => j.state === 'running');
    await cancelOverHttp(client, jobId);
  });
});
