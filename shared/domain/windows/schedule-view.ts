/** What GET /schedules and GET /schedules/{id} show: the schedule, its next windows and its history, in UTC and local time. */
import type { ScheduleView, WindowView } from '../api-schemas';
import { ownerOf } from '../job';
import type { Schedule, WindowTimes } from '../schedule-model';
import { isoDuration } from '../../schedules/iso-duration';
import { redactUrl } from '../egress';
import { localTime, windowsAhead } from './window-plan';

/** The types follow the schemas (api-schemas.ts: ScheduleViewSchema, WindowViewSchema). */
export type { ScheduleView, WindowView };

export function viewSchedule(schedule: Schedule, count = 5): ScheduleView {
  const zone = schedule.window.timeZone;
  const local = <T extends WindowTimes>(w: T) => ({
    ...w,
    opensAtLocal: localTime(w.opensAt, zone),
    closesAtLocal: localTime(w.closesAt, zone),
  });
  const next =
    schedule.state === 'active' && schedule.next
      ? [schedule.next, ...windowsAhead(schedule, new Date(schedule.next.opensAt), count - 1)].slice(0, count)
      : [];
  const id = schedule.scheduleId;
  return {
    scheduleId: id,
    tenant: ownerOf(schedule),
    name: schedule.name,
    state: schedule.state,
    vms: schedule.vms,
    window: schedule.window,
    [schedule.length.kind]: schedule.length.text,
    prestage: {
      lead: isoDuration(schedule.prestage.leadSeconds),
      margin: isoDuration(schedule.prestage.marginSeconds),
    },
    onMissed: schedule.onMissed,
    ...(schedule.callbackUrl ? { callbackUrl: redactUrl(schedule.callbackUrl) } : {}),
    createdAt: schedule.createdAt,
    updatedAt: schedule.updatedAt,
    next: next.map(local),
    occurrences: schedule.occurrences.map(local),
    links: { self: `/schedules/${id}`, prestage: `/schedules/${id}/prestage` },
  };
}
