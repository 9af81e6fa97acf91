/**
 * Times as the CLI takes and shows them, for leases and deadlines:
 *
 * - Durations: one or more `<number><unit>` parts, largest unit first, each unit at most once:
 *   `w` (7 days), `d`, `h`, `m`. `90m`, `2h`, `3d`, `1h30m`, `1w` are durations; `1.5h`, `2 h`,
 *   `30m1h`, `0m` and `10` are not.
 * - Instants: ISO-8601 with an offset or `Z` (`2027-10-22T18:00:00+02:00`, `2027-10-22T16:00Z`), or
 *   a local date-time without one (`2027-10-22T18:00`) in a named IANA zone (`--tz Europe/Berlin`).
 *   A local time is wall-clock time in that zone, converted with Intl (the tz data Node carries).
 *   A time that the clocks skip when they move forward (in a DST gap) does not exist there: an
 *   error. A time that happens twice when they move back (in a fall-back overlap) is taken as the
 *   earlier of the two instants, and the parse result's `note` says so and how to name the later.
 * - An instant shown: in UTC and in a zone, `2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin)`.
 *
 * Every parse error is a TimeInputError naming the flag and the value.
 */
import {
  formatOffset,
  instantsOf,
  offsetMs,
  wallClock,
  wallClockMs,
  type WallClock,
} from '../schedules/time-zone';

export class TimeInputError extends Error {
  override readonly name = 'TimeInputError';
  constructor(
    /** The flag the value came with, e.g. `--by`. */
    readonly flag: string,
    readonly value: string,
    message: string,
  ) {
    super(message);
  }
}

const MINUTE = 60;
const UNIT_SECONDS = { w: 7 * 86400, d: 86400, h: 3600, m: MINUTE } as const;
const DURATION = /^(?:(\d{1,6})w)?(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,7})m)?$/;
const DURATION_HELP = 'numbers with units w, d, h, m, largest first, e.g. 90m, 2h, 3d, 1h30m, 1w';

/** The seconds a duration (`90m`, `1h30m`, `1w`...) stands for; more than zero. */
export function parseDuration(text: string, flag: string): number {
  const m = DURATION.exec(text);
  if (!m || text === '') {
    throw new TimeInputError(flag, text, `${flag}: '${text}' is not a duration: use ${DURATION_HELP}`);
  }
  const [, w, d, h, min] = m;
  const seconds =
    Number(w ?? 0) * UNIT_SECONDS.w +
    Number(d ?? 0) * UNIT_SECONDS.d +
    Number(h ?? 0) * UNIT_SECONDS.h +
    Number(min ?? 0) * UNIT_SECONDS.m;
  if (seconds === 0)
    throw new TimeInputError(flag, text, `${flag}: '${text}' is no time at all: pass more than 0`);
  return seconds;
}

/** A span of seconds in the two largest units that apply: `2d 3h`, `1h 30m`, `45m`, `20s`. */
export function formatSpan(seconds: number): string {
  let left = Math.round(Math.abs(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
  }
  const shown = parts.slice(0, 2).filter((p, i) => i === 0 || !p.startsWith('0'));
  return shown.length ? shown.join(' ') : '0s';
}

/** `in 2d 3h` or `2d 3h ago`, from `now`. */
export function relativeTo(instant: Date, now: Date): string {
  const seconds = (instant.getTime() - now.getTime()) / 1000;
  return seconds >= 0 ? `in ${formatSpan(seconds)}` : `${formatSpan(seconds)} ago`;
}

/** An IANA time zone, checked by Intl. `utc`: a name of UTC itself (UTC, Etc/UTC, GMT...). */
export interface Zone {
  name: string;
  utc: boolean;
}

const UTC_NAMES = /^(Etc\/)?(UTC|UCT|GMT|GMT0|Universal|Zulu|Greenwich)$/i;
export const UTC: Zone = { name: 'UTC', utc: true };

/** The zone called `name`, as `flag` gave it; throws a TimeInputError when Intl knows no such zone. */
export function zoneNamed(name: string, flag = '--tz'): Zone {
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new TimeInputError(
      flag,
      name,
      `${flag}: '${name}' is not an IANA time zone: use a name such as Europe/Berlin, America/New_York or UTC`,
    );
  }
  // Intl may answer with an older alias (Asia/Kolkata → Asia/Calcutta): keep the name as given,
  // in Intl's capitalisation when only that differs
  const shown = resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  return { name: shown, utc: UTC_NAMES.test(shown) };
}

/**
 * The zone times are shown in: `explicit` (--tz), else the environment's `TZ` when it names an IANA
 * zone, else the machine's (Intl's resolved zone). A wrong `explicit` zone throws; a `TZ` Intl
 * does not know (a POSIX rule such as `CET-1CEST`) is passed over.
 */
export function displayZone(explicit: string | undefined, env: Record<string, string | undefined>): Zone {
  if (explicit !== undefined) return zoneNamed(explicit);
  const tz = env.TZ?.replace(/^:/, '');
  if (tz) {
    try {
      return zoneNamed(tz, 'TZ');
    } catch {
      // not a zone Intl knows: the machine's, below
    }
  }
  return zoneNamed(new Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC');
}

export interface ParsedInstant {
  instant: Date;
  /** Said when the value needed interpreting: a local time that happens twice in its zone. */
  note?: string;
}

const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/**
 * The instant `text` names: ISO-8601 with an offset or Z, or a local date-time in `zone` (the
 * --tz zone; without one a local date-time is an error, since the machine's zone is a guess).
 */
export function parseInstant(text: string, flag: string, zone?: Zone): ParsedInstant {
  const m = INSTANT.exec(text);
  const notInstant = (): TimeInputError =>
    new TimeInputError(
      flag,
      text,
      `${flag}: '${text}' is not a date-time: use ISO-8601 with an offset (2027-10-22T18:00+02:00, ` +
        '2027-10-22T16:00Z) or a local date-time with --tz (2027-10-22T18:00 --tz Europe/Berlin)',
    );
  if (!m) throw notInstant();
  const [, y, mo, d, h, mi, s, frac, z, sign, oh, om] = m;
  const fields: ParsedWallClock = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s ?? 0),
    ms: Number((frac ?? '').padEnd(3, '0').slice(0, 3)),
  };
  if (!validWallClock(fields)) {
    throw new TimeInputError(
      flag,
      text,
      `${flag}: '${text}' is not a date-time: there is no such day or time`,
    );
  }
  const wall = wallClockMs(fields) + fields.ms;
  if (z) return { instant: new Date(wall) };
  if (sign) {
    const offsetMinutes = Number(oh) * 60 + Number(om ?? 0);
    if (Number(oh) > 23 || Number(om ?? 0) > 59) throw notInstant();
    return { instant: new Date(wall - (sign === '-' ? -1 : 1) * offsetMinutes * 60_000) };
  }
  if (!zone) {
    throw new TimeInputError(
      flag,
      text,
      `${flag}: '${text}' has no offset: add one (${text}+02:00, or ${text}Z for UTC) or name its zone with --tz, e.g. --tz Europe/Berlin`,
    );
  }
  return zonedInstant(text, flag, fields, zone);
}

/** A wall-clock time as typed, with its milliseconds. */
interface ParsedWallClock extends WallClock {
  ms: number;
}

function validWallClock(f: ParsedWallClock): boolean {
  const daysInMonth = new Date(
    wallClockMs({ ...f, month: f.month + 1, day: 0, hour: 0, minute: 0 }),
  ).getUTCDate();
  return (
    f.month >= 1 &&
    f.month <= 12 &&
    f.day >= 1 &&
    f.day <= daysInMonth &&
    f.hour <= 23 &&
    f.minute <= 59 &&
    f.second <= 59
  );
}

const DAY_MS = 86_400_000;

/**
 * The instant(s) at which the clocks in `zone` show `fields`: the offsets a day either side are the
 * candidates (zones change offset at most once in two days), and a candidate counts when the zone's
 * clock at it shows the wall-clock time. None: the time is in a gap. Two: in an overlap.
 */
function zonedInstant(text: string, flag: string, fields: ParsedWallClock, zone: Zone): ParsedInstant {
  const wall = wallClockMs(fields) + fields.ms;
  const before = offsetMs(wall - DAY_MS, zone.name);
  const after = offsetMs(wall + DAY_MS, zone.name);
  const found = instantsOf(fields, zone.name).map((t) => t + fields.ms);
  const local = text.slice(0, 16);
  if (found.length === 0) {
    const skipped = (after - before) / 60_000;
    const suggestion = localText(zone, wall - before);
    throw new TimeInputError(
      flag,
      text,
      `${flag}: ${local} does not exist in ${zone.name}: the clocks move forward ${skipped} minutes that day, ` +
        `skipping it; pick a time outside the gap, e.g. ${suggestion}`,
    );
  }
  const first = found[0]!;
  if (found.length === 1) return { instant: new Date(first) };
  const later = found[found.length - 1]!;
  return {
    instant: new Date(first),
    note:
      `${flag}: ${local} happens twice in ${zone.name} (the clocks go back that day): taken as the first, ` +
      `${formatInstant(new Date(first), zone)}; for the second pass ${local}${offsetText(wall - later)}`,
  };
}

/** `+02:00`, `-05:00`, `+05:30`. */
const offsetText = (ms: number): string => formatOffset(ms).slice('UTC'.length);

const pad = (n: number): string => String(n).padStart(2, '0');
const dateText = (f: WallClock): string => `${String(f.year).padStart(4, '0')}-${pad(f.month)}-${pad(f.day)}`;
const timeText = (f: WallClock, seconds: boolean): string =>
  `${pad(f.hour)}:${pad(f.minute)}${seconds ? `:${pad(f.second)}` : ''}`;

/** The zone's clock at `t` as a local date-time, `2027-03-28T03:30`. */
function localText(zone: Zone, t: number): string {
  const f = wallClock(t, zone.name);
  return `${dateText(f)}T${timeText(f, f.second !== 0)}`;
}

/** The zone's short name at `t` (CEST, EDT, GMT), else its offset from UTC (`UTC+05:30`). */
function zoneAbbreviation(zone: Zone, t: Date): string {
  for (const locale of ['en-US', 'en-GB']) {
    const name = new Intl.DateTimeFormat(locale, { timeZone: zone.name, timeZoneName: 'short' })
      .formatToParts(t)
      .find((p) => p.type === 'timeZoneName')?.value;
    if (name && !/^(GMT|UTC)[+-]/.test(name)) return name;
  }
  return `UTC${offsetText(offsetMs(t.getTime(), zone.name))}`;
}

/**
 * `2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin)`: the instant in UTC, then in `zone` (with its
 * date when that differs). Seconds show when there are any. A UTC zone shows UTC only.
 */
export function formatInstant(instant: Date | string, zone: Zone): string {
  const t = typeof instant === 'string' ? new Date(instant) : instant;
  if (Number.isNaN(t.getTime())) return String(instant);
  const utc = wallClock(t.getTime(), 'UTC');
  const seconds = t.getUTCSeconds() !== 0;
  const inUtc = `${dateText(utc)} ${timeText(utc, seconds)} UTC`;
  if (zone.utc) return inUtc;
  const local = wallClock(t.getTime(), zone.name);
  const day = dateText(local) === dateText(utc) ? '' : `${dateText(local)} `;
  return `${inUtc} (${day}${timeText(local, seconds)} ${zoneAbbreviation(zone, t)} ${zone.name})`;
}
