/**
 * The arithmetic of burst windows, pure: when a schedule's windows open (its cron in its zone, or
 * its one instant), when each closes, when it is pre-staged and by when it must be staged, what a
 * window looks like on the zone's clocks, and whether two schedules' windows overlap. The README's
 * "Burst windows" section is the contract; the daylight saving rules are:
 *
 * - Openings follow shared/schedules (AWS's rules): a local time the clocks skip (spring forward)
 *   does not occur that day; a local time that happens twice (fall back) opens once, the first time.
 * - `duration` is elapsed time. `closesAfter` is wall-clock time in the zone: a closing time the
 *   clocks skip moves forward by the gap (02:30 on the spring day is 03:30); one that happens twice
 *   is the first of the two.
 */
import { ValidationError } from '../errors';
import type { WindowLength, WindowSpec, WindowTimes } from '../schedule-model';
import {
  assertTimeZone,
  formatOffset,
  instantsOf,
  isScheduleExpressionError,
  offsetMs,
  parseScheduleExpression,
  wallClock,
  wallClockMs,
  type ParsedSchedule,
  type WallClock,
} from '../../schedules';

/** What decides a schedule's windows. */
export interface WindowRule {
  window: WindowSpec;
  length: WindowLength;
  prestage: { leadSeconds: number; marginSeconds: number };
}

/** How far ahead windows are compared (overlaps, a lead longer than the gap): a year and a day… */
export const CHECK_HORIZON_MS = 366 * 86_400_000;
/** …or this many windows, whichever comes first. */
export const CHECK_MAX_WINDOWS = 2000;

const DAY = 86_400;
export const LIMITS = {
  minLengthSeconds: 600,
  maxLengthSeconds: 31 * DAY,
  minLeadSeconds: 300,
  maxLeadSeconds: 7 * DAY,
  defaultLeadSeconds: 2 * 3600,
  defaultMarginSeconds: 600,
} as const;

/**
 * The schedule expression of a window: its cron in its zone, or its one instant as at() in UTC.
 * A bad cron or zone is a ValidationError naming the field (`window.cron`, `window.timeZone`) and,
 * for a cron, the position (cron field and character offset).
 */
export function openingsOf(window: WindowSpec, path = 'window'): ParsedSchedule {
  const text = 'cron' in window ? window.cron : `at(${new Date(window.at).toISOString().slice(0, 19)})`;
  try {
    const parsed = parseScheduleExpression(text, 'cron' in window ? window.timeZone : 'UTC');
    assertTimeZone(window.timeZone); // an at() window's display zone
    return parsed;
  } catch (err) {
    if (!isScheduleExpressionError(err)) throw err;
    const field = err.where.field === 'timeZone' ? 'timeZone' : 'cron' in window ? 'cron' : 'at';
    const where = [
      err.where.cronField !== undefined ? `field ${err.where.cronField} (${err.where.cronFieldName})` : '',
      err.where.offset !== undefined ? `character ${err.where.offset}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    throw new ValidationError(`${path}.${field}: ${err.message}`, [
      {
        path: `${path}.${field}`,
        message: `${err.code}${where ? ` at ${where}` : ''}: ${err.message}`,
      },
    ]);
  }
}

/** When a window that opens at `opensAt` closes. */
export function closesAt(opensAt: Date, length: WindowLength, timeZone: string): Date {
  if (length.kind === 'duration') return new Date(opensAt.getTime() + length.seconds * 1000);
  const local = wallClockMs(wallClock(opensAt.getTime(), timeZone)) + length.seconds * 1000;
  const w = asWallClock(local);
  const instants = instantsOf(w, timeZone);
  if (instants[0] !== undefined) return new Date(instants[0]);
  // Skipped by the clocks: read it with the offset before the gap, which lands as far past the jump.
  return new Date(local - offsetMs(local - DAY * 1000, timeZone));
}

function asWallClock(ms: number): WallClock {
  const d = new Date(ms);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

/** All the times of the window that opens at `opensAt`. */
export function timesOf(rule: WindowRule, opensAt: Date): WindowTimes {
  const open = opensAt.getTime();
  return {
    opensAt: opensAt.toISOString(),
    closesAt: closesAt(opensAt, rule.length, rule.window.timeZone).toISOString(),
    prestageAt: new Date(open - rule.prestage.leadSeconds * 1000).toISOString(),
    stageBy: new Date(open - rule.prestage.marginSeconds * 1000).toISOString(),
  };
}

/** The first window opening strictly after `after`, or undefined when the schedule has no more. */
export function windowAfter(rule: WindowRule, after: Date): WindowTimes | undefined {
  const next = openingsOf(rule.window).next(after);
  return next ? timesOf(rule, next) : undefined;
}

/** The windows opening after `after` within the check horizon. */
export function windowsAhead(rule: WindowRule, after: Date, max = CHECK_MAX_WINDOWS): WindowTimes[] {
  const end = after.getTime() + CHECK_HORIZON_MS;
  return openingsOf(rule.window)
    .occurrences(after, max)
    .filter((d) => d.getTime() <= end)
    .map((d) => timesOf(rule, d));
}

/** An instant as the zone's clocks show it, with the offset: `2027-10-22T18:00:00+02:00`. */
export function localTime(iso: string, timeZone: string): string {
  const ms = Date.parse(iso);
  const w = wallClock(ms, timeZone);
  const p = (n: number, width = 2) => String(n).padStart(width, '0');
  const offset = formatOffset(offsetMs(ms, timeZone)).slice(3);
  return `${p(w.year, 4)}-${p(w.month)}-${p(w.day)}T${p(w.hour)}:${p(w.minute)}:${p(w.second)}${offset === '+00:00' ? 'Z' : offset}`;
}

/**
 * Checks a rule against itself over the horizon: a window must close before the next one opens
 * (the same VMs cannot be in two windows at once), and the prestage lead must not reach back past
 * the previous opening (one window at a time is pre-staged). Throws a ValidationError naming the
 * field and the two windows.
 */
export function checkRule(rule: WindowRule, now: Date, path = ''): WindowTimes[] {
  const windows = windowsAhead(rule, now);
  if (windows.length === 0) {
    throw new ValidationError(`${path}window: it opens no window after ${now.toISOString()}`, [
      { path: `${path}window`, message: 'no opening in the future' },
    ]);
  }
  const lengthField = `${path}${rule.length.kind}`;
  for (let i = 1; i < windows.length; i++) {
    const prev = windows[i - 1]!;
    const cur = windows[i]!;
    if (Date.parse(prev.closesAt) > Date.parse(cur.opensAt)) {
      throw new ValidationError(
        `${lengthField}: the window opening ${prev.opensAt} closes at ${prev.closesAt}, after the next one opens (${cur.opensAt}); shorten ${rule.length.kind} below the gap between openings`,
        [{ path: lengthField, message: 'longer than the gap between two openings' }],
      );
    }
    if (Date.parse(cur.prestageAt) < Date.parse(prev.opensAt)) {
      throw new ValidationError(
        `${path}prestage.lead: ${rule.prestage.leadSeconds} s before the window opening ${cur.opensAt} is before the previous window opens (${prev.opensAt}); one window is pre-staged at a time, so the lead must be at most the gap between openings`,
        [{ path: `${path}prestage.lead`, message: 'longer than the gap between two openings' }],
      );
    }
  }
  return windows;
}

/** The first pair of windows (one of each list) that overlap in time, if any. */
export function firstOverlap(
  mine: readonly WindowTimes[],
  theirs: readonly WindowTimes[],
): [WindowTimes, WindowTimes] | undefined {
  let j = 0;
  for (const a of mine) {
    while (j < theirs.length && Date.parse(theirs[j]!.closesAt) <= Date.parse(a.opensAt)) j++;
    const b = theirs[j];
    if (b && Date.parse(b.opensAt) < Date.parse(a.closesAt)) return [a, b];
  }
  return undefined;
}
