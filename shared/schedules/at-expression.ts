/**
 * at(yyyy-mm-ddThh:mm:ss): a one-time schedule. AWS: "You can use at expressions to create one-time
 * schedules that invoke a target once, at the time and in the time zone, that you specify"
 * (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html, ScheduleExpression);
 * the zone is the schedule's ScheduleExpressionTimezone, UTC by default
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#one-time). So the date
 * and time are a local wall-clock time in that zone, with no offset or Z of their own.
 *
 * The docs say nothing of a wall-clock time daylight saving time skips or repeats. This module:
 * - refuses a time in a spring-forward gap (BG_SCHEDULE_AT_DST_GAP): it names no instant, and a
 *   cron() time there is skipped, so the schedule would never do what it says;
 * - takes the first of the two instants of a time in a fall-back overlap, as cron() runs a
 *   repeated time once, at its first pass.
 */
import { ScheduleExpressionError, quote } from './errors';
import { formatOffset, instantsOf, offsetMs, wallClock, wallClockMs, type WallClock } from './time-zone';

const AT_SHAPE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/;
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAY_MS = 86_400_000;

/**
 * The instant an at() expression fires at. `inner` is the text between "at(" and ")", which starts
 * at `innerOffset` in `text`.
 */
export function parseAt(text: string, inner: string, innerOffset: number, timeZone: string): number {
  const fail = (message: string, offset = innerOffset): ScheduleExpressionError =>
    new ScheduleExpressionError('BG_SCHEDULE_AT', message, { field: 'expression', offset });
  const m = AT_SHAPE.exec(inner);
  if (!m) {
    throw fail(
      `at() expression ${quote(text)} at offset ${innerOffset} is not at(yyyy-mm-ddThh:mm:ss): write the local date and time in ${timeZone}, without an offset or Z, e.g. at(2027-10-22T18:00:00)`,
    );
  }
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = inner.slice(0, 10);
  if (year < 1970) {
    throw fail(
      `at() date ${date} at offset ${innerOffset} is before 1970: give the date the schedule should run on`,
    );
  }
  if (month < 1 || month > 12) {
    throw fail(`at() date ${date} at offset ${innerOffset} has month ${m[2]}: use 01-12`);
  }
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) {
    throw fail(
      `at() date ${date} at offset ${innerOffset} is not a calendar date: ${MONTH_NAMES[month - 1]} ${year} has ${daysInMonth} days`,
    );
  }
  const time = inner.slice(11);
  const timeOffset = innerOffset + 11;
  if (hour > 23 || minute > 59 || second > 59) {
    throw fail(
      `at() time ${time} at offset ${timeOffset} is not a time of day: use 00:00:00-23:59:59`,
      timeOffset,
    );
  }
  const wall: WallClock = { year, month, day, hour, minute, second };
  const instants = instantsOf(wall, timeZone);
  const first = instants[0];
  if (first === undefined) throw gapError(text, inner, innerOffset, wall, timeZone);
  return first;
}

function gapError(
  text: string,
  inner: string,
  innerOffset: number,
  wall: WallClock,
  timeZone: string,
): ScheduleExpressionError {
  const asUtc = wallClockMs(wall);
  const before = offsetMs(asUtc - DAY_MS, timeZone);
  const after = offsetMs(asUtc + DAY_MS, timeZone);
  // The same reading of the clock under the offset before the gap lands after it.
  const suggestion = formatWallClock(wallClock(asUtc - before, timeZone));
  return new ScheduleExpressionError(
    'BG_SCHEDULE_AT_DST_GAP',
    `at() expression ${quote(text)} at offset ${innerOffset} names ${inner}, a local time that does not exist in ${timeZone}: the clocks jump from ${formatOffset(before)} to ${formatOffset(after)} then (daylight saving time); use a time outside the gap, e.g. at(${suggestion})`,
    { field: 'expression', offset: innerOffset },
  );
}

function formatWallClock(w: WallClock): string {
  const p = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${p(w.year, 4)}-${p(w.month)}-${p(w.day)}T${p(w.hour)}:${p(w.minute)}:${p(w.second)}`;
}
