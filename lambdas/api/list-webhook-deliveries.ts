/** GET /webhooks/{id}/deliveries — the endpoint's deliveries, newest first, with every attempt. */
import { parseOrThrow } from '../../shared/domain/requests';
import { deliveryLog } from '../../shared/domain/webhooks/deliveries';
import { WebhookId, ownedWebhook } from '../../shared/domain/webhooks/endpoints';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'none', route: 'GET /webhooks/{id}/deliveries' },
    async (gw, event, caller) => {
      const id = parseOrThrow(WebhookId, event.pathParameters?.id, 'the webhook id in the path');
      await ownedWebhook(gw, caller, id, 'read');
      return json(200, { items: await deliveryLog(gw, { kind: 'webhook', id }) });
    },
  );
}

export const handler = lazyHandler(createHandler);
