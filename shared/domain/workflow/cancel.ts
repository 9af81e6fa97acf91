/**
 * The cancel workflow's steps (`burstgate-cancel`, started by cancel.ts): remove everything a
 * cancelled job created, then mark it `cancelled`; and, once the workflow's retries are spent,
 * record on the job what could not be removed (a DELETE starts a new attempt).
 */
import { recordUnrecordedDirectResources } from '../aws-image-cache';
import { removable, removeJobResources } from '../cleanup';
import { endStep, updateJob, type Gateway } from '../gateway';
import { adoptReturnSnapshots } from './aws-return';
import { errorFromWorkflow } from './step-kit';

/** Something the job recorded is still there: the workflow retries the step (`CleanupIncomplete`). */
export class CleanupIncompleteError extends Error {
  override readonly name = 'CleanupIncomplete';
}

/** CancelJob: removes what the job created (the returned image too, not what the image cache keeps). */
export async function removeCancelledJob(gw: Gateway, jobId: string): Promise<{ removed: number }> {
  const job = await gw.store.get(jobId);
  // A repeated execution finds the work done; only a cancel's execution is started for a job.
  if (job.state !== 'cancelling') return { removed: 0 };
  // A return snapshot, or an AWS direct snapshot or AMI, whose creation the job could not record.
  await adoptReturnSnapshots(gw, jobId);
  await recordUnrecordedDirectResources(gw, jobId);
  const removal = { includeRetained: true };
  const cleaned = await removeJobResources(gw, jobId, removal);
  const removed = cleaned.resources.filter((r) => r.removedAt).length;
  const now = gw.now();
  await updateJob(gw, jobId, (j) => {
    // A step still in flight when its workflow was stopped may have recorded a resource since.
    const left = j.resources.filter((r) => removable(r, removal));
    if (left.length > 0) {
      throw new CleanupIncompleteError(
        `job ${jobId} recorded ${left.map((r) => `${r.type} ${r.id}`).join(', ')} while its cancel ran; removing it next`,
      );
    }
    j.state = 'cancelled';
    if (j.error?.type === 'cleanup-incomplete') delete j.error;
    if (j.activeStep) endStep(j, 'failed', now, 'cancelled');
  });
  return { removed };
}

/**
 * CancelFailed (Catch): the retries are spent. The job stays `cancelling` (what is left still
 * costs money, and counts against the tenant's quota) with an error naming what could not be
 * removed; a DELETE starts the cancel again.
 */
export async function cancelFailed(
  gw: Gateway,
  jobId: string,
  error?: { Error?: string; Cause?: string },
): Promise<void> {
  const cause = errorFromWorkflow(error, 'cancel');
  await updateJob(gw, jobId, (j) => {
    if (j.state !== 'cancelling') return false;
    j.error = {
      type: 'cleanup-incomplete',
      title: 'The cancel could not remove everything the job created',
      detail: `${cause.detail}; DELETE /offloads/${jobId} again to retry`,
      step: 'cancel',
    };
  });
}
