/**
 * Fire times of a cron() schedule: croner walks the pattern in the schedule's time zone, and this
 * module corrects it where EventBridge Scheduler behaves differently around daylight saving time.
 *
 * AWS: "Amazon EventBridge Scheduler automatically adjusts your schedule for Daylight Saving Time.
 * When the time shifts forward in Spring, your schedule invocation gets skipped if the cron
 * expression falls on a non-existent date and time. When the time shifts back in the Fall, your
 * schedule runs only once and doesn't repeat its invocation."
 * (https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst; the user guide's section:
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#daylist-savings-time)
 *
 * croner 11 (Vixie cron rules) differs in both directions, so two checks drop its extra runs:
 * - a fixed-time job ("30 2 * * *") whose time falls in a spring-forward gap runs at the first time
 *   after the gap (03:00): dropped, because the local time croner gives is not one the pattern names;
 * - an interval job ("0/15 * * * *") runs on both passes through a fall-back hour: the second pass
 *   is dropped, because its wall-clock time was already shown at an earlier instant.
 *
 * Translation to croner's 7-field pattern (seconds first, always 0): AWS day-of-week 1-7 (1 =
 * Sunday) becomes croner's 0-6 (0 = Sunday); `nL` becomes `n#L`; `?` becomes `*`; domAndDow is on
 * (legacyMode off) so a `*` in one day field never widens the other (AWS has one of them `?`); the
 * year field is passed on, `*` as AWS's 1970-2199.
 */
import { Cron } from 'croner';
import type { CronSpec } from './cron-spec';
import { isRepeatedWallClock, wallClock } from './time-zone';

/** How many candidates croner may offer that the DST rules drop before one is kept (a fall-back hour of an every-minute schedule drops 60). */
const MAX_DROPPED_CANDIDATES = 10_000;

export interface CronEvaluator {
  /** The croner pattern the expression became (for tests and diagnostics). */
  readonly cronerPattern: string;
  /** The first fire time t with t > after, t ≥ start and t ≤ end, or undefined. */
  next(after: number, start: number | undefined, end: number | undefined): number | undefined;
}

export function cronEvaluator(spec: CronSpec, timeZone: string): CronEvaluator {
  const cronerPattern = toCronerPattern(spec);
  const job = new Cron(cronerPattern, {
    paused: true,
    timezone: timeZone,
    mode: '7-part',
    domAndDow: true,
  });
  const minutes = new Set(spec.minutes);
  const hours = new Set(spec.hours);

  /** Whether EventBridge Scheduler fires at a time croner offers. */
  const firesAt = (t: number): boolean => {
    const w = wallClock(t, timeZone);
    // croner moved a time that does not exist (spring forward) to after the gap: AWS skips it.
    if (!minutes.has(w.minute) || !hours.has(w.hour)) return false;
    // The second pass through a repeated (fall-back) hour: AWS runs each time only once.
    return !isRepeatedWallClock(t, timeZone);
  };

  return {
    cronerPattern,
    next(after, start, end) {
      // croner answers strictly after `from`; a fire time exactly at `start` counts.
      let from = start !== undefined && start - 1 > after ? start - 1 : after;
      for (let i = 0; i < MAX_DROPPED_CANDIDATES; i++) {
        const candidate = job.nextRun(new Date(from));
        if (candidate === null) return undefined;
        const t = candidate.getTime();
        if (end !== undefined && t > end) return undefined;
        if (t > after && (start === undefined || t >= start) && firesAt(t)) return t;
        from = t;
      }
      return undefined;
    },
  };
}

export function toCronerPattern(spec: CronSpec): string {
  return [
    '0',
    list(spec.minutes, 0, 59),
    list(spec.hours, 0, 23),
    dayOfMonth(spec),
    list(spec.months, 1, 12),
    dayOfWeek(spec),
    // croner's own year range is 1-9999; AWS's is 1970-2199, so `*` is spelled out.
    list(spec.years, 1970, 2199, false),
  ].join(' ');
}

function dayOfMonth(spec: CronSpec): string {
  const d = spec.dayOfMonth;
  switch (d.kind) {
    case 'unset':
      return '*';
    case 'days':
      return list(d.days, 1, 31);
    case 'last':
      return 'L';
    case 'last-weekday':
      return 'LW';
    case 'nearest-weekday':
      return `${d.day}W`;
  }
}

function dayOfWeek(spec: CronSpec): string {
  const d = spec.dayOfWeek;
  switch (d.kind) {
    case 'unset':
      return '*';
    case 'days':
      return list(
        d.days.map((v) => v - 1),
        0,
        6,
      );
    case 'last':
      return `${d.day - 1}#L`;
    case 'nth':
      return `${d.day - 1}#${d.nth}`;
  }
}

/** Sorted values as croner list items: runs become ranges, the whole range `*` (unless `star` is false). */
function list(values: readonly number[], min: number, max: number, star = true): string {
  const sorted = [...values].sort((a, b) => a - b);
  if (star && sorted.length === max - min + 1) return '*';
  const items: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    items.push(j - i >= 2 ? `${sorted[i]}-${sorted[j]}` : sorted.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return items.join(',');
}
