/**
 * DELETE /offloads/{id} — stops the job's workflow and starts the cancel workflow: 202 while it
 * removes what the job created (follow the job until `cancelled`), 200 once the job is cancelled.
 */
import { ownedJob } from '../../shared/domain/tenants';
import { cancelOffload } from '../../shared/domain/cancel';
import { JobId, parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'DELETE /offloads/{id}' }, async (gw, event, caller) => {
    const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
    await ownedJob(gw, caller, id, 'write');
    const job = await cancelOffload(gw, id);
    const answer = { jobId: job.jobId, state: job.state };
    if (job.state === 'cancelled') return json(200, answer);
    return json(202, answer, { location: `/offloads/${job.jobId}` });
  });
}

export const handler = lazyHandler(createHandler);
