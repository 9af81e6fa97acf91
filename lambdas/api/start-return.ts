/** POST /offloads/{id}/return — starts the return workflow (stop, export, publish, clean up). */
import { startReturn } from '../../shared/domain/offloads';
import { JobId, parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'optional' }, async (gw, event) => {
    const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
    const job = await startReturn(gw, id);
    return json(202, { jobId: job.jobId, state: job.state });
  });
}

export const handler = lazyHandler(createHandler);
