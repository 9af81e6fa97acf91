// PROVISIONAL: replaced by the real translator at merge
/**
 * EventBridge Scheduler schedule expressions, parsed once and asked for their occurrences.
 *
 * This provisional version knows `at(yyyy-mm-ddThh:mm:ss)` (a wall time in the schedule's time zone,
 * resolved through Intl) and `rate(n minute(s)|hour(s)|day(s))`; `cron(…)` throws. The real
 * translator replaces this file with the same API.
 */
import { ScheduleExpressionError } from './errors';

export interface ScheduleBounds {
  start?: Date;
  end?: Date;
  /** What rate() counts from (the schedule's creation time). */
  origin?: Date;
}

export interface ParsedSchedule {
  kind: 'at' | 'rate' | 'cron';
  text: string;
  /** Default "UTC". */
  timeZone: string;
  /** The first occurrence strictly after `after`, or undefined when there is none. */
  next(after: Date, bounds?: ScheduleBounds): Date | undefined;
  occurrences(after: Date, count: number, bounds?: ScheduleBounds): Date[];
}

const AT = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

const syntax = (message: string, offset?: number) =>
  new ScheduleExpressionError('BG_SCHEDULE_SYNTAX', message, {
    field: 'expression',
    ...(offset !== undefined ? { offset } : {}),
  });

export function assertTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new ScheduleExpressionError('BG_SCHEDULE_TIMEZONE', `unknown time zone '${timeZone}'`, {
      field: 'timeZone',
    });
  }
}

export function parseScheduleExpression(text: string, timeZone = 'UTC'): ParsedSchedule {
  assertTimeZone(timeZone);
  const at = AT.exec(text);
  if (at) return atSchedule(text, timeZone, at.slice(1).map(Number));
  const rate = RATE.exec(text);
  if (rate) return rateSchedule(text, timeZone, Number(rate[1]), String(rate[2]));
  if (text.startsWith('cron(')) throw syntax('provisional: cron() is not supported yet');
  throw syntax(`'${text}' is not at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)`, 0);
}

function atSchedule(text: string, timeZone: string, parts: number[]): ParsedSchedule {
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0] = parts;
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  const check = new Date(wall);
  if (
    check.getUTCFullYear() !== y ||
    check.getUTCMonth() !== mo - 1 ||
    check.getUTCDate() !== d ||
    check.getUTCHours() !== h ||
    check.getUTCMinutes() !== mi ||
    check.getUTCSeconds() !== s
  ) {
    throw syntax(`'${text}' is not a valid date and time`, 3);
  }
  const when = new Date(zonedToUtc(wall, timeZone));
  const next = (after: Date) => (when.getTime() > after.getTime() ? new Date(when) : undefined);
  return {
    kind: 'at',
    text,
    timeZone,
    next,
    occurrences: (after, count) => {
      const first = next(after);
      return first && count > 0 ? [first] : [];
    },
  };
}

function rateSchedule(text: string, timeZone: string, value: number, unit: string): ParsedSchedule {
  if (!Number.isSafeInteger(value) || value < 1) throw syntax('the rate value must be a positive integer', 5);
  const singular = unit.replace(/s$/, '');
  if ((value === 1) !== (unit === singular)) {
    throw syntax(`use '${singular}' for a value of 1 and '${singular}s' otherwise`, 5);
  }
  const period = value * (UNIT_MS[singular] ?? 0);
  const next = (after: Date, bounds: ScheduleBounds = {}): Date | undefined => {
    const origin = (bounds.origin ?? bounds.start ?? new Date(0)).getTime();
    let from = after.getTime();
    if (bounds.start && bounds.start.getTime() - 1 > from) from = bounds.start.getTime() - 1;
    const k = from < origin ? 0 : Math.floor((from - origin) / period) + 1;
    const t = origin + k * period;
    if (bounds.end && t > bounds.end.getTime()) return undefined;
    return new Date(t);
  };
  return {
    kind: 'rate',
    text,
    timeZone,
    next,
    occurrences: (after, count, bounds) => {
      const out: Date[] = [];
      let cursor: Date | undefined = after;
      while (out.length < count && cursor && (cursor = next(cursor, bounds))) out.push(cursor);
      return out;
    },
  };
}

/** The UTC instant of a wall time (given as if it were UTC) in `timeZone`. */
function zonedToUtc(wallMs: number, timeZone: string): number {
  const first = wallMs - offsetAt(wallMs, timeZone);
  return wallMs - offsetAt(first, timeZone);
}

/** The zone's wall time minus UTC at `utcMs`, in ms. */
function offsetAt(utcMs: number, timeZone: string): number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const p = Object.fromEntries(format.formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  const wall = Date.UTC(
    Number(p.year),
    Number(p.month) - 1,
    Number(p.day),
    Number(p.hour),
    Number(p.minute),
    Number(p.second),
  );
  return wall - Math.floor(utcMs / 1000) * 1000;
}
