/** POST /webhooks/{id}/rotate-secret — a new secret (in this answer only); the old one signs too until the overlap ends. */
import { parseOrThrow } from '../../shared/domain/requests';
import {
  RotateSecretRequest,
  WebhookId,
  ownedWebhook,
  rotateSecret,
  viewWebhook,
} from '../../shared/domain/webhooks/endpoints';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'optional', route: 'POST /webhooks/{id}/rotate-secret' },
    async (gw, event, caller) => {
      const id = parseOrThrow(WebhookId, event.pathParameters?.id, 'the webhook id in the path');
      const req = parseOrThrow(RotateSecretRequest, event.parsedBody ?? {}, 'the rotation');
      const { webhook, secret } = await rotateSecret(
        gw,
        await ownedWebhook(gw, caller, id, 'write'),
        req.overlapSeconds,
      );
      return json(200, { ...viewWebhook(webhook), secret });
    },
  );
}

export const handler = lazyHandler(createHandler);
