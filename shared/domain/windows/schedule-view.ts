/** What GET /schedules and GET /schedules/{id} show: the schedule, its next windows and its history, in UTC and local time. */
import { ownerOf } from '../job';
import type { Occurrence, Schedule, WindowTimes } from '../schedule-model';
import { isoDuration } from '../../schedules/iso-duration';
import { redactUrl } from '../egress';
import { localTime, windowsAhead } from './window-plan';

export interface WindowView extends WindowTimes {
  opensAtLocal: string;
  closesAtLocal: string;
}

export interface ScheduleView {
  scheduleId: string;
  /** The tenant that owns the schedule and its window jobs. */
  tenant: string;
  name: string;
  state: Schedule['state'];
  vms: Schedule['vms'];
  window: Schedule['window'];
  duration?: string;
  closesAfter?: string;
  /** The prestage lead and margin, as ISO-8601 durations. */
  prestage: { lead: string; margin: string };
  onMissed: Schedule['onMissed'];
  callbackUrl?: string;
  createdAt: string;
  updatedAt: string;
  /** The next windows (the first is the one the prestage timer is set for). */
  next: WindowView[];
  /** Windows handled so far, newest first. */
  occurrences: Array<Occurrence & { opensAtLocal: string; closesAtLocal: string }>;
  links: { self: string; prestage: string };
}

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
