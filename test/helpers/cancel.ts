/**
 * A cancel as the gateway carries it out: the request (cancelOffload marks the job and starts the
 * cancel workflow), then that workflow's step. For tests that drive the domain functions
 * themselves, for tests on the embedded deployment, and for tests over HTTP.
 */
import type { GatewayClient } from '../../shared/client/api-client';
import { cancelEnded, followJob } from '../../shared/client/follow';
import type { JobView } from '../../shared/client/types';
import type { Embedded } from '../../infra/local/embedded';
import { cancelOffload } from '../../shared/domain/cancel';
import type { Gateway } from '../../shared/domain/gateway';
import type { Job } from '../../shared/domain/job';
import { removeCancelledJob } from '../../shared/domain/workflow/cancel';

/** No Step Functions to run it: the cancel workflow's step runs here, right after the request. */
export async function cancelAndRemove(gw: Gateway, jobId: string): Promise<Job> {
  await cancelOffload(gw, jobId);
  await removeCancelledJob(gw, jobId);
  return gw.store.get(jobId);
}

/** The embedded deployment's Step Functions runs the cancel workflow; this waits for it to end. */
export async function cancelThroughWorkflow(embedded: Embedded, gw: Gateway, jobId: string): Promise<Job> {
  const job = await cancelOffload(gw, jobId);
  const arn = job.execution?.cancelArn;
  if (arn) await embedded.stepFunctions.waitForExecution(arn);
  return gw.store.get(jobId);
}

/** Polls the job (as `burstgate cancel --wait` does) until its cancel has ended. */
export const untilCancelEnded = (client: GatewayClient, jobId: string): Promise<JobView> =>
  followJob(client, jobId, { until: cancelEnded, intervalMs: 25 });

/** DELETE /offloads/{id}, then the wait for its cancel workflow to end. */
export async function cancelOverHttp(client: GatewayClient, jobId: string): Promise<JobView> {
  await client.cancel(jobId);
  return untilCancelEnded(client, jobId);
}
