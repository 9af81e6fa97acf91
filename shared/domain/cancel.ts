/**
 * Cancelling a job: by a DELETE, by a lease that ends with `onExpiry: "cancel"`, or by its
 * schedule. The request only marks the job `cancelling`, stops its running workflow and starts
 * the cancel workflow (`burstgate-cancel`), whose step removes what the job created
 * (workflow/cancel.ts) with retries. Nothing waits for the clouds here: deleting an Azure VM alone
 * can take longer than API Gateway lets a request run (29 s).
 */
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { updateJob, type Gateway } from './gateway';
import { TERMINAL_STATES, type Job } from './job';

/**
 * Marks the job `cancelling` and starts its cancel workflow; answers the job as it is then
 * (`cancelled` only if it was already). Cancelling again is harmless: while the cancel workflow
 * runs, the same attempt is asked for again (Step Functions answers the running execution); once
 * it has ended without finishing (its retries spent, or cut off by a restart), a new attempt starts.
 */
export async function cancelOffload(
  gw: Gateway,
  jobId: string,
  by: NonNullable<Job['cancelledBy']> = 'api',
): Promise<Job> {
  let attempt = 0;
  // A job that had ended (returned, failed) has no workflow left to stop.
  let ended = false;
  const job = await updateJob(gw, jobId, (j) => {
    ended = TERMINAL_STATES.has(j.state);
    const tried = j.execution?.cancelAttempts ?? 0;
    if (j.state === 'cancelled' || (j.state === 'cancelling' && tried > 0)) {
      attempt = tried;
      return false;
    }
    attempt = tried + 1;
    j.state = 'cancelling';
    j.cancelledBy = by;
    delete j.returnPlan;
    j.execution = { ...j.execution, cancelAttempts: attempt };
  });
  if (job.state === 'cancelled') return job;
  if (!ended) await stopWorkflows(gw, job, by);
  return startCancelExecution(gw, job, attempt);
}

/** Stops the job's offload and return executions (one that has ended is left as it is). */
async function stopWorkflows(gw: Gateway, job: Job, by: NonNullable<Job['cancelledBy']>): Promise<void> {
  for (const arn of [job.execution?.offloadArn, job.execution?.returnArn]) {
    if (!arn) continue;
    try {
      await gw.sfn.send(new StopExecutionCommand({ executionArn: arn, cause: `cancelled (by ${by})` }));
    } catch (err) {
      if ((err as Error).name !== 'ExecutionDoesNotExist') throw err;
    }
  }
}

/** The cancel execution of an attempt: named after it, with an input that never changes. */
const cancelExecution = (gw: Gateway, jobId: string, attempt: number) =>
  new StartExecutionCommand({
    stateMachineArn: gw.config.cancelStateMachineArn,
    name: `${jobId}-cancel-${attempt}`,
    input: JSON.stringify({ jobId }),
  });

async function startCancelExecution(gw: Gateway, job: Job, attempt: number): Promise<Job> {
  const jobId = job.jobId;
  let started: { executionArn?: string | undefined };
  try {
    started = await gw.sfn.send(cancelExecution(gw, jobId, attempt));
  } catch (err) {
    if ((err as Error).name !== 'ExecutionAlreadyExists') throw err;
    // That attempt's execution has ended and the job is still cancelling: its retries were spent
    // (the job's error says what is left) or a restart cut it off. The next attempt starts.
    const next = await updateJob(gw, jobId, (j) => {
      if (j.state !== 'cancelling' || j.execution?.cancelAttempts !== attempt) return false;
      j.execution = { ...j.execution, cancelAttempts: attempt + 1 };
      if (j.error?.type === 'cleanup-incomplete') delete j.error;
    });
    if (next.state !== 'cancelling') return next;
    started = await gw.sfn.send(cancelExecution(gw, jobId, next.execution?.cancelAttempts ?? attempt + 1));
  }
  gw.logger.info('cancel workflow started', { jobId, executionArn: started.executionArn });
  return updateJob(gw, jobId, (j) => {
    if (!started.executionArn) return false;
    j.execution = { ...j.execution, cancelArn: started.executionArn };
  });
}
