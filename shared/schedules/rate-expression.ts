/**
 * rate(value unit): a recurring schedule at a fixed interval.
 *
 * - "A rate expression consists of a value as a positive integer, and a unit with the following
 *   options: minute | minutes | hour | hours | day | days"
 *   (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html).
 * - "If the value is equal to 1, then the unit must be singular. If the value is greater than 1,
 *   the unit must be plural. For example, rate(1 hours) and rate(5 hour) aren't valid"
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html; the
 *   Scheduler guide states no rule of its own, so the EventBridge one is kept).
 * - "With rate-based schedules, you use the StartDate property to set the first occurrence of the
 *   schedule. If you do not provide a StartDate for a rate-based schedule, your schedule starts
 *   invoking the target immediately"
 *   (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based): fire
 *   times are anchor + k × period for k ≥ 0, the anchor being StartDate or else the creation time.
 * - A day is 24 hours on the clock, whatever daylight saving time does: "When Daylight Saving Time
 *   shortens a day to 23 hours, or extends it to 25 hours, the EventBridge Scheduler evaluates the
 *   rate expression 24 hours after the schedule's last invocation"
 *   (https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst). The time zone does not
 *   enter into it.
 */
import { ScheduleExpressionError, quote } from './errors';

export type RateUnit = 'minute' | 'hour' | 'day';

export interface RateSpec {
  value: number;
  unit: RateUnit;
  periodMs: number;
}

const UNIT_MS: Record<RateUnit, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** The largest period a Date can count (±8.64e15 ms is the range of Date). */
const MAX_PERIOD_MS = 8.64e15;

/** Parses the text between "rate(" and ")", which starts at `innerOffset` in `text`. */
export function parseRate(text: string, inner: string, innerOffset: number): RateSpec {
  const fail = (message: string, offset: number): ScheduleExpressionError =>
    new ScheduleExpressionError('BG_SCHEDULE_RATE', message, { field: 'expression', offset });
  const tokens = [...inner.matchAll(/[^ \t]+/g)].map((m) => ({ text: m[0], offset: innerOffset + m.index }));
  const [valueToken, unitToken] = tokens;
  if (tokens.length !== 2 || !valueToken || !unitToken) {
    throw fail(
      `rate expression ${quote(text)} at offset ${innerOffset} is not rate(value unit): give a whole number and minute(s), hour(s) or day(s), e.g. rate(5 minutes) or rate(1 hour)`,
      innerOffset,
    );
  }
  if (!/^[0-9]+$/.test(valueToken.text)) {
    throw fail(
      `rate value ${quote(valueToken.text)} at offset ${valueToken.offset} is not a positive whole number: write e.g. rate(5 minutes)`,
      valueToken.offset,
    );
  }
  const value = Number(valueToken.text);
  if (value === 0) {
    throw fail(
      `rate value "0" at offset ${valueToken.offset} is not positive: a rate needs a value of at least 1, e.g. rate(1 minute)`,
      valueToken.offset,
    );
  }
  const unitText = unitToken.text;
  const singular = (unitText.endsWith('s') ? unitText.slice(0, -1) : unitText) as RateUnit;
  if (!Object.hasOwn(UNIT_MS, singular) || unitText !== unitText.toLowerCase()) {
    throw fail(
      `rate unit ${quote(unitText)} at offset ${unitToken.offset} is not one AWS takes: use minute, minutes, hour, hours, day or days (for weeks, write rate(7 days) or a cron expression)`,
      unitToken.offset,
    );
  }
  const plural = unitText.endsWith('s');
  if (value === 1 && plural) {
    throw fail(
      `rate unit ${quote(unitText)} at offset ${unitToken.offset} is plural but the value is 1: AWS needs the singular, rate(1 ${singular})`,
      unitToken.offset,
    );
  }
  if (value > 1 && !plural) {
    throw fail(
      `rate unit ${quote(unitText)} at offset ${unitToken.offset} is singular but the value is ${value}: AWS needs the plural, rate(${value} ${singular}s)`,
      unitToken.offset,
    );
  }
  const periodMs = value * UNIT_MS[singular];
  if (!Number.isSafeInteger(value) || periodMs > MAX_PERIOD_MS) {
    throw fail(
      `rate value ${quote(valueToken.text)} at offset ${valueToken.offset} is too large: the period must fit in the range of dates (at most ${MAX_PERIOD_MS / UNIT_MS[singular]} ${singular}s)`,
      valueToken.offset,
    );
  }
  return { value, unit: singular, periodMs };
}

/** The first anchor + k × period (k ≥ 0) with t > after and t ≤ end, or undefined. */
export function rateNext(
  spec: RateSpec,
  after: number,
  anchor: number,
  end: number | undefined,
): number | undefined {
  const k = after < anchor ? 0 : Math.floor((after - anchor) / spec.periodMs) + 1;
  const t = anchor + k * spec.periodMs;
  if (end !== undefined && t > end) return undefined;
  return t;
}
