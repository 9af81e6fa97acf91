/**
 * Every error code, with where it points (field, cron field number and name, offset) and what the
 * message says; and that parseScheduleExpression throws nothing but ScheduleExpressionError, for
 * any string.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_EXPRESSION_LENGTH,
  assertTimeZone,
  isScheduleExpressionError,
  parseScheduleExpression,
  ScheduleExpressionError,
} from '../../../shared/schedules';
import { thrown } from './helpers';

function parseError(expression: string, timeZone?: string): ScheduleExpressionError {
  const err = thrown(() => parseScheduleExpression(expression, timeZone));
  expect(err).toBeInstanceOf(ScheduleExpressionError);
  return err as ScheduleExpressionError;
}

describe('cron field errors name the field, its number and the offset', () => {
  it.each([
    // [expression, code, cronField, cronFieldName, offset, message]
    [
      'cron(0 18 ? * 8 *)',
      'BG_SCHEDULE_FIELD_VALUE',
      5,
      'day-of-week',
      14,
      'cron field 5 (day-of-week) "8" at offset 14 is out of range 1-7 (1 = Sunday): use 1-7 or SUN-SAT',
    ],
    [
      'cron(0 25 * * ? *)',
      'BG_SCHEDULE_FIELD_VALUE',
      2,
      'hours',
      7,
      'cron field 2 (hours) "25" at offset 7 is out of range 0-23: use 0-23',
    ],
    [
      'cron(60 1 * * ? *)',
      'BG_SCHEDULE_FIELD_VALUE',
      1,
      'minutes',
      5,
      'cron field 1 (minutes) "60" at offset 5 is out of range 0-59: use 0-59',
    ],
    [
      'cron(0 1 32 * ? *)',
      'BG_SCHEDULE_FIELD_VALUE',
      3,
      'day-of-month',
      9,
      'cron field 3 (day-of-month) "32" at offset 9 is out of range 1-31: use 1-31, L (last day) or nW (weekday nearest day n)',
    ],
    [
      'cron(0 1 1 13 ? *)',
      'BG_SCHEDULE_FIELD_VALUE',
      4,
      'month',
      11,
      'cron field 4 (month) "13" at offset 11 is out of range 1-12: use 1-12 or JAN-DEC',
    ],
    [
      'cron(0 1 1 * ? 1969)',
      'BG_SCHEDULE_FIELD_VALUE',
      6,
      'year',
      15,
      'cron field 6 (year) "1969" at offset 15 is out of range 1970-2199: use 1970-2199 or *',
    ],
    [
      'cron(0 1 ? * 0 *)',
      'BG_SCHEDULE_FIELD_VALUE',
      5,
      'day-of-week',
      13,
      'cron field 5 (day-of-week) "0" at offset 13 is out of range 1-7 (1 = Sunday): use 1-7 or SUN-SAT',
    ],
    [
      'cron(0 1 ? * MON-FRX *)',
      'BG_SCHEDULE_FIELD_VALUE',
      5,
      'day-of-week',
      17,
      'cron field 5 (day-of-week) "FRX" at offset 17 is not a day-of-week name: use SUN-SAT or 1-7 (1 = Sunday)',
    ],
    [
      'cron(0 1 ? * 6#6 *)',
      'BG_SCHEDULE_FIELD_VALUE',
      5,
      'day-of-week',
      13,
      'cron field 5 (day-of-week) "6#6" at offset 13 asks for occurrence 6 of a weekday in a month: use 1-5 after # (6#1 is the first, 6#5 the fifth)',
    ],
    [
      'cron(0/0 1 * * ? *)',
      'BG_SCHEDULE_FIELD_VALUE',
      1,
      'minutes',
      7,
      'cron field 1 (minutes) "0" at offset 7 is not a step of 1-60 for minutes',
    ],
    [
      'cron(0 1 * * ? 2030-2027)',
      'BG_SCHEDULE_FIELD_VALUE',
      6,
      'year',
      15,
      'cron field 6 (year) "2030-2027" at offset 15 runs backwards: write the earlier year first',
    ],
    [
      'cron(5x 1 * * ? *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      1,
      'minutes',
      5,
      'cron field 1 (minutes) "5x" at offset 5 is not a value, range (a-b), step (a/n) or * of minutes: use 0-59; the wildcards here are , - * /',
    ],
    [
      'cron(0 ? * * ? *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      2,
      'hours',
      7,
      'cron field 2 (hours) "?" at offset 7 uses ?, which AWS does not allow in hours (it allows , - * / and 0-23): use 0-23',
    ],
    [
      'cron(0 1 ? * 2/2 *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      5,
      'day-of-week',
      13,
      'cron field 5 (day-of-week) "2/2" at offset 13 uses / (increments), which AWS does not allow in day-of-week (it allows , - * ? L # and 1-7 (1 = Sunday)): use 1-7 or SUN-SAT',
    ],
    [
      'cron(0 1 ? * 3#1,6#3 *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      5,
      'day-of-week',
      13,
      'cron field 5 (day-of-week) "3#1,6#3" at offset 13 uses # with other values: a # (nth weekday, e.g. 6#3 = the third Friday) must be the only value of day-of-week ("3#1,6#3" is not valid)',
    ],
    [
      'cron(0 1 L,15 * ? *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      3,
      'day-of-month',
      9,
      'cron field 3 (day-of-month) "L,15" at offset 9 uses L or W with other values: L (last day), LW (last weekday) and nW (weekday nearest day n) must be the only value of day-of-month',
    ],
    [
      'cron(0 L * * ? *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      2,
      'hours',
      7,
      'cron field 2 (hours) "L" at offset 7 uses L, which AWS does not allow in hours (it allows , - * / and 0-23): use 0-23',
    ],
    [
      'cron(0 1 * ? ? *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      4,
      'month',
      11,
      'cron field 4 (month) "?" at offset 11 uses ?, which AWS does not allow in month (it allows , - * / and 1-12): use 1-12 or JAN-DEC',
    ],
    [
      'cron(0 1 1,,2 * ? *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      3,
      'day-of-month',
      9,
      'cron field 3 (day-of-month) "1,,2" at offset 9 has an empty item in its comma list: remove the extra comma',
    ],
    [
      'cron(/5 1 * * ? *)',
      'BG_SCHEDULE_FIELD_SYNTAX',
      1,
      'minutes',
      5,
      'cron field 1 (minutes) "/5" at offset 5 has no start before /: write */n or a/n, e.g. 0/5',
    ],
  ])('%s: %s', (expression, code, cronField, cronFieldName, offset, message) => {
    // Act
    const err = parseError(expression);
    // Assess
    expect(err.code).toBe(code);
    expect(err.where).toEqual({ field: 'expression', cronField, cronFieldName, offset });
    expect(err.message).toBe(message);
    expect(err.name).toBe('ScheduleExpressionError');
  });
});

describe('BG_SCHEDULE_FIELD_COUNT', () => {
  it('5 fields (a Unix cron)', () => {
    // Act
    const err = parseError('cron(0 18 * * ?)');
    // Assess
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_FIELD_COUNT', where: { field: 'expression', offset: 5 } });
    expect(err.message).toBe(
      'cron expression "cron(0 18 * * ?)" has 5 fields at offset 5; AWS needs exactly 6: minutes hours day-of-month month day-of-week year; a 5-field Unix cron needs a year field (*) and ? in day-of-month or day-of-week, e.g. cron(0 18 ? * MON-FRI *)',
    );
  });

  it('7 fields (with seconds)', () => {
    // Act
    const err = parseError('cron(0 0 18 * * ? *)');
    // Assess
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_FIELD_COUNT', where: { field: 'expression', offset: 5 } });
    expect(err.message).toContain('has 7 fields');
    expect(err.message).toContain('AWS cron has no seconds field');
  });

  it('no fields', () => {
    // Act
    const err = parseError('cron()');
    // Assess
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_FIELD_COUNT', where: { field: 'expression', offset: 5 } });
  });
});

describe('BG_SCHEDULE_DAY_CONFLICT', () => {
  it.each([
    ['cron(0 18 * * 6 *)', 'are both set', 'cron(0 18 ? * 6 *)'],
    ['cron(0 18 * * * *)', 'are both set', 'cron(0 18 ? * * *)'],
    ['cron(0 18 1 * MON *)', 'are both set', 'cron(0 18 ? * MON *)'],
    ['cron(0 18 ? * ? *)', 'are both ?', 'cron(0 18 * * ? *)'],
  ])('%s %s', (expression, what, suggestion) => {
    // Act
    const err = parseError(expression);
    // Assess
    expect(err.code).toBe('BG_SCHEDULE_DAY_CONFLICT');
    expect(err.where).toEqual({
      field: 'expression',
      cronField: 3,
      cronFieldName: 'day-of-month',
      offset: 10,
    });
    expect(err.message).toContain(what);
    expect(err.message).toContain(suggestion);
  });
});

describe('BG_SCHEDULE_RATE', () => {
  it.each([
    [
      'rate(0 minutes)',
      5,
      'rate value "0" at offset 5 is not positive: a rate needs a value of at least 1, e.g. rate(1 minute)',
    ],
    [
      'rate(5 weeks)',
      7,
      'rate unit "weeks" at offset 7 is not one AWS takes: use minute, minutes, hour, hours, day or days (for weeks, write rate(7 days) or a cron expression)',
    ],
    [
      'rate(1 minutes)',
      7,
      'rate unit "minutes" at offset 7 is plural but the value is 1: AWS needs the singular, rate(1 minute)',
    ],
    [
      'rate(5 hour)',
      7,
      'rate unit "hour" at offset 7 is singular but the value is 5: AWS needs the plural, rate(5 hours)',
    ],
    [
      'rate(-1 minutes)',
      5,
      'rate value "-1" at offset 5 is not a positive whole number: write e.g. rate(5 minutes)',
    ],
    [
      'rate(1.5 hours)',
      5,
      'rate value "1.5" at offset 5 is not a positive whole number: write e.g. rate(5 minutes)',
    ],
    ['rate(5 Minutes)', 7, expect.stringContaining('rate unit "Minutes" at offset 7 is not one AWS takes')],
    ['rate(5)', 5, expect.stringContaining('is not rate(value unit)')],
    ['rate(5 minutes now)', 5, expect.stringContaining('is not rate(value unit)')],
    ['rate(99999999999999999999 days)', 5, expect.stringContaining('is too large')],
  ])('%s', (expression, offset, message) => {
    // Act
    const err = parseError(expression);
    // Assess
    expect(err.code).toBe('BG_SCHEDULE_RATE');
    expect(err.where).toEqual({ field: 'expression', offset });
    expect(err.message).toEqual(message);
  });
});

describe('BG_SCHEDULE_AT', () => {
  it.each([
    [
      'at(2027-02-30T10:00:00)',
      3,
      'at() date 2027-02-30 at offset 3 is not a calendar date: February 2027 has 28 days',
    ],
    ['at(2027-13-01T10:00:00)', 3, 'at() date 2027-13-01 at offset 3 has month 13: use 01-12'],
    [
      'at(2027-04-31T10:00:00)',
      3,
      'at() date 2027-04-31 at offset 3 is not a calendar date: April 2027 has 30 days',
    ],
    [
      'at(2027-01-01T24:00:00)',
      14,
      'at() time 24:00:00 at offset 14 is not a time of day: use 00:00:00-23:59:59',
    ],
    ['at(1969-12-31T23:59:59)', 3, expect.stringContaining('is before 1970')],
    ['at(2027-01-01 10:00:00)', 3, expect.stringContaining('is not at(yyyy-mm-ddThh:mm:ss)')],
    ['at(2027-01-01T10:00:00Z)', 3, expect.stringContaining('without an offset or Z')],
    ['at(2027-01-01T10:00)', 3, expect.stringContaining('is not at(yyyy-mm-ddThh:mm:ss)')],
  ])('%s', (expression, offset, message) => {
    // Act
    const err = parseError(expression);
    // Assess
    expect(err.code).toBe('BG_SCHEDULE_AT');
    expect(err.where).toEqual({ field: 'expression', offset });
    expect(err.message).toEqual(message);
  });

  it('BG_SCHEDULE_AT_DST_GAP for a local time the zone skips', () => {
    // Act
    const err = parseError('at(2027-03-28T02:30:00)', 'Europe/Berlin');
    // Assess
    expect(err.code).toBe('BG_SCHEDULE_AT_DST_GAP');
    expect(err.message).toBe(
      'at() expression "at(2027-03-28T02:30:00)" at offset 3 names 2027-03-28T02:30:00, a local time that does not exist in Europe/Berlin: the clocks jump from UTC+01:00 to UTC+02:00 then (daylight saving time); use a time outside the gap, e.g. at(2027-03-28T03:30:00)',
    );
  });
});

describe('BG_SCHEDULE_TIMEZONE', () => {
  it.each([
    [
      'Europe/Berln',
      'time zone "Europe/Berln" is not a time zone this runtime knows: did you mean "Europe/Berlin"?',
    ],
    ['europe/berlin', 'time zone "europe/berlin" is spelled with the wrong capitals: write "Europe/Berlin"'],
    [
      '+01:00',
      'time zone "+01:00" is not an IANA zone name (Area/Location, e.g. "America/New_York"; UTC offsets are not accepted)',
    ],
    ['', 'time zone "" is empty: give an IANA zone name such as "UTC" or "Europe/Berlin"'],
    ['Mars/Olympus_Mons', 'time zone "Mars/Olympus_Mons" is not a time zone this runtime knows'],
  ])('%s', (timeZone, message) => {
    // Act
    const fromParse = parseError('cron(0 18 ? * 6 *)', timeZone);
    const fromAssert = thrown(() => assertTimeZone(timeZone));
    // Assess
    expect(fromParse.code).toBe('BG_SCHEDULE_TIMEZONE');
    expect(fromParse.where).toEqual({ field: 'timeZone' });
    expect(fromParse.message).toBe(message);
    expect(fromAssert).toMatchObject({ code: 'BG_SCHEDULE_TIMEZONE', message });
  });

  it('takes the zones AWS examples use, and aliases Intl knows', () => {
    // Act + Assess
    for (const zone of [
      'UTC',
      'Etc/UTC',
      'Europe/Berlin',
      'America/New_York',
      'Asia/Kolkata',
      'Etc/GMT+5',
      'US/Eastern',
    ]) {
      expect(() => assertTimeZone(zone), zone).not.toThrow();
    }
  });
});

describe('BG_SCHEDULE_SYNTAX and BG_SCHEDULE_TOO_LONG', () => {
  it.each([
    ['every friday', 'is not a schedule expression'],
    ['', 'is empty'],
    ['CRON(0 18 ? * 6 *)', 'starts with "CRON(" (the kinds are lower case)'],
    [' cron(0 18 ? * 6 *)', 'has white space before or after it'],
    ['cron(0 18 ? * 6 *', 'does not end with ")"'],
    ['cron 0 18 ? * 6 *', 'has no "(" right after its kind'],
    ['weekly(FRI)', 'is a "weekly" expression, which EventBridge Scheduler does not have'],
  ])('%j: %s', (expression, problem) => {
    // Act
    const err = parseError(expression);
    // Assess
    expect(err.code).toBe('BG_SCHEDULE_SYNTAX');
    expect(err.where).toEqual({ field: 'expression', offset: 0 });
    expect(err.message).toBe(
      `schedule expression ${JSON.stringify(expression)} ${problem}: write at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(minutes hours day-of-month month day-of-week year)`,
    );
  });

  it('an expression longer than MAX_EXPRESSION_LENGTH is refused before it is read', () => {
    // Prepare
    const long = `cron(${'1,'.repeat(200)}2 * * * ? *)`;
    // Act
    const err = parseError(long);
    // Assess
    expect(long.length).toBeGreaterThan(MAX_EXPRESSION_LENGTH);
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_TOO_LONG', where: { field: 'expression', offset: 256 } });
  });

  it('not a string at all (a JavaScript caller)', () => {
    // Act
    const err = parseError(42 as unknown as string);
    // Assess
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_SYNTAX', where: { field: 'expression', offset: 0 } });
  });
});

describe('BG_SCHEDULE_ARGUMENT', () => {
  it('a rate needs an origin or a start', () => {
    // Prepare
    const schedule = parseScheduleExpression('rate(5 minutes)');
    // Act
    const err = thrown(() => schedule.next(new Date('2027-01-01T00:00:00Z')));
    // Assess
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_ARGUMENT', where: { field: 'expression' } });
    expect((err as Error).message).toBe(
      "rate(5 minutes) needs bounds.origin (the schedule's creation time) or bounds.start (its StartDate) to count from",
    );
  });

  it('an invalid Date, a count out of range', () => {
    // Prepare
    const schedule = parseScheduleExpression('cron(0 18 ? * 6 *)');
    const after = new Date('2027-01-01T00:00:00Z');
    // Act + Assess
    expect(thrown(() => schedule.next(new Date('nope')))).toMatchObject({
      code: 'BG_SCHEDULE_ARGUMENT',
      message: 'after is not a valid Date',
    });
    expect(thrown(() => schedule.next(after, { end: new Date(NaN) }))).toMatchObject({
      message: 'bounds.end is not a valid Date',
    });
    expect(thrown(() => schedule.occurrences(after, -1))).toMatchObject({ code: 'BG_SCHEDULE_ARGUMENT' });
    expect(thrown(() => schedule.occurrences(after, 1.5))).toMatchObject({ code: 'BG_SCHEDULE_ARGUMENT' });
    expect(schedule.occurrences(after, 0)).toEqual([]);
  });
});

describe('parseScheduleExpression throws only ScheduleExpressionError', () => {
  const malformed = [
    'cron',
    'cron(',
    'cron)',
    'cron(())',
    'cron(0 18 ? * 6 *))',
    'cron(* * * * * * *)',
    'cron(? ? ? ? ? ?)',
    'cron(L L L L L L)',
    'cron(# # # # # #)',
    'cron(- - - - - -)',
    'cron(, , , , , ,)',
    'cron(/ / / / / /)',
    'cron(0-59/ * * * ? *)',
    'cron(0 0 1-- * ? *)',
    'cron(0 0 ? * 1#0 *)',
    'cron(0 0 ? * #1 *)',
    'cron(0 0 ? * 8L *)',
    'cron(0 0 0W * ? *)',
    'cron(0 0 32W * ? *)',
    'cron(0 0 W * ? *)',
    'cron(0 0 LL * ? *)',
    'cron(0 0 ? * MONDAY *)',
    'cron(0 0 ? JANUARY * *)',
    'cron(0 0 * * ? 99999)',
    'cron(0 0 * * ? 2027-)',
    'cron(0 0 * * ? -2027)',
    'cron(1e3 0 * * ? *)',
    'cron(0x10 0 * * ? *)',
    'cron(0\u00a00 * * ? *)',
    'cron(0 0 * * ? *)\n',
    'rate()',
    'rate(minutes)',
    'rate(5 minutes',
    'rate(1e3 minutes)',
    'rate(Infinity minutes)',
    'rate(5 __proto__)',
    'rate(5 toStrings)',
    'at()',
    'at(now)',
    'at(2027-00-10T10:00:00)',
    'at(2027-01-00T10:00:00)',
    'at(2027-01-01T10:60:00)',
    'at(2027-01-01T10:00:60)',
    'at(+2027-01-01T10:00:00)',
    'at(2027-01-01T10:00:00.000)',
    '\u0000',
    '()',
    '😀(1)',
  ];

  it.each(malformed)('%j', (expression) => {
    // Act
    const err = thrown(() => parseScheduleExpression(expression));
    // Assess
    expect(isScheduleExpressionError(err), String(err)).toBe(true);
    expect((err as Error).message.length).toBeGreaterThan(20);
  });

  it('for arbitrary strings, and for strings made of schedule syntax', () => {
    // Prepare
    const syntax = fc.string({
      unit: fc.constantFrom(
        'cron(',
        'rate(',
        'at(',
        ')',
        ' ',
        '?',
        '*',
        '/',
        '-',
        ',',
        'L',
        'W',
        '#',
        'LW',
        '0',
        '1',
        '7',
        '15',
        '59',
        '2027',
        'MON',
        'JAN',
        'minutes',
        'hour',
        'T',
        ':',
      ),
      maxLength: 20,
    });
    const zone = fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata');
    // Act + Assess
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), syntax), zone, (text, timeZone) => {
        try {
          const schedule = parseScheduleExpression(text, timeZone);
          // What parses also evaluates, without throwing.
          schedule.occurrences(new Date('2027-01-01T00:00:00Z'), 3, {
            origin: new Date('2027-01-01T00:00:00Z'),
          });
        } catch (err) {
          if (!isScheduleExpressionError(err)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
