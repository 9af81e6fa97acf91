/** GET /offloads[?state=running&limit=50] — jobs, newest first. */
import { ListOffloadsQuery, parseOrThrow } from '../../shared/domain/requests';
import { viewJob } from '../../shared/domain/view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none' }, async (gw, event) => {
    const query = parseOrThrow(ListOffloadsQuery, event.queryStringParameters ?? {}, 'the query string');
    const jobs = await gw.store.list(query);
    return json(200, { items: await Promise.all(jobs.map((j) => viewJob(gw, j))) });
  });
}

export const handler = lazyHandler(createHandler);
