/** GET /image-cache/{region}/{vmName} — a VM's AWS direct image cache entry and its block manifest's URL. */
import { getImageCacheView, ImageCachePath } from '../../shared/domain/image-cache-view';
import { parseOrThrow, TenantQuery } from '../../shared/domain/requests';
import { tenantToRead } from '../../shared/domain/tenants';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'none', route: 'GET /image-cache/{region}/{vmName}' },
    async (gw, event, caller) => {
      const path = parseOrThrow(ImageCachePath, event.pathParameters ?? {}, 'the path');
      const query = parseOrThrow(TenantQuery, event.queryStringParameters ?? {}, 'the query string');
      return json(200, await getImageCacheView(gw, tenantToRead(caller, query.tenant), path));
    },
  );
}

export const handler = lazyHandler(createHandler);
