/**
 * Leases on a gateway over in-memory fakes: the default and requested lease, the plan and its two
 * timers (EventBridge Scheduler schedules), what a timer does when it fires, PATCH, and the
 * deadline outcome of a return.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CreateScheduleCommand, DeleteScheduleCommand } from '@aws-sdk/client-scheduler';
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import {
  TerminateInstancesCommand,
  DeregisterImageCommand,
  DeleteSnapshotCommand,
} from '@aws-sdk/client-ec2';
import { GatewayError } from '../../../shared/domain/errors';
import { fireTimer, updateLease } from '../../../shared/domain/lease-actions';
import { armLease, leaseFor } from '../../../shared/domain/leases';
import { removeCancelledJob } from '../../../shared/domain/workflow/cancel';
import { cleanupAfterReturn } from '../../../shared/domain/workflow/lifecycle';
import type { Job } from '../../../shared/domain/job';
import { importTaskIs, placeJob, runningJob, stepTest, type StepTest } from '../workflow/fixtures';

const HOUR = 3600_000;
let t: StepTest;
beforeEach(() => {
  t = stepTest({ start: new Date('2027-10-20T08:00:00.000Z') });
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

const at = (offsetMs: number) => new Date(t.gw.now().getTime() + offsetMs).toISOString();
const schedules = () => t.fake.scheduler.inputsOf(CreateScheduleCommand);
const events = (detailType: string) =>
  t.fake.events
    .inputsOf(PutEventsCommand)
    .flatMap((i) => i.Entries ?? [])
    .filter((e) => e.DetailType === detailType)
    .map((e) => JSON.parse(e.Detail ?? '{}') as Record<string, unknown>);

/** The lease-due timer of the job's current plan, as Scheduler delivers it. */
const leaseDue = (job: Job) => ({
  timer: 'lease-due' as const,
  jobId: job.jobId,
  dueAt: job.returnPlan!.startAt,
  planned: job.returnPlan!.startAt,
});

async function leased(lease: Job['lease'], state: Job['state'] = 'running'): Promise<Job> {
  const job =
    state === 'running'
      ? await runningJob(t, (j) => (j.lease = lease))
      : await placeJob(t, state, (j) => (j.lease = lease));
  return armLease(t.gw, job);
}

describe('leaseFor', () => {
  it('gives a job without a lease the deployment default: 7 days from the planned launch, then return', () => {
    // Act
    const lease = leaseFor(t.gw, undefined, { plannedLaunch: t.gw.now(), path: 'lease' });

    // Assess
    expect(lease).toEqual({ expiresAt: '2027-10-27T08:00:00.000Z', onExpiry: 'return', source: 'default' });
  });

  it('merges a request over the current lease; returnBy null removes the deadline', () => {
    // Prepare
    const current: Job['lease'] = {
      expiresAt: '2027-10-22T08:00:00.000Z',
      onExpiry: 'return',
      returnBy: '2027-10-22T06:00:00.000Z',
      source: 'request',
    };

    // Act
    const longer = leaseFor(
      t.gw,
      { expiresAt: '2027-10-23T10:00:00+02:00' },
      { plannedLaunch: t.gw.now(), current, path: 'lease' },
    );
    const noDeadline = leaseFor(
      t.gw,
      { returnBy: null },
      { plannedLaunch: t.gw.now(), current, path: 'lease' },
    );

    // Assess
    expect(longer).toEqual({ ...current, expiresAt: '2027-10-23T08:00:00.000Z' });
    expect(noDeadline).toEqual({ expiresAt: current.expiresAt, onExpiry: 'return', source: 'request' });
  });

  it('refuses a lease that ends within 5 minutes or after a year, naming the member', () => {
    // Act
    const soon = () =>
      leaseFor(t.gw, { expiresAt: at(60_000) }, { plannedLaunch: t.gw.now(), path: 'lease' });
    const late = () =>
      leaseFor(t.gw, { returnBy: at(400 * 24 * HOUR) }, { plannedLaunch: t.gw.now(), path: 'lease' });

    // Assess
    expect(soon).toThrow(GatewayError);
    expect(soon).toThrow(/^lease\.expiresAt: the lease must end between 5 minutes and 366 days from now/);
    expect(late).toThrow(/^lease\.returnBy: returnBy must end between/);
  });
});

describe('armLease', () => {
  it('times the return at expiresAt and the warning an hour before, as one-time UTC schedules', async () => {
    // Act
    const job = await leased({
      expiresAt: '2027-10-22T16:00:00.000Z',
      onExpiry: 'return',
      source: 'request',
    });

    // Assess
    expect(job.returnPlan).toEqual({
      startAt: '2027-10-22T16:00:00.000Z',
      reason: 'lease-expires',
      action: 'return',
    });
    const [due, warn] = schedules();
    expect(due).toMatchObject({
      Name: `${job.jobId}.lease-due`,
      GroupName: 'burstgate',
      ScheduleExpression: 'at(2027-10-22T16:00:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-timer',
        RoleArn: 'arn:aws:iam::000000000000:role/burstgate-scheduler',
      },
    });
    expect(JSON.parse(due!.Target!.Input!)).toEqual({
      timer: 'lease-due',
      jobId: job.jobId,
      dueAt: '2027-10-22T16:00:00.000Z',
      planned: '2027-10-22T16:00:00.000Z',
      scheduledTime: '<aws.scheduler.scheduled-time>',
    });
    expect(warn?.ScheduleExpression).toBe('at(2027-10-22T15:00:00)');
  });

  it('starts a returnBy return early by the estimate, and records the estimate and its basis', async () => {
    // Prepare: a 64 MiB disk on the import path: 1200 s + 2.56 s → 1203 s, + a quarter (301 s) = 1504 s
    const lease: Job['lease'] = {
      expiresAt: '2027-10-25T06:00:00.000Z',
      onExpiry: 'return',
      returnBy: '2027-10-25T06:00:00.000Z',
      source: 'request',
    };

    // Act
    const job = await armLease(
      t.gw,
      await runningJob(t, (j) => {
        j.lease = lease;
        j.image.diskCapacityBytes = 64 * 1024 * 1024;
      }),
    );

    // Assess: 06:00:00 − 1504 s = 05:34:56
    expect(job.returnPlan).toMatchObject({
      startAt: '2027-10-25T05:34:56.000Z',
      reason: 'return-by',
      action: 'return',
      estimateSeconds: 1504,
    });
    expect(job.returnPlan?.basis).toMatch(/^first return of vm-01 \(aws-import\)/);
    expect(schedules()[0]?.ScheduleExpression).toBe('at(2027-10-25T05:34:56)');
  });

  it('sends lease-expiring at once when the plan starts within the warning lead, and only once', async () => {
    // Act
    const job = await leased({ expiresAt: at(30 * 60_000), onExpiry: 'return', source: 'request' });
    await armLease(t.gw, job);

    // Assess
    const sent = events('Lease Expiring');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ jobId: job.jobId, secondsLeft: 1800, returnPlan: job.returnPlan });
    expect(schedules().map((s) => s.Name)).toEqual([`${job.jobId}.lease-due`, `${job.jobId}.lease-due`]);
  });
});

describe('fireTimer', () => {
  it('starts the return of a running VM when the plan comes due, and says so', async () => {
    // Prepare
    const job = await leased({ expiresAt: at(48 * HOUR), onExpiry: 'return', source: 'request' });
    t.fake.clock.advance(48 * HOUR);

    // Act
    const fired = await fireTimer(t.gw, leaseDue(job));

    // Assess
    expect(fired).toEqual({ outcome: 'return-started' });
    const after = await t.gw.store.get(job.jobId);
    expect(after).toMatchObject({ state: 'returning', returnStartedBy: 'lease', returnStartedAt: at(0) });
    expect(after.returnPlan).toBeUndefined();
    expect(t.fake.sfn.inputsOf(StartExecutionCommand).map((i) => i.name)).toEqual([`${job.jobId}-return-1`]);
    expect(events('Return Started By Lease')).toEqual([
      expect.objectContaining({ jobId: job.jobId, reason: 'lease-expires', state: 'returning' }),
    ]);
    // its timers are gone
    expect(
      t.fake.scheduler
        .inputsOf(DeleteScheduleCommand)
        .map((d) => d.Name)
        .sort(),
    ).toEqual([`${job.jobId}.launch`, `${job.jobId}.lease-due`, `${job.jobId}.lease-expiring`]);
  });

  it('does nothing for a timer whose plan changed since it was set', async () => {
    // Prepare
    const job = await leased({ expiresAt: at(48 * HOUR), onExpiry: 'return', source: 'request' });

    // Act
    const fired = await fireTimer(t.gw, {
      timer: 'lease-due',
      jobId: job.jobId,
      dueAt: at(24 * HOUR),
      planned: at(24 * HOUR),
    });

    // Assess
    expect(fired).toEqual({ outcome: 'stale' });
    expect((await t.gw.store.get(job.jobId)).state).toBe('running');
    expect(t.fake.sfn.calls).toEqual([]);
  });

  it('cancels a job whose VM never got to run when its lease ends', async () => {
    // Prepare
    const job = await leased({ expiresAt: at(2 * HOUR), onExpiry: 'return', source: 'request' }, 'importing');
    t.fake.clock.advance(2 * HOUR);

    // Act
    const fired = await fireTimer(t.gw, leaseDue(job));

    // Assess: the timer hands the job to the cancel workflow, whose step then finds nothing to remove
    expect(fired).toEqual({ outcome: 'cancelled' });
    expect(await t.gw.store.get(job.jobId)).toMatchObject({ state: 'cancelling', cancelledBy: 'lease' });
    expect(t.fake.sfn.inputsOf(StopExecutionCommand)).toEqual([]); // no execution was recorded
    expect(t.fake.sfn.inputsOf(StartExecutionCommand)).toEqual([
      expect.objectContaining({ name: `${job.jobId}-cancel-1`, input: JSON.stringify({ jobId: job.jobId }) }),
    ]);
    await removeCancelledJob(t.gw, job.jobId);
    expect(await t.gw.store.get(job.jobId)).toMatchObject({ state: 'cancelled', cancelledBy: 'lease' });
  });

  it('removes a running VM when its lease ends with onExpiry cancel', async () => {
    // Prepare
    t.fake.ec2
      .on(TerminateInstancesCommand, () => ({}))
      .on(DeregisterImageCommand, () => ({}))
      .on(DeleteSnapshotCommand, () => ({}));
    importTaskIs(t, 'completed');
    const job = await leased({ expiresAt: at(2 * HOUR), onExpiry: 'cancel', source: 'request' });
    t.fake.clock.advance(2 * HOUR);

    // Act
    const fired = await fireTimer(t.gw, leaseDue(job));

    // Assess
    expect(fired).toEqual({ outcome: 'cancelled' });
    expect(t.fake.ec2.inputsOf(TerminateInstancesCommand)).toEqual([]); // the cancel workflow does that
    await removeCancelledJob(t.gw, job.jobId);
    const after = await t.gw.store.get(job.jobId);
    expect(after.state).toBe('cancelled');
    expect(after.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(t.fake.ec2.inputsOf(TerminateInstancesCommand)).toEqual([{ InstanceIds: ['i-0123'] }]);
  });

  it('warns once per plan on the lease-expiring timer', async () => {
    // Prepare
    const job = await leased({ expiresAt: at(48 * HOUR), onExpiry: 'return', source: 'request' });
    const warning = {
      timer: 'lease-expiring' as const,
      jobId: job.jobId,
      dueAt: at(47 * HOUR),
      planned: job.returnPlan!.startAt,
    };
    t.fake.clock.advance(47 * HOUR);

    // Act
    const first = await fireTimer(t.gw, warning);
    await fireTimer(t.gw, warning);

    // Assess
    expect(first).toEqual({ outcome: 'warned' });
    expect(events('Lease Expiring')).toEqual([
      expect.objectContaining({ jobId: job.jobId, secondsLeft: 3600, lease: job.lease }),
    ]);
  });
});

describe('updateLease (PATCH /offloads/{id})', () => {
  it('moves the planned return and replaces its timers; the same PATCH again changes nothing', async () => {
    // Prepare
    const job = await leased({ expiresAt: at(24 * HOUR), onExpiry: 'return', source: 'default' });
    const created = schedules().length;

    // Act
    const patched = await updateLease(t.gw, job.jobId, { lease: { expiresAt: at(26 * HOUR) } });
    const again = await updateLease(t.gw, job.jobId, { lease: { expiresAt: at(26 * HOUR) } });

    // Assess
    expect(patched.lease).toEqual({ expiresAt: at(26 * HOUR), onExpiry: 'return', source: 'request' });
    expect(patched.returnPlan?.startAt).toBe(at(26 * HOUR));
    expect(again.version).toBe(patched.version);
    const later = schedules().slice(created);
    expect(later.map((s) => s.ScheduleExpression)).toEqual([
      'at(2027-10-21T10:00:00)',
      'at(2027-10-21T09:00:00)',
      'at(2027-10-21T10:00:00)',
      'at(2027-10-21T09:00:00)',
    ]);
  });

  it('refuses a job that is already on its way home (409) and changes nothing', async () => {
    // Prepare
    const job = await placeJob(t, 'returning');

    // Act
    const patch = updateLease(t.gw, job.jobId, { lease: { expiresAt: at(26 * HOUR) } });

    // Assess
    await expect(patch).rejects.toMatchObject({ type: 'invalid-job-state', status: 409 });
    expect((await t.gw.store.get(job.jobId)).version).toBe(job.version);
    expect(schedules()).toEqual([]);
  });
});

describe('deadline', () => {
  it('records met/missed with the margin when the VM is home, and sends the event', async () => {
    // Prepare
    t.fake.ec2
      .on(TerminateInstancesCommand, () => ({}))
      .on(DeregisterImageCommand, () => ({}))
      .on(DeleteSnapshotCommand, () => ({}));
    const onTime = await placeJob(t, 'returning', (j) => {
      j.lease = { expiresAt: at(10 * HOUR), onExpiry: 'return', returnBy: at(HOUR), source: 'request' };
    });
    const late = await placeJob(t, 'returning', (j) => {
      j.lease = { expiresAt: at(10 * HOUR), onExpiry: 'return', returnBy: at(-60_000), source: 'request' };
    });

    // Act
    await cleanupAfterReturn(t.gw, onTime.jobId);
    await cleanupAfterReturn(t.gw, late.jobId);

    // Assess
    expect((await t.gw.store.get(onTime.jobId)).deadline).toEqual({
      returnBy: at(HOUR),
      returnedAt: at(0),
      met: true,
      marginSeconds: 3600,
    });
    expect((await t.gw.store.get(late.jobId)).deadline).toMatchObject({ met: false, marginSeconds: -60 });
    expect(events('Deadline Met').map((e) => e.jobId)).toEqual([onTime.jobId]);
    expect(events('Deadline Missed').map((e) => e.jobId)).toEqual([late.jobId]);
  });
});
