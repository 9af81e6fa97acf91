/**
 * A job's launch, window and lease as the CLI shows and changes them: the launch lines (held, timed,
 * released; the burst window it belongs to), and the lines of `burstgate status` and `lease show`
 * (the lease, the return plan, the deadline's outcome), the new expiry of `lease extend`, and what
 * a lease change did to the planned return. Times show in UTC and a zone (times.ts).
 */
import { formatInstant, formatSpan, relativeTo, type Zone } from './times';
import type { JobLease, JobView, ReturnPlan } from './types';

/** What of a job the lease lines read. */
export type LeasedJob = Pick<
  JobView,
  'lease' | 'returnPlan' | 'returnStartedAt' | 'returnStartedBy' | 'returnedAt' | 'deadline' | 'cancelledBy'
>;

/** A label and its text, as `burstgate status` lines them up. */
export type LeaseLine = [label: string, text: string];

/**
 * The launch and window lines of a job: `launch` (held until `burstgate launch`, at a time, or
 * released and by what) and `window` (the schedule whose window it is, its opening and closing).
 * None for a job that launched as soon as its image was in.
 */
export function launchLines(
  job: Pick<JobView, 'jobId' | 'launch' | 'window'>,
  zone: Zone,
  now = new Date(),
): LeaseLine[] {
  const at = (iso: string): string => formatInstant(iso, zone);
  const lines: LeaseLine[] = [];
  const l = job.launch;
  if (l) {
    const by = l.releasedBy === 'api' ? 'on request' : 'by its timer';
    const text = l.releasedAt
      ? `released ${at(l.releasedAt)} ${by}${l.at ? ` (planned ${at(l.at)})` : ''}`
      : l.mode === 'hold'
        ? `held: \`burstgate launch ${job.jobId}\` releases it`
        : `at ${at(l.at ?? '')}, ${relativeTo(new Date(l.at ?? ''), now)} (\`burstgate launch ${job.jobId}\` releases it now)`;
    lines.push(['launch', text]);
  }
  const w = job.window;
  if (w) lines.push(['window', `${w.scheduleName}: opens ${at(w.opensAt)}, closes ${at(w.closesAt)}`]);
  return lines;
}

/** The lease, plan, return and deadline lines of a job; none for a job the gateway reports no lease of. */
export function leaseLines(job: LeasedJob, zone: Zone, now = new Date()): LeaseLine[] {
  const at = (iso: string): string => formatInstant(iso, zone);
  const when = (iso: string): string => `${at(iso)}, ${relativeTo(new Date(iso), now)}`;
  const lines: LeaseLine[] = [];
  const lease = job.lease;
  if (lease) {
    lines.push(['lease', `expires ${when(lease.expiresAt)}; then ${expiryText(lease)}`]);
    if (lease.returnBy) lines.push(['return by', when(lease.returnBy)]);
  }
  const plan = job.returnPlan;
  if (plan) {
    lines.push([
      'plan',
      `${planText(plan, zone)}, ${relativeTo(new Date(plan.startAt), now)}: ${reasonText(plan)}`,
    ]);
    if (plan.estimateSeconds !== undefined) {
      lines.push(['estimate', `${formatSpan(plan.estimateSeconds)}${plan.basis ? ` (${plan.basis})` : ''}`]);
    }
  }
  if (job.returnStartedAt) {
    const by =
      job.returnStartedBy === 'lease' ? ' by the lease' : job.returnStartedBy === 'api' ? ' on request' : '';
    lines.push(['return', `started ${at(job.returnStartedAt)}${by}`]);
  }
  if (job.returnedAt) lines.push(['returned', at(job.returnedAt)]);
  else if (job.deadline) lines.push(['returned', at(job.deadline.returnedAt)]);
  const d = job.deadline;
  if (d) {
    const margin = `${formatSpan(d.marginSeconds)} ${d.marginSeconds >= 0 ? 'before' : 'after'} the return-by`;
    lines.push(['deadline', `${d.met ? 'met' : 'MISSED'}: home ${margin}`]);
  }
  if (job.cancelledBy) {
    lines.push(['cancelled', job.cancelledBy === 'lease' ? 'by the lease' : 'on request']);
  }
  return lines;
}

function expiryText(lease: JobLease): string {
  const what = lease.onExpiry === 'return' ? 'return' : 'cancel (removed, nothing comes home)';
  return lease.source === 'default' ? `${what} (the gateway's default lease)` : what;
}

/** `return starts 2027-10-22 16:00 UTC (...)`, `cancel at ...`. */
function planText(plan: ReturnPlan, zone: Zone): string {
  const at = formatInstant(plan.startAt, zone);
  return plan.action === 'return' ? `return starts ${at}` : `cancel at ${at}`;
}

function reasonText(plan: ReturnPlan): string {
  return plan.reason === 'return-by' ? 'the estimated return before the return-by' : 'when the lease expires';
}

/** The lease's new end: `by` seconds after its current end, or `until` (absolute, as sent to PATCH). */
export function extendedExpiry(lease: JobLease, change: { bySeconds: number } | { until: Date }): string {
  if ('until' in change) return change.until.toISOString();
  return new Date(Date.parse(lease.expiresAt) + change.bySeconds * 1000).toISOString();
}

/** What a lease change did to the planned return (or cancel), said after the new plan's line. */
export function planChange(
  before: ReturnPlan | undefined,
  after: ReturnPlan | undefined,
  zone: Zone,
): string {
  if (!after) return 'no plan: the return has started, or the job is past its lease';
  if (!before) return 'the job had no plan before';
  const moved = (Date.parse(after.startAt) - Date.parse(before.startAt)) / 1000;
  if (moved === 0 && before.action === after.action) {
    return `the plan did not move${after.reason === 'return-by' ? ' (the return-by sets it)' : ''}`;
  }
  const shift = moved === 0 ? '' : ` ${formatSpan(moved)} ${moved > 0 ? 'later' : 'earlier'}`;
  return `the plan moved${shift} (was: ${planText(before, zone)})`;
}
