/** POST /offloads/{id}/launch — releases a held launch (`launch: "hold"`), or a timed one early. */
import { ownedJob } from '../../shared/domain/tenants';
import { releaseLaunch } from '../../shared/domain/launch-gate';
import { JobId, parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'optional', route: 'POST /offloads/{id}/launch' },
    async (gw, event, caller) => {
      const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
      await ownedJob(gw, caller, id, 'write');
      const job = await releaseLaunch(gw, id, 'api');
      return json(202, { jobId: job.jobId, state: job.state, launch: job.launch });
    },
  );
}

export const handler = lazyHandler(createHandler);
