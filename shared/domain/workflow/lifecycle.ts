/**
 * The steps both clouds' workflows share: wait for the upload, launch and watch the instance,
 * mark it running, compensate a failed offload, stop for the return, clean up after it, and record
 * a failed return.
 */
import { CloudError } from '../../clouds/errors';
import { recordUnrecordedDirectResources, rememberDirectImage } from '../aws-image-cache';
import { removeJobResources } from '../cleanup';
import { releaseUploadWait } from '../executions';
import { beginStep, endStep, updateJob, type Gateway } from '../gateway';
import { isAwsDirect, type Job } from '../job';
import { armLease, deadlineOutcome } from '../leases';
import { CANCELLED, askCloud, assertNotCancelled, createOnce, errorFromWorkflow, failStep } from './step-kit';

// ---------------------------------------------------------------- offload

export async function awaitUpload(gw: Gateway, jobId: string, taskToken: string): Promise<void> {
  const job = await updateJob(gw, jobId, (j) => {
    j.execution = { ...j.execution, uploadTaskToken: taskToken };
  });
  // The client may have completed the upload before this step ran: then release ourselves.
  await releaseUploadWait(gw, job);
}

export async function launchInstance(gw: Gateway, jobId: string): Promise<{ instanceId: string }> {
  const instanceId = await createOnce(gw, jobId, {
    key: 'instanceId',
    step: 'launch',
    prepare: (j) => {
      j.state = 'launching';
    },
    create: (cloud, job) => cloud.launch(job),
  });
  return { instanceId };
}

const GONE = new Set(['shutting-down', 'terminated']);

export async function checkInstance(
  gw: Gateway,
  jobId: string,
  desired: 'running' | 'stopped',
): Promise<{ done: boolean; state: string }> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  const state = await askCloud(gw, jobId, () => gw.cloudFor(job.target).instanceState(job));
  if (GONE.has(state)) {
    throw await failStep(
      gw,
      jobId,
      new CloudError(
        'CloudRejected',
        `instance ${job.cloud.instanceId} is ${state}: it was terminated outside burstgate`,
        state,
      ),
    );
  }
  return { done: state === desired, state };
}

export async function markRunning(gw: Gateway, jobId: string): Promise<void> {
  const job = await gw.store.get(jobId);
  assertNotCancelled(job);
  if (isAwsDirect(job)) {
    // Before `running`, so whoever sees the job running also sees its image cached.
    try {
      await rememberDirectImage(gw, jobId);
    } catch (err) {
      gw.logger.warn('could not keep the image in the image cache; the VM runs all the same', {
        jobId,
        error: err as Error,
      });
    }
  }
  const running = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    j.state = 'running';
    endStep(j, 'succeeded', gw.now(), `${j.cloud.instanceId ?? j.cloud.virtualMachineId} running`);
  });
  // The disk's size is known now: a returnBy plan is made again with the better estimate.
  await armLease(gw, running);
}

/** Catch path of the offload: record why, remove everything created, end `failed`. */
export async function compensate(
  gw: Gateway,
  jobId: string,
  error?: { Error?: string; Cause?: string },
): Promise<void> {
  const now = gw.now();
  await updateJob(gw, jobId, (j) => recordWorkflowFailure(j, error, now));
  // AWS direct: a snapshot or AMI whose creation the job could not record is removed too.
  await recordUnrecordedDirectResources(gw, jobId);
  await removeJobResources(gw, jobId, { includeRetained: true });
  await updateJob(gw, jobId, (j) => {
    if (CANCELLED.has(j.state)) return false;
    j.state = 'failed';
  });
}

// ---------------------------------------------------------------- return

export async function stopInstance(gw: Gateway, jobId: string): Promise<void> {
  const job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    j.state = 'returning';
    beginStep(j, 'stop', gw.now());
  });
  const cloud = gw.cloudFor(job.target);
  const state = await askCloud(gw, jobId, () => cloud.instanceState(job));
  if (state === 'stopped' || state === 'stopping') return;
  await askCloud(gw, jobId, () => cloud.stop(job));
}

/** Removes the VM, its image and snapshots, and the uploaded image; keeps the returned image. */
export async function cleanupAfterReturn(gw: Gateway, jobId: string): Promise<{ removed: number }> {
  await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j);
    beginStep(j, 'cleanup', gw.now());
  });
  const job = await removeJobResources(gw, jobId);
  const removed = job.resources.filter((r) => r.removedAt).length;
  const now = gw.now();
  const returned = await updateJob(gw, jobId, (j) => {
    j.state = 'returned';
    endStep(j, 'succeeded', now, `${removed} resource(s) removed`);
    j.returnedAt = now.toISOString();
    const deadline = deadlineOutcome(j, now);
    if (deadline) j.deadline = deadline;
  });
  if (returned.deadline) {
    await gw.announce(returned, returned.deadline.met ? 'deadline-met' : 'deadline-missed', {
      deadline: returned.deadline,
      ...(returned.returnStartedAt ? { returnStartedAt: returned.returnStartedAt } : {}),
      ...(returned.returnStartedBy ? { returnStartedBy: returned.returnStartedBy } : {}),
    });
  }
  return { removed };
}

/** Catch path of the return: the VM is kept (stopped or running) so no bytes are lost; the user may retry. */
export async function returnFailed(
  gw: Gateway,
  jobId: string,
  error?: { Error?: string; Cause?: string },
): Promise<void> {
  const now = gw.now();
  await updateJob(gw, jobId, (j) => {
    if (recordWorkflowFailure(j, error, now) === false) return false;
    j.state = 'return-failed';
  });
}

/**
 * A Catch path's first write: the workflow's error on the job (unless a step recorded a better one)
 * and the active step ended failed. False, writing nothing, when a cancel owns the job.
 */
function recordWorkflowFailure(
  j: Job,
  error: { Error?: string; Cause?: string } | undefined,
  now: Date,
): false | void {
  if (CANCELLED.has(j.state)) return false;
  j.error ??= errorFromWorkflow(error, j.activeStep?.name);
  if (j.activeStep) endStep(j, 'failed', now, j.error.detail);
}
