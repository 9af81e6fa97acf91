/**
 * Picks up jobs whose workflow was cut off when the embedded deployment stopped. In AWS, Step
 * Functions keeps executions running across anything that happens to the caller; the local
 * stand-in ends them with the process. Every workflow step is idempotent (it reuses what it
 * already created, recorded on the job), so starting the job's workflow again continues it.
 */
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { createGateway, updateJob } from '../../shared/domain/gateway';
import { cancelOffload } from '../../shared/domain/cancel';
import { executionInput } from '../../shared/domain/executions';
import type { Job, JobState } from '../../shared/domain/job';
import type { GatewayDeps } from '../../shared/runtime/deps';

const OFFLOAD_STATES: ReadonlySet<JobState> = new Set([
  'awaiting-upload',
  'inspecting',
  'importing',
  'staged',
  'launching',
]);

export interface ResumedJob {
  jobId: string;
  state: JobState;
  executionArn?: string;
}

async function isRunning(deps: GatewayDeps, arn: string | undefined): Promise<boolean> {
  if (!arn) return false;
  try {
    const out = await deps.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    return out.status === 'RUNNING';
  } catch (err) {
    if ((err as Error).name === 'ExecutionDoesNotExist') return false;
    throw err;
  }
}

export async function resumeInterruptedJobs(deps: GatewayDeps): Promise<ResumedJob[]> {
  const gw = createGateway(deps);
  const resumed: ResumedJob[] = [];
  for (const job of await gw.store.scanAll()) {
    // One job that cannot be finished must not keep the deployment (and every other job) down.
    try {
      if (job.state === 'cancelling') {
        await cancelOffload(gw, job.jobId);
        resumed.push({ jobId: job.jobId, state: job.state });
        continue;
      }
      const kind = OFFLOAD_STATES.has(job.state)
        ? 'offload'
        : job.state === 'returning'
          ? 'return'
          : undefined;
      if (!kind) continue;
      const current = kind === 'offload' ? job.execution?.offloadArn : job.execution?.returnArn;
      if (await isRunning(deps, current)) continue;
      resumed.push({ jobId: job.jobId, state: job.state, executionArn: await restart(deps, job, kind) });
    } catch (err) {
      gw.logger.error('could not resume an interrupted job; it is left as it is', {
        jobId: job.jobId,
        state: job.state,
        error: err as Error,
      });
    }
  }
  return resumed;
}

async function restart(deps: GatewayDeps, job: Job, kind: 'offload' | 'return'): Promise<string> {
  const gw = createGateway(deps);
  const stateMachineArn =
    kind === 'offload' ? deps.config.offloadStateMachineArn : deps.config.returnStateMachineArn;
  const n = (job.execution?.resumes ?? 0) + 1;
  const name = `${job.jobId}-${kind}-resume-${n}`;
  const out = await deps.sfn.send(
    new StartExecutionCommand({ stateMachineArn, name, input: executionInput(job) }),
  );
  const arn = out.executionArn ?? '';
  await updateJob(gw, job.jobId, (j) => {
    j.execution = {
      ...j.execution,
      resumes: n,
      ...(kind === 'offload' ? { offloadArn: arn } : { returnArn: arn }),
    };
  });
  gw.logger.info('resumed an interrupted workflow', {
    jobId: job.jobId,
    state: job.state,
    executionArn: arn,
  });
  return arn;
}
