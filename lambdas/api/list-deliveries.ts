/** GET /offloads/{id}/deliveries — the job's webhook deliveries, newest first, with every attempt. */
import { JobId, parseOrThrow } from '../../shared/domain/requests';
import { ownedJob } from '../../shared/domain/tenants';
import { deliveryLog } from '../../shared/domain/webhooks/deliveries';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'none', route: 'GET /offloads/{id}/deliveries' },
    async (gw, event, caller) => {
      const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
      await ownedJob(gw, caller, id, 'read');
      return json(200, { items: await deliveryLog(gw, { kind: 'job', id }) });
    },
  );
}

export const handler = lazyHandler(createHandler);
