/** POST /schedules — a schedule of burst windows; its first window's prestage timer is set. */
import { CreateScheduleRequest } from '../../shared/domain/schedule-requests';
import { parseOrThrow } from '../../shared/domain/requests';
import { createSchedule } from '../../shared/domain/windows/schedules';
import { viewSchedule } from '../../shared/domain/windows/schedule-view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'required', route: 'POST /schedules' }, async (gw, event, caller) => {
    const req = parseOrThrow(CreateScheduleRequest, event.parsedBody, 'the schedule');
    const { schedule, replayed } = await createSchedule(gw, req, caller.tenant);
    const secret = schedule.callbackSecret ? { callbackSecret: schedule.callbackSecret } : {};
    return json(
      replayed ? 200 : 201,
      { ...viewSchedule(schedule), ...secret },
      {
        location: `/schedules/${schedule.scheduleId}`,
        ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
      },
    );
  });
}

export const handler = lazyHandler(createHandler);
