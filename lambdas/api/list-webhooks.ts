/** GET /webhooks[?tenant=T] — the tenant's webhook endpoints (never a secret). */
import { parseOrThrow, TenantQuery } from '../../shared/domain/requests';
import { tenantToRead } from '../../shared/domain/tenants';
import { viewWebhook } from '../../shared/domain/webhooks/endpoints';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /webhooks' }, async (gw, event, caller) => {
    const query = parseOrThrow(TenantQuery, event.queryStringParameters ?? {}, 'the query string');
    const endpoints = await gw.webhooks.listOwned(tenantToRead(caller, query.tenant));
    return json(200, { items: endpoints.map(viewWebhook) });
  });
}

export const handler = lazyHandler(createHandler);
