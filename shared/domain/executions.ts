/**
 * The Step Functions executions of a job, as both the API use cases and the workflow steps see
 * them: the input every execution gets, the ARN an execution of a name will have, and the release
 * of the offload's upload wait (the API and the AwaitUpload step race to send it).
 */
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import type { Gateway } from './gateway';
import type { Job } from './job';

/**
 * What every execution of a job gets: its id, and its cloud, on which the workflows branch (a
 * Choice on `$.target.cloud`). Deterministic, so a repeated StartExecution is idempotent.
 */
export function executionInput(job: Job): string {
  // AWS: how the disk went (direct/import) picks how it comes back (changed blocks/export).
  const mode = job.target.cloud === 'aws' ? job.target.mode : undefined;
  return JSON.stringify({
    jobId: job.jobId,
    target: { cloud: job.target.cloud, ...(mode ? { mode } : {}) },
    // A held or timed launch waits in AwaitLaunch once staged (a Choice on `$.launch`).
    ...(job.launch ? { launch: job.launch.mode } : {}),
  });
}

export function executionArn(stateMachineArn: string, name: string): string {
  return stateMachineArn.replace(':stateMachine:', ':execution:') + `:${name}`;
}

/** Sends the task token back once both the upload is complete and the execution waits for it. */
export async function releaseUploadWait(gw: Gateway, job: Job): Promise<void> {
  const token = job.execution?.uploadTaskToken;
  if (!token || !job.uploadCompletedAt) return;
  await releaseTaskToken(gw, token, { sizeBytes: job.bytes.uploaded });
}

/**
 * Ends a task-token wait (AwaitUpload, AwaitLaunch). Both sides of such a wait may send it (the
 * API and the step race); the second send is refused, harmlessly.
 */
export async function releaseTaskToken(gw: Gateway, taskToken: string, output: object): Promise<void> {
  try {
    await gw.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
  } catch (err) {
    if (!['TaskTimedOut', 'InvalidToken', 'TaskDoesNotExist'].includes((err as Error).name)) throw err;
  }
}
