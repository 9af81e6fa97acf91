/** GET /schedules/{id}[?count=N] — a schedule (by id or name) with its next N windows in UTC and local time. */
import { parseOrThrow } from '../../shared/domain/requests';
import { ScheduleRef, ScheduleViewQuery } from '../../shared/domain/schedule-requests';
import { findSchedule } from '../../shared/domain/windows/schedules';
import { viewSchedule } from '../../shared/domain/windows/schedule-view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'GET /schedules/{id}' }, async (gw, event, caller) => {
    const ref = parseOrThrow(ScheduleRef, event.pathParameters?.id, 'the schedule in the path');
    const query = parseOrThrow(ScheduleViewQuery, event.queryStringParameters ?? {}, 'the query string');
    return json(200, viewSchedule(await findSchedule(gw, caller, ref, 'read'), query.count));
  });
}

export const handler = lazyHandler(createHandler);
