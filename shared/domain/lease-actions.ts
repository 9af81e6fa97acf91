/**
 * What happens when one of a job's timers fires (the timer workflow's one step: a lease warning,
 * the lease's return or cancel, a timed launch), and the lease change of PATCH /offloads/{id}. Planning and arming are shared/domain/leases.ts.
 *
 * A timer that no longer matches its job (the lease changed, the return started, the job ended)
 * does nothing: Scheduler may deliver a timer that was replaced a moment before, or twice.
 */
import { InvalidJobStateError } from './errors';
import { updateJob, type Gateway } from './gateway';
import type { Job } from './job';
import { PRE_LAUNCH_STATES, releaseLaunch } from './launch-gate';
import { LEASED_STATES, armLease, leaseFor, warnLeaseExpiring } from './leases';
import { cancelOffload } from './cancel';
import { RETURNABLE_STATES, startReturn } from './offloads';
import type { UpdateOffloadRequest } from './requests';
import type { JobTimerPayload, TimerPayload } from '../timers/job-timers';
import { fireWindowTimer, skipLateLaunch, type WindowTimerOutcome } from './windows/window-actions';

export type TimerOutcome =
  | 'warned'
  | 'launched'
  | 'return-started'
  | 'cancelled'
  /** The job moved on, or the timer was replaced: nothing to do. */
  | 'stale';

/** The timer workflow's step: carries out a job's timer (or a schedule's) if it still stands. */
export async function fireTimer(
  gw: Gateway,
  payload: TimerPayload,
): Promise<{ outcome: TimerOutcome | WindowTimerOutcome }> {
  if ('scheduleId' in payload) return fireWindowTimer(gw, payload);
  if (payload.timer === 'launch') return fireLaunch(gw, payload);
  const job = await gw.store.find(payload.jobId);
  const plan = job?.returnPlan;
  if (!job || !plan || !LEASED_STATES.has(job.state) || plan.startAt !== payload.planned) {
    gw.logger.info('timer no longer matches its job; nothing to do', { ...payload, state: job?.state });
    return { outcome: 'stale' };
  }
  if (payload.timer === 'lease-expiring') {
    await warnLeaseExpiring(gw, job);
    return { outcome: 'warned' };
  }
  return carryOutPlan(gw, job);
}

/** The `launch` timer: releases a timed launch that is still waiting for this time. */
async function fireLaunch(gw: Gateway, payload: JobTimerPayload): Promise<{ outcome: TimerOutcome }> {
  const job = await gw.store.find(payload.jobId);
  const launch = job?.launch;
  if (!job || launch?.mode !== 'at' || launch.at !== payload.planned || launch.releasedAt) {
    gw.logger.info('launch timer no longer matches its job; nothing to do', {
      ...payload,
      state: job?.state,
    });
    return { outcome: 'stale' };
  }
  if (!PRE_LAUNCH_STATES.includes(job.state)) return { outcome: 'stale' };
  if (await skipLateLaunch(gw, job)) return { outcome: 'cancelled' };
  await releaseLaunch(gw, job.jobId, 'timer');
  return { outcome: 'launched' };
}

/**
 * The plan's moment has come. A VM that runs comes home (or is removed, for `onExpiry: cancel`);
 * a job whose VM never got to run is cancelled: nothing changed in the cloud that would need to
 * come home, and the on-prem VM is the one that counts.
 */
async function carryOutPlan(gw: Gateway, job: Job): Promise<{ outcome: TimerOutcome }> {
  const plan = job.returnPlan!;
  if (plan.action === 'return' && RETURNABLE_STATES.includes(job.state)) {
    const started = await startReturn(gw, job.jobId, 'lease');
    await gw.announce(started, 'return-started-by-lease', {
      reason: plan.reason,
      returnPlan: plan,
      ...(job.lease ? { lease: job.lease } : {}),
    });
    return { outcome: 'return-started' };
  }
  gw.logger.info('the lease ended: cancelling the offload', {
    jobId: job.jobId,
    state: job.state,
    action: plan.action,
  });
  await cancelOffload(gw, job.jobId, 'lease');
  return { outcome: 'cancelled' };
}

/** PATCH /offloads/{id}: a new lease (members absent keep their value), planned and armed at once. */
export async function updateLease(gw: Gateway, jobId: string, req: UpdateOffloadRequest): Promise<Job> {
  const job = await gw.store.get(jobId);
  const allowed = [...LEASED_STATES];
  if (!LEASED_STATES.has(job.state)) {
    throw new InvalidJobStateError(jobId, job.state, 'change the lease of', allowed);
  }
  const lease = leaseFor(gw, req.lease, { plannedLaunch: gw.now(), current: job.lease, path: 'lease' });
  const saved = await updateJob(gw, jobId, (j) => {
    if (!LEASED_STATES.has(j.state)) {
      throw new InvalidJobStateError(jobId, j.state, 'change the lease of', allowed);
    }
    if (JSON.stringify(j.lease) === JSON.stringify(lease)) return false; // the same PATCH again
    j.lease = lease;
  });
  return armLease(gw, saved);
}
