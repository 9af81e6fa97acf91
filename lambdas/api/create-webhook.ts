/** POST /webhooks — a tenant's webhook endpoint `{url, events[]}`; its secret is in this answer only. */
import { parseOrThrow } from '../../shared/domain/requests';
import { CreateWebhookRequest, createWebhook, viewWebhook } from '../../shared/domain/webhooks/endpoints';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'required', route: 'POST /webhooks' }, async (gw, event, caller) => {
    const req = parseOrThrow(CreateWebhookRequest, event.parsedBody, 'the webhook');
    const { webhook, secret } = await createWebhook(gw, caller.tenant, req);
    return json(201, { ...viewWebhook(webhook), secret }, { location: `/webhooks/${webhook.webhookId}` });
  });
}

export const handler = lazyHandler(createHandler);
