/**
 * The six fields of an EventBridge cron() expression as AWS documents them, and CronSpec, what
 * cron-fields.ts reads an expression into: plain value sets, and the day fields with their L, W
 * and #. The field table and the rules are those of
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html, which
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based uses too:
 *
 * | field        | values          | wildcards     |
 * | ------------ | --------------- | ------------- |
 * | Minutes      | 0-59            | , - * /       |
 * | Hours        | 0-23            | , - * /       |
 * | Day-of-month | 1-31            | , - * ? / L W |
 * | Month        | 1-12 or JAN-DEC | , - * /       |
 * | Day-of-week  | 1-7 or SUN-SAT  | , - * ? L #   |  (1 = Sunday)
 * | Year         | 1970-2199       | , - * /       |
 *
 * - "You can't use * in both the Day-of-month and Day-of-week fields. If you use it in one, you
 *   must use ? in the other", and a value in one needs ? in the other: exactly one of them is ?.
 * - "If you use a '#' character, you can define only one expression in the day-of-week field"
 *   ("3#1,6#3" is not valid). L and W stand alone as well (Quartz, whose syntax AWS follows).
 * - Steps as in Quartz: `a/n` counts from a to the field's maximum, `*` with `/n` from its
 *   minimum, `a-b/n` within the range. A range whose start is after its end wraps (FRI-MON,
 *   22-2) in every field but the year.
 * - Names (JAN-DEC, SUN-SAT) in any letter case.
 */
export type CronFieldName = 'minutes' | 'hours' | 'day-of-month' | 'month' | 'day-of-week' | 'year';

export interface CronFieldDef {
  /** 1-based position in the expression. */
  readonly number: number;
  readonly name: CronFieldName;
  readonly min: number;
  readonly max: number;
  /** The range as the docs write it, e.g. "1-7 (1 = Sunday)". */
  readonly range: string;
  /** What to write instead, e.g. "use 1-7 or SUN-SAT". */
  readonly use: string;
  /** The wildcards AWS allows in this field. */
  readonly wildcards: string;
  /** Names for min, min+1, … (month, day-of-week). */
  readonly names?: readonly string[];
  /** Whether a range may wrap past the maximum (every field but the year). */
  readonly wraps: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export const CRON_FIELDS: readonly CronFieldDef[] = [
  {
    number: 1,
    name: 'minutes',
    min: 0,
    max: 59,
    range: '0-59',
    use: 'use 0-59',
    wildcards: ', - * /',
    wraps: true,
  },
  {
    number: 2,
    name: 'hours',
    min: 0,
    max: 23,
    range: '0-23',
    use: 'use 0-23',
    wildcards: ', - * /',
    wraps: true,
  },
  {
    number: 3,
    name: 'day-of-month',
    min: 1,
    max: 31,
    range: '1-31',
    use: 'use 1-31, L (last day) or nW (weekday nearest day n)',
    wildcards: ', - * ? / L W',
    wraps: true,
  },
  {
    number: 4,
    name: 'month',
    min: 1,
    max: 12,
    range: '1-12',
    use: 'use 1-12 or JAN-DEC',
    wildcards: ', - * /',
    names: MONTHS,
    wraps: true,
  },
  {
    number: 5,
    name: 'day-of-week',
    min: 1,
    max: 7,
    range: '1-7 (1 = Sunday)',
    use: 'use 1-7 or SUN-SAT',
    wildcards: ', - * ? L #',
    names: WEEKDAYS,
    wraps: true,
  },
  {
    number: 6,
    name: 'year',
    min: 1970,
    max: 2199,
    range: '1970-2199',
    use: 'use 1970-2199 or *',
    wildcards: ', - * /',
    wraps: false,
  },
];

export type DayOfMonth =
  | { kind: 'unset' } // ?
  | { kind: 'days'; days: number[] }
  | { kind: 'last' } // L
  | { kind: 'last-weekday' } // LW
  | { kind: 'nearest-weekday'; day: number }; // 15W

/** Day-of-week values in AWS numbering: 1 = Sunday … 7 = Saturday. */
export type DayOfWeek =
  | { kind: 'unset' } // ?
  | { kind: 'days'; days: number[] }
  | { kind: 'last'; day: number } // 6L: the last Friday of the month
  | { kind: 'nth'; day: number; nth: number }; // 6#3: the third Friday

export interface CronSpec {
  minutes: number[];
  hours: number[];
  dayOfMonth: DayOfMonth;
  months: number[];
  dayOfWeek: DayOfWeek;
  years: number[];
}
