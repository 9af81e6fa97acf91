/** DELETE /offloads/{id} — stops the execution and removes everything the job created. */
import { ownedJob } from '../../shared/domain/tenants';
import { cancelOffload } from '../../shared/domain/offloads';
import { JobId, parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'DELETE /offloads/{id}' }, async (gw, event, caller) => {
    const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
    await ownedJob(gw, caller, id, 'write');
    const job = await cancelOffload(gw, id);
    return json(200, { jobId: job.jobId, state: job.state });
  });
}

export const handler = lazyHandler(createHandler);
