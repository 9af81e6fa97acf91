/** POST /offloads/{id}/return — starts the return workflow (stop, export, publish, clean up). */
import { ownedJob } from '../../shared/domain/tenants';
import { startReturn } from '../../shared/domain/offloads';
import { JobId, parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'optional', route: 'POST /offloads/{id}/return' },
    async (gw, event, caller) => {
      const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
      await ownedJob(gw, caller, id, 'write');
      const job = await startReturn(gw, id);
      return json(202, { jobId: job.jobId, state: job.state });
    },
  );
}

export const handler = lazyHandler(createHandler);
