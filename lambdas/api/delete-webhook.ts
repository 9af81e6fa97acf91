/** DELETE /webhooks/{id} — no more deliveries to the endpoint (those under way finish their attempt). */
import { parseOrThrow } from '../../shared/domain/requests';
import { WebhookId, ownedWebhook } from '../../shared/domain/webhooks/endpoints';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'DELETE /webhooks/{id}' }, async (gw, event, caller) => {
    const id = parseOrThrow(WebhookId, event.pathParameters?.id, 'the webhook id in the path');
    await ownedWebhook(gw, caller, id, 'write');
    await gw.webhooks.delete(id);
    return json(200, { webhookId: id, deleted: true });
  });
}

export const handler = lazyHandler(createHandler);
