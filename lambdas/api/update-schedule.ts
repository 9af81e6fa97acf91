/** PATCH /schedules/{id} — pause, resume or change a schedule; windows already pre-staged stay as they are. */
import { parseOrThrow } from '../../shared/domain/requests';
import { ScheduleRef, UpdateScheduleRequest } from '../../shared/domain/schedule-requests';
import { findSchedule, updateSchedule } from '../../shared/domain/windows/schedules';
import { viewSchedule } from '../../shared/domain/windows/schedule-view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'required', route: 'PATCH /schedules/{id}' }, async (gw, event, caller) => {
    const ref = parseOrThrow(ScheduleRef, event.pathParameters?.id, 'the schedule in the path');
    const req = parseOrThrow(UpdateScheduleRequest, event.parsedBody, 'the schedule update');
    const schedule = await updateSchedule(gw, await findSchedule(gw, caller, ref, 'write'), req);
    // a PATCH that sets the callback URL answers the secret its deliveries are signed with
    const secret =
      req.callbackUrl && schedule.callbackSecret ? { callbackSecret: schedule.callbackSecret } : {};
    return json(200, { ...viewSchedule(schedule), ...secret });
  });
}

export const handler = lazyHandler(createHandler);
