/** POST /webhooks/{id}/deliveries/{deliveryId}/replay — the same delivery again, with a fresh retry schedule. */
import { parseOrThrow } from '../../shared/domain/requests';
import { DeliveryId, WebhookId, ownedWebhook, replayDelivery } from '../../shared/domain/webhooks/endpoints';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'optional', route: 'POST /webhooks/{id}/deliveries/{deliveryId}/replay' },
    async (gw, event, caller) => {
      const id = parseOrThrow(WebhookId, event.pathParameters?.id, 'the webhook id in the path');
      const deliveryId = parseOrThrow(
        DeliveryId,
        event.pathParameters?.deliveryId,
        'the delivery id in the path',
      );
      await ownedWebhook(gw, caller, id, 'write');
      const delivery = await replayDelivery(gw, { kind: 'webhook', id }, deliveryId);
      return json(202, { deliveryId: delivery.deliveryId, state: delivery.state });
    },
  );
}

export const handler = lazyHandler(createHandler);
