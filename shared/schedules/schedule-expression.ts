/**
 * EventBridge Scheduler schedule expressions — at(), rate() and cron() — validated as AWS documents
 * them and evaluated to fire times, for the gateway's `/schedules` API (validation and a preview of
 * burst windows) and the local stand-in of EventBridge Scheduler (which fires them).
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 *
 * Pure code: Node, Intl and croner, nothing else of shared/. README.md lists the rules this module
 * follows where the docs are silent and every error code.
 */
import { parseAt } from './at-expression';
import { parseCronFields } from './cron-fields';
import { cronEvaluator } from './cron-schedule';
import { ScheduleExpressionError, invalidArgument, quote } from './errors';
import { parseRate, rateNext } from './rate-expression';
import { assertTimeZone } from './time-zone';

export { assertTimeZone } from './time-zone';

export type ScheduleKind = 'at' | 'rate' | 'cron';

/** StartDate, EndDate (UTC instants, both inclusive) and what a rate() counts from. */
export interface ScheduleBounds {
  start?: Date;
  end?: Date;
  origin?: Date;
}

export interface ParsedSchedule {
  kind: ScheduleKind;
  /** The expression as given, e.g. "cron(0 18 ? * 6 *)". */
  text: string;
  /** IANA zone the expression is read in (default "UTC"). */
  timeZone: string;
  /**
   * The first fire time strictly after `after`, honouring optional bounds (StartDate/EndDate:
   * none before start, none after end); undefined when there is none (an at() in the past, past end, a year range exhausted).
   * `origin` is what rate() counts from (the schedule's creation/start time); required for rate.
   *
   * As in AWS, StartDate and EndDate do not apply to at(): "EventBridge Scheduler ignores
   * StartDate for one-time schedules" (EndDate likewise; API_CreateSchedule). A rate() counts
   * from `start` when it is given (StartDate "set[s] the first occurrence"), else from `origin`.
   * Throws ScheduleExpressionError BG_SCHEDULE_ARGUMENT for an invalid Date, or a rate() with
   * neither `start` nor `origin`.
   */
  next(after: Date, bounds?: ScheduleBounds): Date | undefined;
  /**
   * Up to `count` fire times strictly after `after`, in order (count 0 to MAX_OCCURRENCES).
   */
  occurrences(after: Date, count: number, bounds?: ScheduleBounds): Date[];
}

/** Longest expression accepted; hostile input costs no more than this. */
export const MAX_EXPRESSION_LENGTH = 256;
/** Most fire times one occurrences() call returns. */
export const MAX_OCCURRENCES = 10_000;

const SHAPE = /^(at|rate|cron)\((.*)\)$/s;

/** Throws ScheduleExpressionError (never anything else) for any invalid expression or zone. */
export function parseScheduleExpression(text: string, timeZone = 'UTC'): ParsedSchedule {
  try {
    return parse(text, timeZone);
  } catch (err) {
    if (err instanceof ScheduleExpressionError) throw err;
    // A bug here, or croner refusing a pattern this module built: still the caller's contract.
    throw new ScheduleExpressionError(
      'BG_SCHEDULE_SYNTAX',
      `schedule expression ${quote(String(text))} could not be read (${err instanceof Error ? err.message : String(err)}): check it against https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html`,
      { field: 'expression' },
    );
  }
}

function parse(text: string, timeZone: string): ParsedSchedule {
  if (typeof text !== 'string' || text.length === 0) {
    throw syntaxError(typeof text === 'string' ? text : String(text), 'is empty');
  }
  if (text.length > MAX_EXPRESSION_LENGTH) {
    throw new ScheduleExpressionError(
      'BG_SCHEDULE_TOO_LONG',
      `schedule expression of ${text.length} characters is longer than ${MAX_EXPRESSION_LENGTH}: shorten its lists, e.g. with ranges (8-17) or steps (0/15)`,
      { field: 'expression', offset: MAX_EXPRESSION_LENGTH },
    );
  }
  assertTimeZone(timeZone);
  const m = SHAPE.exec(text);
  if (!m) throw syntaxError(text, shapeProblem(text));
  const kind = m[1] as ScheduleKind;
  const inner = m[2]!;
  const innerOffset = kind.length + 1;
  const common = { kind, text, timeZone };
  switch (kind) {
    case 'at': {
      const instant = parseAt(text, inner, innerOffset, timeZone);
      return schedule(common, (after) => (instant > after ? instant : undefined));
    }
    case 'rate': {
      const spec = parseRate(text, inner, innerOffset);
      return schedule(common, (after, bounds) => {
        const anchor = bounds.start ?? bounds.origin;
        if (anchor === undefined) {
          throw invalidArgument(
            `${text} needs bounds.origin (the schedule's creation time) or bounds.start (its StartDate) to count from`,
          );
        }
        return rateNext(spec, after, anchor, bounds.end);
      });
    }
    case 'cron': {
      const evaluator = cronEvaluator(parseCronFields(text, inner, innerOffset), timeZone);
      return schedule(common, (after, bounds) => evaluator.next(after, bounds.start, bounds.end));
    }
  }
}

interface Bounds {
  start?: number;
  end?: number;
  origin?: number;
}

function schedule(
  common: Pick<ParsedSchedule, 'kind' | 'text' | 'timeZone'>,
  nextMs: (after: number, bounds: Bounds) => number | undefined,
): ParsedSchedule {
  const next = (after: Date, bounds?: ScheduleBounds): Date | undefined => {
    const t = nextMs(instant(after, 'after'), checkBounds(bounds));
    return t === undefined ? undefined : new Date(t);
  };
  return {
    ...common,
    next,
    occurrences(after, count, bounds) {
      if (!Number.isInteger(count) || count < 0 || count > MAX_OCCURRENCES) {
        throw invalidArgument(`count ${String(count)} is not a whole number from 0 to ${MAX_OCCURRENCES}`);
      }
      const checked = checkBounds(bounds);
      const out: Date[] = [];
      let from = instant(after, 'after');
      while (out.length < count) {
        const t = nextMs(from, checked);
        if (t === undefined) break;
        out.push(new Date(t));
        from = t;
      }
      return out;
    },
  };
}

function checkBounds(bounds: ScheduleBounds | undefined): Bounds {
  if (bounds === undefined) return {};
  if (typeof bounds !== 'object' || bounds === null) throw invalidArgument('bounds is not an object');
  const out: Bounds = {};
  if (bounds.start !== undefined) out.start = instant(bounds.start, 'bounds.start');
  if (bounds.end !== undefined) out.end = instant(bounds.end, 'bounds.end');
  if (bounds.origin !== undefined) out.origin = instant(bounds.origin, 'bounds.origin');
  return out;
}

function instant(value: unknown, what: string): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw invalidArgument(`${what} is not a valid Date`);
  }
  return value.getTime();
}

function syntaxError(text: string, problem: string): ScheduleExpressionError {
  return new ScheduleExpressionError(
    'BG_SCHEDULE_SYNTAX',
    `schedule expression ${quote(text)} ${problem}: write at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(minutes hours day-of-month month day-of-week year)`,
    { field: 'expression', offset: 0 },
  );
}

/** Why text is not kind(…), in words. */
function shapeProblem(text: string): string {
  if (text.trim() !== text) return 'has white space before or after it';
  const kind = /^([A-Za-z]+)\(/.exec(text)?.[1];
  if (kind !== undefined) {
    const known = ['at', 'rate', 'cron'].includes(kind.toLowerCase());
    if (known && kind !== kind.toLowerCase()) return `starts with "${kind}(" (the kinds are lower case)`;
    if (known) return 'does not end with ")"';
    return `is a ${quote(kind)} expression, which EventBridge Scheduler does not have`;
  }
  if (/^(at|rate|cron)\b/i.test(text)) return 'has no "(" right after its kind';
  return 'is not a schedule expression';
}
