/**
 * Launch at a time, or on request: the offload stages the image in the cloud (import, snapshot,
 * managed disk) and then waits in AwaitLaunch (a task token, state `staged`) until the launch is
 * released — by the `launch` timer at `launch.at`, or by POST /offloads/{id}/launch. Either side
 * may come first; whichever sees both the token and the release sends the task success (the
 * other's send is refused harmlessly), as with the upload wait.
 */
import { GatewayError, InvalidJobStateError, ValidationError } from './errors';
import { releaseTaskToken } from './executions';
import { beginStep, endStep, updateJob, type Gateway } from './gateway';
import type { Job, JobLaunch, JobState } from './job';
import { armLease, leaseFor } from './leases';
import type { CreateOffloadRequest } from './requests';
import { dueInstant } from '../timers/job-timers';

/** States in which a held or timed launch can still be released. */
export const PRE_LAUNCH_STATES: readonly JobState[] = [
  'awaiting-upload',
  'inspecting',
  'importing',
  'staged',
];
const MAX_LAUNCH_DELAY_SECONDS = 366 * 24 * 3600;

/** The launch a request asks for (absent: at once). `at` must lie ahead, within a year. */
export function launchFor(gw: Gateway, req: CreateOffloadRequest['launch']): JobLaunch | undefined {
  if (req === undefined) return undefined;
  if (req === 'hold') return { mode: 'hold' };
  const at = new Date(req.at);
  const seconds = (at.getTime() - gw.now().getTime()) / 1000;
  if (seconds <= 0 || seconds > MAX_LAUNCH_DELAY_SECONDS) {
    throw new ValidationError(
      `launch.at: ${req.at} must lie ahead (now is ${gw.now().toISOString()}) and within 366 days; use "hold" to launch on request`,
      [{ path: 'launch.at', message: 'an instant between now and now + 366 days' }],
    );
  }
  return { mode: 'at', at: at.toISOString() };
}

/** Sets the `launch` timer of a timed launch (at its time). */
export async function armLaunchTimer(gw: Gateway, job: Job): Promise<void> {
  const at = job.launch?.mode === 'at' && !job.launch.releasedAt ? job.launch.at : undefined;
  if (!at) return;
  await gw.timers.set({
    timer: 'launch',
    jobId: job.jobId,
    dueAt: dueInstant(new Date(at), gw.now()).toISOString(),
    planned: at,
  });
}

/** The AwaitLaunch step: records the task token, marks the job staged, and goes on if already released. */
export async function awaitLaunch(gw: Gateway, jobId: string, taskToken: string): Promise<void> {
  const job = await updateJob(gw, jobId, (j) => {
    j.execution = { ...j.execution, launchTaskToken: taskToken };
    if (!j.launch?.releasedAt) {
      j.state = 'staged';
      beginStep(j, 'await-launch', gw.now());
    }
  });
  await sendLaunch(gw, job);
}

/**
 * Releases a held or timed launch (`by: 'api'` for POST …/launch, `'timer'` for `launch.at`).
 * A held job's default lease starts now: it counts from the launch, not from the upload.
 */
export async function releaseLaunch(gw: Gateway, jobId: string, by: 'api' | 'timer'): Promise<Job> {
  const now = gw.now();
  let released = false;
  const job = await updateJob(gw, jobId, (j) => {
    released = false; // the store may run this again on a concurrent write: only the last run counts
    if (!j.launch) {
      throw new GatewayError(
        'invalid-job-state',
        409,
        'The job is not in a state that allows this',
        `Job ${jobId} launches on its own as soon as its image is in: it was created without launch "hold" or launch.at, so there is nothing to release.`,
      );
    }
    if (j.launch.releasedAt) return false; // released before: the same request again is fine
    if (!PRE_LAUNCH_STATES.includes(j.state)) {
      throw new InvalidJobStateError(jobId, j.state, 'launch', PRE_LAUNCH_STATES);
    }
    j.launch = { ...j.launch, releasedAt: now.toISOString(), releasedBy: by };
    if (j.lease?.source === 'default') {
      j.lease = leaseFor(gw, undefined, { plannedLaunch: now, path: 'lease' });
    }
    if (j.state === 'staged')
      endStep(j, 'succeeded', now, `released by ${by === 'api' ? 'POST …/launch' : 'launch.at'}`);
    released = true;
  });
  if (released) {
    if (by === 'api') await gw.timers.clear(jobId, 'launch');
    await armLease(gw, job);
  }
  await sendLaunch(gw, job);
  return gw.store.get(jobId);
}

async function sendLaunch(gw: Gateway, job: Job): Promise<void> {
  const token = job.execution?.launchTaskToken;
  if (!token || !job.launch?.releasedAt) return;
  await releaseTaskToken(gw, token, { releasedAt: job.launch.releasedAt });
}
