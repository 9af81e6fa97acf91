/**
 * Wall-clock time in an IANA time zone, from Intl only: the local date and time of an instant, the
 * zone's UTC offset at an instant, and the instants (none, one or two) a local date and time names.
 * EventBridge Scheduler reads cron() and at() expressions in the schedule's
 * ScheduleExpressionTimezone (default UTC):
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#time-zones
 */
import { ScheduleExpressionError, quote } from './errors';

/** A local date and time, every field a plain number (month 1-12, hour 0-23). */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** Longest zone name accepted (the longest IANA name is about 30 characters). */
const MAX_ZONE_LENGTH = 64;
const ZONE_SHAPE = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The local date and time of an instant (milliseconds since the epoch) in `timeZone`. */
export function wallClock(instantMs: number, timeZone: string): WallClock {
  const w: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(new Date(instantMs))) {
    if (part.type in w) w[part.type as keyof WallClock] = Number(part.value);
  }
  return w;
}

/**
 * A wall-clock time read as if it were UTC, in milliseconds: the key for comparing wall clocks.
 * (setUTCFullYear, not Date.UTC: that one reads years 0-99 as 1900-1999.)
 */
export function wallClockMs(w: WallClock): number {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  d.setUTCHours(w.hour, w.minute, w.second, 0);
  return d.getTime();
}

/** The zone's offset from UTC at an instant, in milliseconds (east positive: Berlin in summer 7_200_000). */
export function offsetMs(instantMs: number, timeZone: string): number {
  const wholeSecond = Math.floor(instantMs / 1000) * 1000;
  return wallClockMs(wallClock(wholeSecond, timeZone)) - wholeSecond;
}

/** "UTC+01:00", "UTC-05:00", "UTC+05:45". */
export function formatOffset(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const hh = String(Math.floor(minutes / 60)).padStart(2, '0');
  const mm = String(minutes % 60).padStart(2, '0');
  return `UTC${ms < 0 ? '-' : '+'}${hh}:${mm}`;
}

/**
 * The instants at which the zone's clocks show `w`, earliest first: one on an ordinary day, none
 * in a spring-forward gap, two in a fall-back overlap. Offsets are taken a day either side, so a
 * transition near `w` is seen (zones do not change their offset twice within a day).
 */
export function instantsOf(w: WallClock, timeZone: string): number[] {
  const asUtc = wallClockMs(w);
  const offsets = new Set([asUtc - DAY_MS, asUtc, asUtc + DAY_MS].map((t) => offsetMs(t, timeZone)));
  const found = new Set<number>();
  for (const offset of offsets) {
    const candidate = asUtc - offset;
    if (offsetMs(candidate, timeZone) === offset) found.add(candidate);
  }
  return [...found].sort((a, b) => a - b);
}

/**
 * True when the wall-clock time the zone shows at `instantMs` was already shown at an earlier
 * instant: the second pass through the hour (or half hour) a fall-back transition repeats.
 */
export function isRepeatedWallClock(instantMs: number, timeZone: string): boolean {
  const now = offsetMs(instantMs, timeZone);
  const dayBefore = offsetMs(instantMs - DAY_MS, timeZone);
  if (dayBefore <= now) return false;
  // The same wall clock under the earlier (larger) offset, if it is in force there.
  const earlier = instantMs - (dayBefore - now);
  return offsetMs(earlier, timeZone) === dayBefore;
}

/**
 * Throws ScheduleExpressionError (BG_SCHEDULE_TIMEZONE) unless `timeZone` is an IANA zone name
 * Intl knows, spelled with its capitals (Intl itself would take "europe/berlin"; EventBridge
 * Scheduler is not documented to). UTC offsets ("+01:00") are not zone names.
 */
export function assertTimeZone(timeZone: string): void {
  const bad = (why: string): ScheduleExpressionError =>
    new ScheduleExpressionError('BG_SCHEDULE_TIMEZONE', `time zone ${quote(String(timeZone))} ${why}`, {
      field: 'timeZone',
    });
  if (typeof timeZone !== 'string' || timeZone.length === 0) {
    throw bad('is empty: give an IANA zone name such as "UTC" or "Europe/Berlin"');
  }
  if (timeZone.length > MAX_ZONE_LENGTH || !ZONE_SHAPE.test(timeZone)) {
    throw bad(
      'is not an IANA zone name (Area/Location, e.g. "America/New_York"; UTC offsets are not accepted)',
    );
  }
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    const guess = closestZone(timeZone);
    throw bad(`is not a time zone this runtime knows${guess ? `: did you mean "${guess}"?` : ''}`);
  }
  if (resolved !== timeZone && resolved.toLowerCase() === timeZone.toLowerCase()) {
    throw bad(`is spelled with the wrong capitals: write "${resolved}"`);
  }
}

/** The known zone nearest to `name` by edit distance, if one is close (a typo). */
function closestZone(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 5)) + 1;
  for (const zone of Intl.supportedValuesOf('timeZone')) {
    const d = editDistance(name.toLowerCase(), zone.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = zone;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it cannot be below `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit);
}
