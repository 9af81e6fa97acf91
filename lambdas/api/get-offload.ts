/** GET /offloads/{id} — state, steps, resources, timings, bytes, and the download once returned. */
import { ownedJob } from '../../shared/domain/tenants';
import { JobId, parseOrThrow } from '../../shared/domain/requests';
import { viewJob } from '../../shared/domain/view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /offloads/{id}' }, async (gw, event, caller) => {
    const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
    const job = await ownedJob(gw, caller, id, 'read');
    return json(200, await viewJob(gw, job));
  });
}

export const handler = lazyHandler(createHandler);
