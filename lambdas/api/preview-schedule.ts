/** GET /schedules/preview?cron=…&timeZone=…[&count&after&duration|closesAfter] — the next windows of a cron in a zone. */
import { parseOrThrow } from '../../shared/domain/requests';
import { PreviewQuery } from '../../shared/domain/schedule-requests';
import { previewSchedule } from '../../shared/domain/windows/schedules';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /schedules/preview' }, async (gw, event) => {
    const query = parseOrThrow(PreviewQuery, event.queryStringParameters ?? {}, 'the query string');
    return json(200, previewSchedule(gw, query));
  });
}

export const handler = lazyHandler(createHandler);
