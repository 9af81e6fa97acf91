/** DELETE /schedules/{id} — no more windows; jobs of a window not yet open are cancelled, launched ones keep their leases. */
import { parseOrThrow } from '../../shared/domain/requests';
import { ScheduleRef } from '../../shared/domain/schedule-requests';
import { deleteSchedule, findSchedule } from '../../shared/domain/windows/schedules';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'none', route: 'DELETE /schedules/{id}' }, async (gw, event, caller) => {
    const ref = parseOrThrow(ScheduleRef, event.pathParameters?.id, 'the schedule in the path');
    const { schedule, cancelled } = await deleteSchedule(gw, await findSchedule(gw, caller, ref, 'write'));
    return json(200, {
      scheduleId: schedule.scheduleId,
      name: schedule.name,
      deleted: true,
      cancelledJobs: cancelled,
    });
  });
}

export const handler = lazyHandler(createHandler);
