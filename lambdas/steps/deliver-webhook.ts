/** Webhook · DeliverWebhook: one attempt of a delivery; says whether to stop or how long to wait. */
import { attemptDelivery } from '../../shared/domain/webhooks/deliveries';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'webhook', (gw, e) => attemptDelivery(gw, e));
}

export const handler = lazyHandler(createHandler);
