/**
 * GET /offloads[?state=running&limit=50&cursor=…] — the caller's tenant's jobs, newest first, a
 * page at a time (`nextCursor` until the last page). `tenant=T` lists another tenant's (admin).
 */
import { ListOffloadsQuery, parseOrThrow } from '../../shared/domain/requests';
import { tenantToRead } from '../../shared/domain/tenants';
import { viewJob } from '../../shared/domain/view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /offloads' }, async (gw, event, caller) => {
    const query = parseOrThrow(ListOffloadsQuery, event.queryStringParameters ?? {}, 'the query string');
    const tenant = tenantToRead(caller, query.tenant);
    const page = await gw.store.listOwned({ ...query, tenant });
    return json(200, {
      items: await Promise.all(page.items.map((j) => viewJob(gw, j))),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    });
  });
}

export const handler = lazyHandler(createHandler);
