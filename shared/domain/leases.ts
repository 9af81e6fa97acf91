/**
 * Leases: how long a VM may stay in the cloud, the return plan derived from it, and the timers
 * that carry the plan out (shared/timers). The README's "Leases and deadlines" is the contract:
 *
 * - Every job has a lease: the request's, or `defaultLeaseSeconds` from the planned launch.
 * - The plan: with a `returnBy`, the return starts at returnBy minus the estimated return
 *   (shared/domain/return-estimate.ts) when that is before `expiresAt`; otherwise `onExpiry`
 *   happens at `expiresAt`.
 * - `lease-expiring` goes out `leaseWarningSeconds` before the plan starts (once per plan).
 *
 * This module plans and arms; what happens when a timer fires is shared/domain/lease-actions.ts.
 */
import { ValidationError } from './errors';
import { updateJob, type Gateway } from './gateway';
import type { Job, JobLease, JobState, ReturnPlan } from './job';
import type { LeaseRequest } from './requests';
import { estimateReturn } from './return-estimate';
import { TIMER_KINDS, dueInstant } from '../timers/job-timers';

/** A lease must end at least this long after it is set (a typo must not cancel a VM at once). */
export const MIN_LEASE_SECONDS = 300;
/** ...and at most this long after (a year and a day). */
export const MAX_LEASE_SECONDS = 366 * 24 * 3600;
/** Returned jobs read for the return estimate (newest first, any VM). */
const HISTORY_JOBS = 500;

/** States in which a lease runs: its timers are armed, PATCH may change it. */
export const LEASED_STATES: ReadonlySet<JobState> = new Set<JobState>([
  'awaiting-upload',
  'inspecting',
  'importing',
  'staged',
  'launching',
  'running',
  'return-failed',
]);

/**
 * The lease a request asks for, merged over `current` (PATCH) or over the default lease from
 * `plannedLaunch` (a new job). Throws a ValidationError naming the member that is wrong.
 */
export function leaseFor(
  gw: Gateway,
  req: LeaseRequest | undefined,
  opts: { plannedLaunch: Date; current?: JobLease; path: string },
): JobLease {
  const now = gw.now();
  const base: JobLease = opts.current ?? {
    expiresAt: new Date(opts.plannedLaunch.getTime() + gw.config.defaultLeaseSeconds * 1000).toISOString(),
    onExpiry: 'return',
    source: 'default',
  };
  if (!req || Object.keys(req).length === 0) return base;
  const lease: JobLease = {
    expiresAt: req.expiresAt ? new Date(req.expiresAt).toISOString() : base.expiresAt,
    onExpiry: req.onExpiry ?? base.onExpiry,
    source: 'request',
  };
  const returnBy = req.returnBy === undefined ? base.returnBy : (req.returnBy ?? undefined);
  if (returnBy) lease.returnBy = new Date(returnBy).toISOString();
  checkInstant(now, lease.expiresAt, `${opts.path}.expiresAt`, 'the lease');
  if (lease.returnBy) checkInstant(now, lease.returnBy, `${opts.path}.returnBy`, 'returnBy');
  return lease;
}

function checkInstant(now: Date, iso: string, path: string, what: string): void {
  const seconds = (Date.parse(iso) - now.getTime()) / 1000;
  if (seconds < MIN_LEASE_SECONDS || seconds > MAX_LEASE_SECONDS) {
    throw new ValidationError(
      `${path}: ${what} must end between ${MIN_LEASE_SECONDS / 60} minutes and ${MAX_LEASE_SECONDS / 86400} days from now (now is ${now.toISOString()}), got ${iso}`,
      [{ path, message: `between now + ${MIN_LEASE_SECONDS} s and now + ${MAX_LEASE_SECONDS} s` }],
    );
  }
}

/** The plan a lease makes for a job: when the gateway starts the return (or cancel) on its own. */
export async function planFor(gw: Gateway, job: Job, lease: JobLease): Promise<ReturnPlan> {
  const expiry: ReturnPlan = { startAt: lease.expiresAt, reason: 'lease-expires', action: lease.onExpiry };
  if (!lease.returnBy) return expiry;
  const history = await gw.store.listInState('returned', HISTORY_JOBS);
  const estimate = estimateReturn(job, history);
  const start = new Date(Date.parse(lease.returnBy) - estimate.seconds * 1000).toISOString();
  const withEstimate = { estimateSeconds: estimate.seconds, basis: estimate.basis };
  return Date.parse(start) < Date.parse(lease.expiresAt)
    ? { startAt: start, reason: 'return-by', action: 'return', ...withEstimate }
    : { ...expiry, ...withEstimate };
}

/** When the lease-expiring warning of a plan is due: `leaseWarningSeconds` before it starts. */
export function warningAt(gw: Gateway, plan: ReturnPlan): Date {
  return new Date(Date.parse(plan.startAt) - gw.config.leaseWarningSeconds * 1000);
}

/**
 * Records the plan of the job's lease and sets its timers: the start (a plan whose start has
 * passed, after a PATCH, is timed to fire at once) and the warning (sent here when already due,
 * once per plan). Returns the job as saved.
 */
export async function armLease(gw: Gateway, job: Job, known?: ReturnPlan): Promise<Job> {
  const lease = job.lease;
  if (!lease || !LEASED_STATES.has(job.state)) return job;
  // `known`: the plan the caller just made for this very lease (a new job's), not made again.
  const plan = known ?? (await planFor(gw, job, lease));
  let saved = await updateJob(gw, job.jobId, (j) => {
    if (JSON.stringify(j.returnPlan) === JSON.stringify(plan)) return false;
    j.returnPlan = plan;
  });
  const now = gw.now();
  const start = new Date(plan.startAt);
  await gw.timers.set({
    timer: 'lease-due',
    jobId: job.jobId,
    dueAt: dueInstant(start, now).toISOString(),
    planned: plan.startAt,
  });
  const warn = warningAt(gw, plan);
  if (warn.getTime() > now.getTime()) {
    await gw.timers.set({
      timer: 'lease-expiring',
      jobId: job.jobId,
      dueAt: dueInstant(warn, now).toISOString(),
      planned: plan.startAt,
    });
  } else {
    await gw.timers.clear(job.jobId, 'lease-expiring');
    saved = await warnLeaseExpiring(gw, saved);
  }
  return saved;
}

/** Sends lease-expiring for the job's current plan, unless it went out for that plan already. */
export async function warnLeaseExpiring(gw: Gateway, job: Job): Promise<Job> {
  const plan = job.returnPlan;
  if (!plan || job.leaseWarnedFor === plan.startAt) return job;
  let first = false;
  const saved = await updateJob(gw, job.jobId, (j) => {
    first = false; // the store may run this again on a concurrent write: only the last run counts
    if (!j.returnPlan || j.leaseWarnedFor === j.returnPlan.startAt) return false;
    j.leaseWarnedFor = j.returnPlan.startAt;
    first = true;
  });
  if (first && saved.returnPlan && saved.lease) {
    await gw.announce(saved, 'lease-expiring', {
      lease: saved.lease,
      returnPlan: saved.returnPlan,
      secondsLeft: Math.max(
        0,
        Math.round((Date.parse(saved.returnPlan.startAt) - gw.now().getTime()) / 1000),
      ),
    });
  }
  return saved;
}

/** Removes every timer of the job (the return started, the job was cancelled or failed). */
export async function clearJobTimers(gw: Gateway, jobId: string): Promise<void> {
  await Promise.all(TIMER_KINDS.map((kind) => gw.timers.clear(jobId, kind)));
}

/** The deadline outcome of a job that just came home, if it had a returnBy. */
export function deadlineOutcome(job: Job, returnedAt: Date): Job['deadline'] {
  const returnBy = job.lease?.returnBy;
  if (!returnBy) return undefined;
  const marginSeconds = Math.round((Date.parse(returnBy) - returnedAt.getTime()) / 1000);
  return { returnBy, returnedAt: returnedAt.toISOString(), met: marginSeconds >= 0, marginSeconds };
}
