/**
 * GET /schedules[?limit&cursor] — the caller's tenant's schedules with their next window, newest
 * first, a page at a time. `tenant=T` lists another tenant's (admin).
 */
import { parseOrThrow } from '../../shared/domain/requests';
import { ListSchedulesQuery } from '../../shared/domain/schedule-requests';
import { tenantToRead } from '../../shared/domain/tenants';
import { viewSchedule } from '../../shared/domain/windows/schedule-view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /schedules' }, async (gw, event, caller) => {
    const query = parseOrThrow(ListSchedulesQuery, event.queryStringParameters ?? {}, 'the query string');
    const tenant = tenantToRead(caller, query.tenant);
    const page = await gw.schedules.listOwned({ ...query, tenant });
    return json(200, {
      items: page.items.map((s) => viewSchedule(s, 1)),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    });
  });
}

export const handler = lazyHandler(createHandler);
