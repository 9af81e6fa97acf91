/** A job's lease as the CLI shows it (status, lease show) and changes it (lease extend). */
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../../shared/client/api-client';
import { extendedExpiry, leaseLines, planChange } from '../../../shared/client/leases';
import { renderJob } from '../../../shared/client/render';
import { zoneNamed } from '../../../shared/client/times';
import type { JobLease, ReturnPlan } from '../../../shared/client/types';
import { caught } from '../../helpers/client-errors';
import { sendJson, startServer, type TestServer } from '../../helpers/http-server';
import { jobView } from '../../helpers/job-view';

const BERLIN = zoneNamed('Europe/Berlin');
const NOW = new Date('2027-10-20T12:00:00Z');
const LEASE: JobLease = { expiresAt: '2027-10-22T16:00:00.000Z', onExpiry: 'return', source: 'request' };
const EXPIRY_PLAN: ReturnPlan = { startAt: LEASE.expiresAt, reason: 'lease-expires', action: 'return' };

describe('leaseLines', () => {
  it('shows the lease and a plan at its end, in UTC and the zone', () => {
    // Prepare
    const job = { lease: LEASE, returnPlan: EXPIRY_PLAN };
    // Act
    const lines = leaseLines(job, BERLIN, NOW);
    // Assess
    expect(lines).toEqual([
      ['lease', 'expires 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), in 2d 4h; then return'],
      [
        'plan',
        'return starts 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), in 2d 4h: when the lease expires',
      ],
    ]);
  });

  it('shows a return-by, the plan it makes, its estimate and basis', () => {
    // Prepare
    const job = {
      lease: { ...LEASE, returnBy: '2027-10-22T08:00:00.000Z' },
      returnPlan: {
        startAt: '2027-10-22T07:15:00.000Z',
        reason: 'return-by',
        action: 'return',
        estimateSeconds: 2700,
        basis: 'p90 of 3 earlier return(s) of app01 (aws-direct): 1860 s, plus a margin of 840 s',
      } satisfies ReturnPlan,
    };
    // Act
    const lines = leaseLines(job, BERLIN, NOW);
    // Assess
    expect(lines.slice(1)).toEqual([
      ['return by', '2027-10-22 08:00 UTC (10:00 CEST Europe/Berlin), in 1d 20h'],
      [
        'plan',
        'return starts 2027-10-22 07:15 UTC (09:15 CEST Europe/Berlin), in 1d 19h: the estimated return before the return-by',
      ],
      ['estimate', '45m (p90 of 3 earlier return(s) of app01 (aws-direct): 1860 s, plus a margin of 840 s)'],
    ]);
  });

  it("says a default lease is the gateway's, and what a cancel on expiry means", () => {
    // Prepare
    const job = {
      lease: { ...LEASE, onExpiry: 'cancel', source: 'default' } satisfies JobLease,
      returnPlan: { ...EXPIRY_PLAN, action: 'cancel' } satisfies ReturnPlan,
    };
    // Act
    const [lease, plan] = leaseLines(job, BERLIN, NOW);
    // Assess
    expect(lease?.[1]).toBe(
      "expires 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), in 2d 4h; then cancel (removed, nothing comes home) (the gateway's default lease)",
    );
    expect(plan?.[1]).toMatch(/^cancel at 2027-10-22 16:00 UTC/);
  });

  it('shows who started the return, when it came home, and whether the deadline was met', () => {
    // Prepare
    const home = {
      lease: { ...LEASE, returnBy: '2027-10-22T08:00:00.000Z' },
      returnStartedAt: '2027-10-22T07:00:00.000Z',
      returnStartedBy: 'lease' as const,
      returnedAt: '2027-10-22T07:40:00.000Z',
      deadline: {
        returnBy: '2027-10-22T08:00:00.000Z',
        returnedAt: '2027-10-22T07:40:00.000Z',
        met: true,
        marginSeconds: 1200,
      },
    };
    const late = {
      ...home,
      returnStartedBy: 'api' as const,
      deadline: { ...home.deadline, met: false, marginSeconds: -300 },
    };
    // Act
    const met = new Map(leaseLines(home, BERLIN, NOW));
    const missed = new Map(leaseLines(late, BERLIN, NOW));
    // Assess
    expect(met.get('return')).toBe('started 2027-10-22 07:00 UTC (09:00 CEST Europe/Berlin) by the lease');
    expect(met.get('returned')).toBe('2027-10-22 07:40 UTC (09:40 CEST Europe/Berlin)');
    expect(met.get('deadline')).toBe('met: home 20m before the return-by');
    expect(met.has('plan')).toBe(false);
    expect(missed.get('return')).toMatch(/ on request$/);
    expect(missed.get('deadline')).toBe('MISSED: home 5m after the return-by');
  });

  it('shows nothing for a job without a lease, and a cancel by the lease', () => {
    // Act / Assess
    expect(leaseLines({}, BERLIN, NOW)).toEqual([]);
    expect(leaseLines({ lease: LEASE, cancelledBy: 'lease' }, BERLIN, NOW)).toContainEqual([
      'cancelled',
      'by the lease',
    ]);
  });
});

describe('renderJob with a lease', () => {
  it('puts the lease lines after the bytes, in the zone given (UTC alone by default)', () => {
    // Prepare
    const job = jobView({ state: 'running', lease: LEASE, returnPlan: EXPIRY_PLAN });
    // Act
    const berlin = renderJob(job, { zone: BERLIN, now: NOW }).split('\n');
    const utc = renderJob(job, { now: NOW }).split('\n');
    // Assess
    const bytes = berlin.findIndex((l) => l.startsWith('  bytes'));
    expect(berlin[bytes + 1]).toBe(
      '  lease      expires 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), in 2d 4h; then return',
    );
    expect(berlin[bytes + 2]).toMatch(/^ {2}plan {7}return starts 2027-10-22 16:00 UTC \(18:00 CEST/);
    expect(utc).toContain('  lease      expires 2027-10-22 16:00 UTC, in 2d 4h; then return');
  });
});

describe('extendedExpiry and planChange', () => {
  it('extends from the current end, or to an absolute instant', () => {
    // Act / Assess
    expect(extendedExpiry(LEASE, { bySeconds: 7200 })).toBe('2027-10-22T18:00:00.000Z');
    expect(extendedExpiry(LEASE, { until: new Date('2027-10-23T16:00:00+02:00') })).toBe(
      '2027-10-23T14:00:00.000Z',
    );
  });

  it('says how far the plan moved, or why it did not', () => {
    // Prepare
    const later: ReturnPlan = { ...EXPIRY_PLAN, startAt: '2027-10-22T18:00:00.000Z' };
    const byReturnBy: ReturnPlan = {
      ...EXPIRY_PLAN,
      reason: 'return-by',
      startAt: '2027-10-22T07:15:00.000Z',
    };
    // Act / Assess
    expect(planChange(EXPIRY_PLAN, later, BERLIN)).toBe(
      'the plan moved 2h later (was: return starts 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin))',
    );
    expect(planChange(later, EXPIRY_PLAN, BERLIN)).toMatch(/^the plan moved 2h earlier/);
    expect(planChange(byReturnBy, byReturnBy, BERLIN)).toBe('the plan did not move (the return-by sets it)');
    expect(planChange(EXPIRY_PLAN, undefined, BERLIN)).toMatch(/^no plan/);
  });
});

describe('GatewayClient.updateLease', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('PATCHes the lease and answers the job view', async () => {
    // Prepare
    const view = jobView({ state: 'running', lease: { ...LEASE, expiresAt: '2027-10-22T18:00:00.000Z' } });
    server = await startServer((_req, res) => sendJson(res, 200, view));
    const client = new GatewayClient({ baseUrl: server.url, apiKey: 'k' });
    // Act
    const answer = await client.updateLease('job-1', {
      expiresAt: '2027-10-22T18:00:00.000Z',
      returnBy: null,
    });
    // Assess
    expect(answer.lease?.expiresAt).toBe('2027-10-22T18:00:00.000Z');
    const sent = server.requests[0]!;
    expect(sent.method).toBe('PATCH');
    expect(sent.url).toBe('/offloads/job-1');
    expect(sent.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent.body.toString())).toEqual({
      lease: { expiresAt: '2027-10-22T18:00:00.000Z', returnBy: null },
    });
  });

  it('throws the validation and state problems typed, naming the member', async () => {
    // Prepare
    server = await startServer((req, res) => {
      const bad = req.url === '/offloads/job-bad';
      sendJson(
        res,
        bad ? 400 : 409,
        bad
          ? {
              type: 'https://burstgate.dev/problems/validation-failed',
              title: 'The request is not valid',
              status: 400,
              detail: 'lease.expiresAt: the lease must end between 5 minutes and 366 days from now',
              errors: [{ path: 'lease.expiresAt', message: 'between now + 300 s and now + 31622400 s' }],
            }
          : {
              type: 'https://burstgate.dev/problems/invalid-job-state',
              title: 'The job is not in a state that allows this',
              status: 409,
              detail: "Cannot change the lease of job job-done: it is 'returned'",
            },
        'application/problem+json',
      );
    });
    const client = new GatewayClient({ baseUrl: server.url, apiKey: 'k' });
    // Act
    const invalid = await caught(client.updateLease('job-bad', { expiresAt: '2027-10-20T12:01:00.000Z' }));
    const state = await caught(client.updateLease('job-done', { onExpiry: 'cancel' }));
    // Assess
    expect(invalid.kind).toBe('problem');
    expect(invalid.problemType).toBe('validation-failed');
    expect(invalid.problem?.errors?.[0]?.path).toBe('lease.expiresAt');
    expect(invalid.message).toBe(
      'The request is not valid: lease.expiresAt: the lease must end between 5 minutes and 366 days from now',
    );
    expect(state.status).toBe(409);
    expect(state.problemType).toBe('invalid-job-state');
  });
});
