/** PATCH /offloads/{id} — changes the job's lease (`{ lease: { expiresAt?, onExpiry?, returnBy? } }`). */
import { ownedJob } from '../../shared/domain/tenants';
import { updateLease } from '../../shared/domain/lease-actions';
import { JobId, UpdateOffloadRequest, parseOrThrow } from '../../shared/domain/requests';
import { viewJob } from '../../shared/domain/view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'required', route: 'PATCH /offloads/{id}' }, async (gw, event, caller) => {
    const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
    const req = parseOrThrow(UpdateOffloadRequest, event.parsedBody, 'the offload update');
    await ownedJob(gw, caller, id, 'write');
    const job = await updateLease(gw, id, req);
    return json(200, await viewJob(gw, job));
  });
}

export const handler = lazyHandler(createHandler);
