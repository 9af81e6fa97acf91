/**
 * What a schedule does when its timers fire, and the jobs of its windows. A schedule has one
 * window pre-staged at a time (window-plan.ts checks that), so it needs two timers:
 *
 * - `window-prestage`, at the next window's prestageAt: the window's occurrence is recorded, the
 *   timer is set for the window after it (first, so a failure below cannot stop the schedule),
 *   the jobs of `image-cache` VMs are created (their launch at opensAt, their lease's returnBy at
 *   closesAt) and staged from the cache, and `window-prestage` tells the on-prem side to upload
 *   the `upload` VMs (POST /schedules/{id}/prestage, `burstgate schedule prestage`).
 * - `window-check`, at stageBy: a VM without a staged image gets a `window-at-risk` event.
 *
 * A prestage timer delivered after the opening means the gateway was down across it (Scheduler
 * delivers late events for up to a day): `onMissed` says whether the window opens late (its jobs
 * launch as soon as staged, home by the same closesAt) or is recorded as missed. A launch timer
 * delivered more than LATE_GRACE_SECONDS after its opening is the same case for a window already
 * pre-staged.
 */
import { createHash } from 'node:crypto';
import { GatewayError, ValidationError } from '../errors';
import { type Gateway } from '../gateway';
import { ownerOf, type Job, type JobTarget, type JobWindow } from '../job';
import { cancelOffload } from '../cancel';
import { completeUpload, placeOffload, type PlacedOffload } from '../offloads';
import type { CreateOffloadRequest } from '../requests';
import {
  MAX_KEPT_OCCURRENCES,
  type Occurrence,
  type Schedule,
  type ScheduledVm,
  type WindowTimes,
} from '../schedule-model';
import type { PrestageUploadRequest } from '../schedule-requests';
import { DeltaWriter } from '../../images/delta-writer';
import { dueInstant, type WindowTimerPayload } from '../../timers/job-timers';
import { windowAfter } from './window-plan';

/** A launch timer this late (after its opening) means the deployment was down across the opening. */
export const LATE_GRACE_SECONDS = 300;
/** States in which a window's image counts as staged in time. */
const STAGED_STATES = new Set(['staged', 'launching', 'running']);

export type WindowTimerOutcome = 'prestaged' | 'opened-late' | 'missed' | 'checked' | 'stale';

/** Sets the prestage timer for `schedule.next`, or clears it when there is none (paused, ended). */
export async function armPrestage(gw: Gateway, schedule: Schedule): Promise<void> {
  const next = schedule.state === 'active' ? schedule.next : undefined;
  if (!next) {
    await gw.timers.clear(schedule.scheduleId, 'window-prestage');
    return;
  }
  await gw.timers.set({
    timer: 'window-prestage',
    scheduleId: schedule.scheduleId,
    dueAt: dueInstant(new Date(next.prestageAt), gw.now()).toISOString(),
    planned: next.opensAt,
  });
}

/** The timer workflow's step for a schedule's timer. */
export async function fireWindowTimer(
  gw: Gateway,
  payload: WindowTimerPayload,
): Promise<{ outcome: WindowTimerOutcome }> {
  return payload.timer === 'window-prestage' ? firePrestage(gw, payload) : fireCheck(gw, payload);
}

async function firePrestage(
  gw: Gateway,
  payload: WindowTimerPayload,
): Promise<{ outcome: WindowTimerOutcome }> {
  const found = await gw.schedules.find(payload.scheduleId);
  const times = found?.next;
  if (!found || found.state !== 'active' || times?.opensAt !== payload.planned) {
    gw.logger.info('window timer no longer matches its schedule; nothing to do', { ...payload });
    return { outcome: 'stale' };
  }
  const now = gw.now();
  const lateMs = now.getTime() - Date.parse(times.opensAt);
  const status: Occurrence['status'] =
    lateMs <= 0
      ? 'prestaged'
      : found.onMissed === 'open-late' && now.getTime() < Date.parse(times.closesAt)
        ? 'opened-late'
        : 'missed';
  const following = windowAfter(found, new Date(times.opensAt));
  let claimed = false;
  const schedule = await gw.schedules.update(
    found.scheduleId,
    (s) => {
      claimed = false; // the store may run this again on a concurrent write: only the last run counts
      if (s.state !== 'active' || s.next?.opensAt !== times.opensAt) return false;
      const occurrence: Occurrence = {
        ...times,
        status,
        handledAt: now.toISOString(),
        ...(lateMs > 0 ? { lateBySeconds: Math.round(lateMs / 1000) } : {}),
        jobs: [],
      };
      s.occurrences = [occurrence, ...s.occurrences].slice(0, MAX_KEPT_OCCURRENCES);
      if (following) s.next = following;
      else {
        delete s.next;
        s.state = 'ended';
      }
      claimed = true;
    },
    now,
  );
  if (!claimed) return { outcome: 'stale' };
  await armPrestage(gw, schedule);
  const occurrence = schedule.occurrences[0]!;
  const about = windowDetail(schedule, occurrence);
  if (status === 'missed') {
    await gw.announceWindow(schedule, 'window-missed', {
      ...about,
      lateBySeconds: occurrence.lateBySeconds,
      reason:
        found.onMissed === 'skip'
          ? 'the gateway was down across the opening and onMissed is "skip"'
          : 'the gateway was down until after the window closed',
    });
    return { outcome: 'missed' };
  }
  if (status === 'opened-late') {
    await gw.announceWindow(schedule, 'window-opened-late', {
      ...about,
      lateBySeconds: occurrence.lateBySeconds,
    });
  } else if (Date.parse(times.stageBy) > now.getTime()) {
    await gw.timers.set({
      timer: 'window-check',
      scheduleId: schedule.scheduleId,
      dueAt: dueInstant(new Date(times.stageBy), now).toISOString(),
      planned: times.opensAt,
    });
  }
  const uploads = schedule.vms.filter((v) => v.source === 'upload').map((v) => v.vmName);
  await gw.announceWindow(schedule, 'window-prestage', {
    ...about,
    uploads,
    prestage: `/schedules/${schedule.scheduleId}/prestage`,
  });
  for (const vm of schedule.vms.filter((v) => v.source === 'image-cache')) {
    try {
      await stageFromCache(gw, schedule, occurrence, vm);
    } catch (err) {
      // One VM's cache must not keep the others of the window from being staged; the check reports it.
      gw.logger.error('could not stage a window VM from the image cache', {
        scheduleId: schedule.scheduleId,
        vmName: vm.vmName,
        error: err as Error,
      });
    }
  }
  return { outcome: status };
}

/** The window-check timer: reports the window's VMs whose images are not staged by stageBy. */
async function fireCheck(gw: Gateway, payload: WindowTimerPayload): Promise<{ outcome: WindowTimerOutcome }> {
  const schedule = await gw.schedules.find(payload.scheduleId);
  const occurrence = schedule?.occurrences.find((o) => o.opensAt === payload.planned);
  if (!schedule || occurrence?.status !== 'prestaged') return { outcome: 'stale' };
  const behind: Array<Record<string, unknown>> = [];
  for (const vm of schedule.vms) {
    const ref = occurrence.jobs.find((j) => j.vmName === vm.vmName);
    const job = ref ? await gw.store.find(ref.jobId) : undefined;
    if (job && STAGED_STATES.has(job.state)) continue;
    behind.push({
      vmName: vm.vmName,
      source: vm.source,
      ...(job
        ? {
            jobId: job.jobId,
            state: job.state,
            uploadedBytes: job.bytes.uploaded,
            imageBytes: job.image.sizeBytes,
          }
        : { state: vm.source === 'upload' ? 'not-uploaded' : 'not-created' }),
    });
  }
  if (behind.length === 0) return { outcome: 'checked' };
  const now = gw.now();
  await gw.schedules.update(
    schedule.scheduleId,
    (s) => {
      const o = s.occurrences.find((x) => x.opensAt === occurrence.opensAt);
      if (!o) return false;
      o.atRisk = behind.map((b) => String(b.vmName));
    },
    now,
  );
  await gw.announceWindow(schedule, 'window-at-risk', {
    ...windowDetail(schedule, occurrence),
    // How late it is: past stageBy by this much, with this long left until the opening.
    lateBySeconds: Math.max(0, Math.round((now.getTime() - Date.parse(occurrence.stageBy)) / 1000)),
    secondsToOpening: Math.round((Date.parse(occurrence.opensAt) - now.getTime()) / 1000),
    vms: behind,
  });
  return { outcome: 'checked' };
}

function windowDetail(schedule: Schedule, o: WindowTimes): Record<string, unknown> {
  return {
    opensAt: o.opensAt,
    closesAt: o.closesAt,
    stageBy: o.stageBy,
    timeZone: schedule.window.timeZone,
  };
}

/**
 * POST /schedules/{id}/prestage: the job of an `upload` VM for the window being pre-staged (or
 * open late), with its upload. Asking again for the same VM and window answers with the same job.
 */
export async function prestageUpload(
  gw: Gateway,
  schedule: Schedule,
  req: PrestageUploadRequest,
): Promise<PlacedOffload & { occurrence: Occurrence }> {
  const vm = schedule.vms.find((v) => v.vmName === req.vmName);
  if (!vm || vm.source !== 'upload') {
    const uploads = schedule.vms.filter((v) => v.source === 'upload').map((v) => v.vmName);
    throw new ValidationError(
      `vmName: schedule ${schedule.name} has no VM "${req.vmName}" whose image is uploaded (its upload VMs: ${uploads.join(', ') || 'none'})`,
      [{ path: 'vmName', message: 'not an upload VM of this schedule' }],
    );
  }
  const now = gw.now();
  const occurrence = schedule.occurrences.find(
    (o) =>
      o.status !== 'missed' &&
      Date.parse(o.closesAt) > now.getTime() &&
      Date.parse(o.prestageAt) <= now.getTime(),
  );
  if (!occurrence) {
    const next = schedule.next;
    throw new GatewayError(
      'no-open-prestage',
      409,
      'No window of this schedule is being pre-staged',
      next
        ? `Schedule ${schedule.name} pre-stages its next window (opening ${next.opensAt}) from ${next.prestageAt}; upload then (burstgate schedule prestage can run from cron: it does nothing until then).`
        : `Schedule ${schedule.name} has no window ahead (it is ${schedule.state}).`,
    );
  }
  return { ...(await createWindowJob(gw, schedule, occurrence, vm, req)), occurrence };
}

/** The job of one VM in one window (idempotent per schedule, window and VM). */
async function createWindowJob(
  gw: Gateway,
  schedule: Schedule,
  occurrence: Occurrence,
  vm: ScheduledVm,
  image: Pick<CreateOffloadRequest, 'imageFormat' | 'imageSizeBytes' | 'imageSha256'>,
): Promise<PlacedOffload> {
  const launchAhead =
    occurrence.status === 'prestaged' && Date.parse(occurrence.opensAt) > gw.now().getTime();
  const req: CreateOffloadRequest = {
    vmName: vm.vmName,
    ...image,
    target: requestTarget(vm.target),
    ...(schedule.callbackUrl ? { callbackUrl: schedule.callbackUrl } : {}),
    lease: { expiresAt: occurrence.closesAt, returnBy: occurrence.closesAt, onExpiry: 'return' },
    ...(launchAhead ? { launch: { at: occurrence.opensAt } } : {}),
  };
  const window: JobWindow = {
    scheduleId: schedule.scheduleId,
    scheduleName: schedule.name,
    opensAt: occurrence.opensAt,
    closesAt: occurrence.closesAt,
    onMissed: schedule.onMissed,
  };
  const vmKey = createHash('sha256').update(vm.vmName).digest('hex').slice(0, 16);
  const placed = await placeOffload(
    gw,
    req,
    `window.${schedule.scheduleId}.${occurrence.opensAt}.${vmKey}`,
    ownerOf(schedule),
    window,
  );
  await gw.schedules.update(
    schedule.scheduleId,
    (s) => {
      const o = s.occurrences.find((x) => x.opensAt === occurrence.opensAt);
      if (!o || o.jobs.some((j) => j.jobId === placed.job.jobId)) return false;
      o.jobs.push({ vmName: vm.vmName, jobId: placed.job.jobId });
    },
    gw.now(),
  );
  return placed;
}

/** The request form of a stored target (the resolved fields a request does not take are left out). */
function requestTarget(target: JobTarget): CreateOffloadRequest['target'] {
  if (target.cloud === 'azure') return { ...target };
  const { modeReason: _reason, ...rest } = target;
  return rest;
}

/**
 * An `image-cache` VM: its job takes an empty delta against the VM's cached image — the gateway
 * writes it and completes the upload itself — so the direct path finds identical content and
 * launches the cached snapshot's AMI, uploading nothing.
 */
async function stageFromCache(
  gw: Gateway,
  schedule: Schedule,
  occurrence: Occurrence,
  vm: ScheduledVm,
): Promise<void> {
  if (vm.target.cloud !== 'aws') return;
  const entry = await gw.imageCache.get(ownerOf(schedule), vm.target.region, vm.vmName);
  if (!entry) {
    gw.logger.warn('no cached image for a window VM', { scheduleId: schedule.scheduleId, vmName: vm.vmName });
    return;
  }
  const writer = new DeltaWriter({
    virtualSize: entry.capacityBytes,
    baseCapacity: entry.capacityBytes,
    baseSha256: entry.diskSha256,
  });
  const delta = Buffer.concat([writer.header(), writer.finish(entry.diskSha256)]);
  const placed = await createWindowJob(gw, schedule, occurrence, vm, {
    imageFormat: 'delta',
    imageSizeBytes: delta.length,
    imageSha256: createHash('sha256').update(delta).digest('hex'),
  });
  const job = placed.job;
  if (job.uploadCompletedAt || job.state !== 'awaiting-upload' || !job.image.uploadId) return;
  const etag = await gw.staging.putPart(job.image.key, job.image.uploadId, 1, delta);
  await completeUpload(gw, job.jobId, { parts: [{ partNumber: 1, etag }] });
}

/**
 * A window's launch timer came late: the deployment was down across the opening. With `onMissed:
 * "skip"` the job is cancelled and the window recorded as missed (true); otherwise it launches late.
 */
export async function skipLateLaunch(gw: Gateway, job: Job): Promise<boolean> {
  const window = job.window;
  if (!window) return false;
  const lateMs = gw.now().getTime() - Date.parse(window.opensAt);
  if (lateMs <= LATE_GRACE_SECONDS * 1000) return false;
  const late = Math.round(lateMs / 1000);
  const schedule = await gw.schedules.find(window.scheduleId);
  const skip = window.onMissed === 'skip' || gw.now().getTime() >= Date.parse(window.closesAt);
  if (schedule) {
    let first = false; // the window's first late launch announces it; its other VMs' do not
    const updated = await gw.schedules.update(
      schedule.scheduleId,
      (s) => {
        first = false;
        const o = s.occurrences.find((x) => x.opensAt === window.opensAt);
        if (!o || o.status !== 'prestaged') return false;
        o.status = skip ? 'missed' : 'opened-late';
        o.lateBySeconds = late;
        first = true;
      },
      gw.now(),
    );
    const occurrence = updated.occurrences.find((x) => x.opensAt === window.opensAt);
    if (occurrence && first) {
      await gw.announceWindow(updated, skip ? 'window-missed' : 'window-opened-late', {
        ...windowDetail(updated, occurrence),
        lateBySeconds: late,
        ...(skip ? { reason: 'the gateway was down across the opening and onMissed is "skip"' } : {}),
      });
    }
  }
  if (!skip) return false;
  await cancelOffload(gw, job.jobId, 'schedule');
  return true;
}
