/**
 * The /schedules API as plain functions: create, change (pause, resume, anything else), delete,
 * look up by id or name, and the preview of a cron in a zone. Every change is checked before it
 * is saved — the windows against themselves (window-plan.ts) and against the windows of every
 * other schedule that has one of the same VMs — so a bad request changes nothing.
 */
import { createHash } from 'node:crypto';
import { GatewayError, ScheduleNotFoundError, ValidationError } from '../errors';
import type { Gateway } from '../gateway';
import type { SchedulePreview } from '../api-schemas';
import { PRE_LAUNCH_STATES } from '../launch-gate';
import { cancelOffload } from '../cancel';
import { resolveCloudTarget } from '../offloads';
import type { Schedule, ScheduledVm, WindowLength, WindowSpec, WindowTimes } from '../schedule-model';
import { durationSeconds } from '../../schedules/iso-duration';
import {
  isScheduleId,
  type CreateScheduleRequest,
  type PreviewQuery,
  type UpdateScheduleRequest,
} from '../schedule-requests';
import { newScheduleId } from '../ids';
import { newSecret } from '../webhooks/signing';
import { DEFAULT_TENANT, mayAccess, ownerOf, type Access, type Caller } from '../tenants';
import { ScheduleNameTakenError } from '../../store/errors';
import { armPrestage } from './window-actions';
import {
  LIMITS,
  checkRule,
  closesAt,
  firstOverlap,
  localTime,
  openingsOf,
  windowsAhead,
  type WindowRule,
} from './window-plan';

type VmRequest = CreateScheduleRequest['vms'][number];

/**
 * The caller's schedule by id (`sch-…`) or by name (names are the caller's tenant's); another
 * tenant's answers ScheduleNotFoundError exactly as a missing one (admin may read it by id).
 */
export async function findSchedule(
  gw: Gateway,
  caller: Caller,
  ref: string,
  access: Access,
): Promise<Schedule> {
  const id = isScheduleId(ref) ? ref : await gw.schedules.nameHolder(caller.tenant, ref);
  const schedule = id ? await gw.schedules.find(id) : undefined;
  if (
    !schedule ||
    !mayAccess(caller, ownerOf(schedule), access, gw.logger, { scheduleId: schedule.scheduleId })
  ) {
    throw new ScheduleNotFoundError(ref);
  }
  return schedule;
}

/** POST /schedules. The same request again (same name, same body) answers with the schedule it made. */
export async function createSchedule(
  gw: Gateway,
  req: CreateScheduleRequest,
  tenant: string,
): Promise<{ schedule: Schedule; replayed: boolean }> {
  const now = gw.now();
  const requestSha256 = createHash('sha256').update(JSON.stringify(req)).digest('hex');
  const holder = await gw.schedules.nameHolder(tenant, req.name);
  const existing = holder ? await gw.schedules.find(holder) : undefined;
  if (existing?.requestSha256 === requestSha256) return { schedule: existing, replayed: true };
  const rule = ruleOf(req, undefined);
  const vms = req.vms.map((v, i) => resolveVm(gw, v, `vms.${i}`));
  const windows = checkRule(rule, now);
  await checkOverlaps(gw, tenant, undefined, vms, windows, now);
  if (req.callbackUrl) await gw.checkCallback(req.callbackUrl, 'callbackUrl');
  const schedule: Schedule = {
    scheduleId: newScheduleId(now),
    ...(tenant === DEFAULT_TENANT ? {} : { tenant }),
    name: req.name,
    vms,
    ...rule,
    onMissed: req.onMissed ?? 'open-late',
    ...(req.callbackUrl ? { callbackUrl: req.callbackUrl, callbackSecret: newSecret() } : {}),
    state: 'active',
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: 1,
    next: windows[0]!,
    occurrences: [],
    requestSha256,
  };
  try {
    await gw.schedules.create(schedule);
  } catch (err) {
    if (!(err instanceof ScheduleNameTakenError)) throw err;
    // The same request twice at once: the other one made it.
    const winner = await gw.schedules.find(err.holder);
    if (winner?.requestSha256 === requestSha256) return { schedule: winner, replayed: true };
    throw err;
  }
  await armPrestage(gw, schedule);
  return { schedule, replayed: false };
}

/** PATCH /schedules/{id}: members given replace the schedule's; `state` pauses or resumes it. */
export async function updateSchedule(
  gw: Gateway,
  current: Schedule,
  req: UpdateScheduleRequest,
): Promise<Schedule> {
  const now = gw.now();
  const rule = ruleOf(req, current);
  const vms = req.vms ? req.vms.map((v, i) => resolveVm(gw, v, `vms.${i}`)) : current.vms;
  const state = req.state ?? current.state;
  if (req.callbackUrl) await gw.checkCallback(req.callbackUrl, 'callbackUrl');
  const secret = newSecret(); // made once: `change` may run again
  // A window already handled (pre-staged, open) stays as it was: the next one comes after it.
  const handled = current.occurrences[0]?.opensAt;
  const after = new Date(Math.max(now.getTime(), handled ? Date.parse(handled) : 0));
  let next: WindowTimes | undefined;
  if (state !== 'ended' || req.window) {
    const windows = checkRule(rule, after);
    await checkOverlaps(gw, ownerOf(current), current.scheduleId, vms, windows, now);
    next = windows[0];
  }
  const saved = await gw.schedules.update(
    current.scheduleId,
    (s) => {
      Object.assign(s, rule);
      s.vms = vms;
      if (req.onMissed) s.onMissed = req.onMissed;
      if (req.callbackUrl === null) {
        delete s.callbackUrl;
        delete s.callbackDisabledAt;
      } else if (req.callbackUrl) {
        s.callbackUrl = req.callbackUrl;
        // a new URL is a new receiver: it is sent to even if the old one answered 410
        delete s.callbackDisabledAt;
        s.callbackSecret ??= secret;
      }
      s.state = next ? (state === 'ended' ? 'active' : state) : 'ended';
      if (next && s.state === 'active') s.next = next;
      else delete s.next;
    },
    now,
  );
  await armPrestage(gw, saved);
  return saved;
}

/**
 * DELETE /schedules/{id}: no more windows. Jobs of a window that has not opened yet (pre-staged,
 * not launched) are cancelled; jobs that launched keep running under their leases.
 */
export async function deleteSchedule(
  gw: Gateway,
  schedule: Schedule,
): Promise<{ schedule: Schedule; cancelled: string[] }> {
  await gw.timers.clear(schedule.scheduleId, 'window-prestage');
  await gw.timers.clear(schedule.scheduleId, 'window-check');
  const cancelled: string[] = [];
  for (const occurrence of schedule.occurrences) {
    for (const ref of occurrence.jobs) {
      const job = await gw.store.find(ref.jobId);
      if (!job || job.launch?.releasedAt || !job.launch || !PRE_LAUNCH_STATES.includes(job.state)) continue;
      await cancelOffload(gw, job.jobId, 'schedule');
      cancelled.push(job.jobId);
    }
  }
  await gw.schedules.delete(schedule);
  return { schedule, cancelled };
}

/** GET /schedules/preview: the next openings of a cron in a zone, in UTC and local time. */
export function previewSchedule(gw: Gateway, q: PreviewQuery): SchedulePreview {
  const window: WindowSpec = { cron: q.cron, timeZone: q.timeZone };
  const length = lengthOf(q, undefined);
  const after = q.after ? new Date(q.after) : gw.now();
  const openings = openingsOf(window).occurrences(after, q.count ?? 5);
  return {
    expression: q.cron,
    timeZone: q.timeZone,
    windows: openings.map((d) => {
      const opensAt = d.toISOString();
      const closes = length ? closesAt(d, length, q.timeZone).toISOString() : undefined;
      return {
        opensAt,
        opensAtLocal: localTime(opensAt, q.timeZone),
        ...(closes ? { closesAt: closes, closesAtLocal: localTime(closes, q.timeZone) } : {}),
      };
    }),
  };
}

/** The rule a request makes, over the schedule's (PATCH) for members it leaves out. */
function ruleOf(
  req: Pick<UpdateScheduleRequest, 'window' | 'duration' | 'closesAfter' | 'prestage'>,
  base: Schedule | undefined,
): WindowRule {
  const window: WindowSpec | undefined = req.window
    ? 'cron' in req.window
      ? { cron: req.window.cron, timeZone: req.window.timeZone }
      : { at: new Date(req.window.at).toISOString(), timeZone: req.window.timeZone ?? 'UTC' }
    : base?.window;
  if (!window) throw new ValidationError('window: required', [{ path: 'window', message: 'required' }]);
  openingsOf(window); // a bad cron or zone: 400 naming the field and the position
  const length = lengthOf(req, base?.length);
  if (!length) {
    throw new ValidationError('duration: a window needs a duration (elapsed) or closesAfter (wall clock)', [
      { path: 'duration', message: 'duration or closesAfter is required' },
    ]);
  }
  const lead = seconds(req.prestage?.lead) ?? base?.prestage.leadSeconds ?? LIMITS.defaultLeadSeconds;
  if (lead < LIMITS.minLeadSeconds || lead > LIMITS.maxLeadSeconds) {
    throw new ValidationError(
      `prestage.lead: ${lead} s is outside ${LIMITS.minLeadSeconds} s to ${LIMITS.maxLeadSeconds} s (7 days)`,
      [{ path: 'prestage.lead', message: `between PT5M and P7D` }],
    );
  }
  const margin =
    seconds(req.prestage?.margin) ??
    (req.prestage?.lead ? undefined : base?.prestage.marginSeconds) ??
    Math.min(LIMITS.defaultMarginSeconds, Math.floor(lead / 2));
  if (margin >= lead) {
    throw new ValidationError(
      `prestage.margin: ${margin} s must be shorter than the lead (${lead} s): the images are staged after the prestage opens and before the window does`,
      [{ path: 'prestage.margin', message: 'shorter than prestage.lead' }],
    );
  }
  return { window, length, prestage: { leadSeconds: lead, marginSeconds: margin } };
}

function lengthOf(
  req: { duration?: string | undefined; closesAfter?: string | undefined },
  base: WindowLength | undefined,
): WindowLength | undefined {
  if (req.duration !== undefined && req.closesAfter !== undefined) {
    throw new ValidationError('duration: give duration (elapsed) or closesAfter (wall clock), not both', [
      { path: 'closesAfter', message: 'not together with duration' },
    ]);
  }
  const kind =
    req.duration !== undefined ? 'duration' : req.closesAfter !== undefined ? 'closesAfter' : undefined;
  if (!kind) return base;
  const text = (kind === 'duration' ? req.duration : req.closesAfter)!;
  const value = seconds(text)!;
  if (value < LIMITS.minLengthSeconds || value > LIMITS.maxLengthSeconds) {
    throw new ValidationError(`${kind}: ${text} is outside 10 minutes to 31 days`, [
      { path: kind, message: 'between PT10M and P31D' },
    ]);
  }
  return { kind, seconds: value, text };
}

/** Seconds of a duration the request schema has already checked (schedule-requests.ts). */
const seconds = (text: string | undefined): number | undefined =>
  text === undefined ? undefined : durationSeconds(text);

/** A VM as the schedule keeps it: its target resolved as a job's; image-cache needs AWS direct. */
function resolveVm(gw: Gateway, vm: VmRequest, path: string): ScheduledVm {
  if (vm.source === 'image-cache' && (vm.target.cloud !== 'aws' || vm.target.mode === 'import')) {
    throw new ValidationError(
      `${path}.source: "image-cache" launches the VM's cached EBS snapshot, which only the AWS direct path keeps; use target.cloud "aws" with mode "direct" (or no mode), or source "upload"`,
      [{ path: `${path}.source`, message: 'image-cache needs an AWS direct target' }],
    );
  }
  const target = resolveCloudTarget(gw, vm.target, `${path}.target`);
  if (vm.source === 'image-cache' && target.cloud === 'aws') target.mode = 'direct';
  return { vmName: vm.vmName, target, source: vm.source };
}

/**
 * The same VM may be in two schedules of its tenant, but never in two windows at once: a 409 names
 * the other schedule, the VM and both windows. (VM names are a tenant's: two teams' `web01` are
 * two VMs.)
 */
async function checkOverlaps(
  gw: Gateway,
  tenant: string,
  self: string | undefined,
  vms: readonly ScheduledVm[],
  windows: readonly WindowTimes[],
  now: Date,
): Promise<void> {
  const names = new Set(vms.map((v) => v.vmName));
  for (const other of await gw.schedules.listAllOwned(tenant)) {
    if (other.scheduleId === self) continue;
    const shared = other.vms.find((v) => names.has(v.vmName));
    if (!shared) continue;
    const current = other.occurrences.filter(
      (o) => o.status !== 'missed' && Date.parse(o.closesAt) > now.getTime(),
    );
    const ahead =
      other.state === 'ended'
        ? []
        : windowsAhead(other, other.next ? new Date(Date.parse(other.next.opensAt) - 1) : now);
    const theirs = [...current.reverse(), ...ahead];
    const clash = firstOverlap(windows, theirs);
    if (clash) {
      const [mine, their] = clash;
      throw new GatewayError(
        'window-overlap',
        409,
        'The VM is in another window at that time',
        `VM "${shared.vmName}" would be in this schedule's window ${mine.opensAt} – ${mine.closesAt} and in the window ${their.opensAt} – ${their.closesAt} of schedule "${other.name}" (${other.scheduleId}) at once; move one of the windows, or take the VM out of one schedule.`,
      );
    }
  }
}
