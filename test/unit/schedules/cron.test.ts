/**
 * cron() fire times: the examples of the AWS docs, the acceptance case in Europe/Berlin, L, W, #,
 * the year field, names, steps and ranges, bounds, and the croner pattern each one becomes.
 * 2027-01-01 is a Friday.
 */
import { describe, expect, it } from 'vitest';
import { parseScheduleExpression } from '../../../shared/schedules';
import { parseCronFields } from '../../../shared/schedules/cron-fields';
import { toCronerPattern } from '../../../shared/schedules/cron-schedule';
import { fireTimes } from './helpers';

describe('cron(): the examples of the AWS cron expressions reference', () => {
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html ("Examples")
  const examples: Array<[string, string, string, string[]]> = [
    [
      'cron(0 10 * * ? *)',
      'Run at 10:00 am (UTC+0) every day',
      '2027-01-01T00:00:00Z',
      ['2027-01-01T10:00:00.000Z', '2027-01-02T10:00:00.000Z', '2027-01-03T10:00:00.000Z'],
    ],
    [
      'cron(15 12 * * ? *)',
      'Run at 12:15 pm (UTC+0) every day',
      '2027-01-01T00:00:00Z',
      ['2027-01-01T12:15:00.000Z', '2027-01-02T12:15:00.000Z', '2027-01-03T12:15:00.000Z'],
    ],
    [
      'cron(0 18 ? * MON-FRI *)',
      'Run at 6:00 pm (UTC+0) every Monday through Friday',
      '2027-01-01T00:00:00Z',
      ['2027-01-01T18:00:00.000Z', '2027-01-04T18:00:00.000Z', '2027-01-05T18:00:00.000Z'],
    ],
    [
      'cron(0 8 1 * ? *)',
      'Run at 8:00 am (UTC+0) every 1st day of the month',
      '2027-01-01T00:00:00Z',
      ['2027-01-01T08:00:00.000Z', '2027-02-01T08:00:00.000Z', '2027-03-01T08:00:00.000Z'],
    ],
    [
      'cron(0/15 * * * ? *)',
      'Run every 15 minutes',
      '2027-01-01T00:00:00Z',
      [
        '2027-01-01T00:15:00.000Z',
        '2027-01-01T00:30:00.000Z',
        '2027-01-01T00:45:00.000Z',
        '2027-01-01T01:00:00.000Z',
      ],
    ],
    [
      'cron(0/10 * ? * MON-FRI *)',
      'Run every 10 minutes Monday through Friday',
      '2027-01-01T23:45:00Z',
      ['2027-01-01T23:50:00.000Z', '2027-01-04T00:00:00.000Z', '2027-01-04T00:10:00.000Z'],
    ],
    [
      'cron(0/5 8-17 ? * MON-FRI *)',
      'Run every 5 minutes Monday through Friday between 8:00 am and 5:55 pm (UTC+0)',
      '2027-01-01T17:50:00Z',
      ['2027-01-01T17:55:00.000Z', '2027-01-04T08:00:00.000Z', '2027-01-04T08:05:00.000Z'],
    ],
    [
      'cron(0 9 ? * 2#1 *)',
      'Run at 9:00 am (UTC+0) on the first Monday of each month',
      '2027-01-01T00:00:00Z',
      [
        '2027-01-04T09:00:00.000Z',
        '2027-02-01T09:00:00.000Z',
        '2027-03-01T09:00:00.000Z',
        '2027-04-05T09:00:00.000Z',
      ],
    ],
  ];

  it.each(examples)('%s — %s', (expression, _meaning, after, expected) => {
    // Prepare
    const count = expected.length;
    // Act
    const times = fireTimes(expression, after, count);
    // Assess
    expect(times).toEqual(expected);
  });
});

describe('cron(): in a time zone', () => {
  it('cron(0 18 ? * 6 *) in Europe/Berlin is 16:00Z in summer time and 17:00Z after it ends on 2027-10-31', () => {
    // Prepare
    const schedule = parseScheduleExpression('cron(0 18 ? * 6 *)', 'Europe/Berlin');
    // Act
    const times = schedule.occurrences(new Date('2027-10-20T00:00:00Z'), 3).map((d) => d.toISOString());
    // Assess
    expect(schedule).toMatchObject({ kind: 'cron', text: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' });
    expect(times).toEqual([
      '2027-10-22T16:00:00.000Z',
      '2027-10-29T16:00:00.000Z',
      '2027-11-05T17:00:00.000Z',
    ]);
  });

  it('next() gives the same instants one at a time, strictly after `after`', () => {
    // Prepare
    const schedule = parseScheduleExpression('cron(0 18 ? * 6 *)', 'Europe/Berlin');
    // Act
    const first = schedule.next(new Date('2027-10-22T16:00:00Z'));
    const second = schedule.next(new Date('2027-10-29T15:59:59.999Z'));
    // Assess
    expect(first?.toISOString()).toBe('2027-10-29T16:00:00.000Z');
    expect(second?.toISOString()).toBe('2027-10-29T16:00:00.000Z');
  });

  it('defaults to UTC', () => {
    // Act
    const schedule = parseScheduleExpression('cron(0 18 ? * 6 *)');
    // Assess
    expect(schedule.timeZone).toBe('UTC');
    expect(schedule.next(new Date('2027-10-20T00:00:00Z'))?.toISOString()).toBe('2027-10-22T18:00:00.000Z');
  });
});

describe('cron(): L, W and #', () => {
  it('L in day-of-month is the last day of the month, February 29 in a leap year', () => {
    // Act
    const times = fireTimes('cron(0 12 L * ? *)', '2028-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2028-01-31T12:00:00.000Z',
      '2028-02-29T12:00:00.000Z',
      '2028-03-31T12:00:00.000Z',
    ]);
  });

  it('LW is the last weekday of the month', () => {
    // 2027-01-31 and 2027-02-28 are Sundays; 2027-03-31 is a Wednesday
    // Act
    const times = fireTimes('cron(0 12 LW * ? *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-01-29T12:00:00.000Z',
      '2027-02-26T12:00:00.000Z',
      '2027-03-31T12:00:00.000Z',
    ]);
  });

  it('15W is the weekday nearest the 15th: Friday for a Saturday, Monday for a Sunday', () => {
    // 2027-05-15 is a Saturday, 2027-08-15 a Sunday
    // Act
    const times = fireTimes('cron(0 12 15W * ? *)', '2027-05-01T00:00:00Z', 4);
    // Assess
    expect(times).toEqual([
      '2027-05-14T12:00:00.000Z',
      '2027-06-15T12:00:00.000Z',
      '2027-07-15T12:00:00.000Z',
      '2027-08-16T12:00:00.000Z',
    ]);
  });

  it('1W does not leave the month: Monday the 3rd when the 1st is a Saturday', () => {
    // 2027-05-01 is a Saturday
    // Act
    const times = fireTimes('cron(0 12 1W * ? *)', '2027-04-15T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-05-03T12:00:00.000Z',
      '2027-06-01T12:00:00.000Z',
      '2027-07-01T12:00:00.000Z',
    ]);
  });

  it('6L is the last Friday of the month (AWS numbering, 1 = Sunday)', () => {
    // Act
    const times = fireTimes('cron(0 12 ? * 6L *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-01-29T12:00:00.000Z',
      '2027-02-26T12:00:00.000Z',
      '2027-03-26T12:00:00.000Z',
    ]);
  });

  it('FRI#3 and 6#3 are the third Friday', () => {
    // Prepare
    const expected = ['2027-01-15T12:00:00.000Z', '2027-02-19T12:00:00.000Z', '2027-03-19T12:00:00.000Z'];
    // Act
    const byNumber = fireTimes('cron(0 12 ? * 6#3 *)', '2027-01-01T00:00:00Z', 3);
    const byName = fireTimes('cron(0 12 ? * FRI#3 *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(byNumber).toEqual(expected);
    expect(byName).toEqual(expected);
  });

  it('2#5 is the fifth Monday, in the months that have one', () => {
    // Act
    const times = fireTimes('cron(0 12 ? * 2#5 *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-03-29T12:00:00.000Z',
      '2027-05-31T12:00:00.000Z',
      '2027-08-30T12:00:00.000Z',
    ]);
  });

  it('L alone in day-of-week is the last day of the week, Saturday', () => {
    // Act
    const times = fireTimes('cron(0 12 ? * L *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-01-02T12:00:00.000Z',
      '2027-01-09T12:00:00.000Z',
      '2027-01-16T12:00:00.000Z',
    ]);
  });
});

describe('cron(): the year field', () => {
  it('a year range ends: no fire time after it', () => {
    // Prepare
    const schedule = parseScheduleExpression('cron(0 12 1 1 ? 2030-2031)');
    // Act
    const times = schedule.occurrences(new Date('2027-01-01T00:00:00Z'), 5).map((d) => d.toISOString());
    const afterTheRange = schedule.next(new Date('2031-01-01T12:00:00Z'));
    // Assess
    expect(times).toEqual(['2030-01-01T12:00:00.000Z', '2031-01-01T12:00:00.000Z']);
    expect(afterTheRange).toBeUndefined();
  });

  it('a year step counts from its start', () => {
    // Act
    const times = fireTimes('cron(0 0 1 JAN ? 2028/2)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2028-01-01T00:00:00.000Z',
      '2030-01-01T00:00:00.000Z',
      '2032-01-01T00:00:00.000Z',
    ]);
  });

  it('* ends with 2199, the last year AWS has', () => {
    // Act
    const times = fireTimes('cron(0 0 31 DEC ? *)', '2198-06-01T00:00:00Z', 5);
    // Assess
    expect(times).toEqual(['2198-12-31T00:00:00.000Z', '2199-12-31T00:00:00.000Z']);
  });

  it('a day no month has (February 30) never fires', () => {
    // Prepare
    const schedule = parseScheduleExpression('cron(0 0 30 FEB ? *)');
    // Act
    const next = schedule.next(new Date('2027-01-01T00:00:00Z'));
    // Assess
    expect(next).toBeUndefined();
  });
});

describe('cron(): names, steps and ranges', () => {
  it('month names and lists: JAN,JUL', () => {
    // Act
    const times = fireTimes('cron(0 12 1 JAN,JUL ? *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-01-01T12:00:00.000Z',
      '2027-07-01T12:00:00.000Z',
      '2028-01-01T12:00:00.000Z',
    ]);
  });

  it('day names in any letter case: mon-wed', () => {
    // Act
    const times = fireTimes('cron(0 12 ? * mon-Wed *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-01-04T12:00:00.000Z',
      '2027-01-05T12:00:00.000Z',
      '2027-01-06T12:00:00.000Z',
    ]);
  });

  it('1 is Sunday and 7 is Saturday', () => {
    // Act
    const times = fireTimes('cron(0 12 ? * 1,7 *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(times).toEqual([
      '2027-01-02T12:00:00.000Z',
      '2027-01-03T12:00:00.000Z',
      '2027-01-09T12:00:00.000Z',
    ]);
  });

  it('a stepped range in minutes and hours: 5-50/15 8-10/2', () => {
    // Act
    const times = fireTimes('cron(5-50/15 8-10/2 * * ? *)', '2027-01-01T00:00:00Z', 6);
    // Assess
    expect(times).toEqual([
      '2027-01-01T08:05:00.000Z',
      '2027-01-01T08:20:00.000Z',
      '2027-01-01T08:35:00.000Z',
      '2027-01-01T08:50:00.000Z',
      '2027-01-01T10:05:00.000Z',
      '2027-01-01T10:20:00.000Z',
    ]);
  });

  it('a/n starts at a: 10/20 is :10, :30, :50', () => {
    // Act
    const times = fireTimes('cron(10/20 * * * ? *)', '2027-01-01T00:00:00Z', 4);
    // Assess
    expect(times).toEqual([
      '2027-01-01T00:10:00.000Z',
      '2027-01-01T00:30:00.000Z',
      '2027-01-01T00:50:00.000Z',
      '2027-01-01T01:10:00.000Z',
    ]);
  });

  it('*/n is the same as 0/n', () => {
    // Act
    const star = fireTimes('cron(*/20 * * * ? *)', '2027-01-01T00:00:00Z', 3);
    const zero = fireTimes('cron(0/20 * * * ? *)', '2027-01-01T00:00:00Z', 3);
    // Assess
    expect(star).toEqual([
      '2027-01-01T00:20:00.000Z',
      '2027-01-01T00:40:00.000Z',
      '2027-01-01T01:00:00.000Z',
    ]);
    expect(zero).toEqual(star);
  });

  it('a range that wraps: FRI-MON, and the hours 22-2 on weekdays', () => {
    // Act
    const days = fireTimes('cron(0 9 ? * FRI-MON *)', '2027-01-04T12:00:00Z', 4);
    const hours = fireTimes('cron(0/30 22-2 ? * MON-FRI *)', '2027-01-01T01:45:00Z', 7);
    // Assess
    expect(days).toEqual([
      '2027-01-08T09:00:00.000Z',
      '2027-01-09T09:00:00.000Z',
      '2027-01-10T09:00:00.000Z',
      '2027-01-11T09:00:00.000Z',
    ]);
    expect(hours).toEqual([
      '2027-01-01T02:00:00.000Z',
      '2027-01-01T02:30:00.000Z',
      '2027-01-01T22:00:00.000Z',
      '2027-01-01T22:30:00.000Z',
      '2027-01-01T23:00:00.000Z',
      '2027-01-01T23:30:00.000Z',
      '2027-01-04T00:00:00.000Z',
    ]);
  });
});

describe('cron(): StartDate and EndDate', () => {
  it('none before start, none after end, both inclusive', () => {
    // Prepare
    const bounds = { start: new Date('2027-01-05T10:00:00Z'), end: new Date('2027-01-07T10:00:00Z') };
    // Act
    const times = fireTimes('cron(0 10 * * ? *)', '2027-01-01T00:00:00Z', 5, 'UTC', bounds);
    // Assess
    expect(times).toEqual([
      '2027-01-05T10:00:00.000Z',
      '2027-01-06T10:00:00.000Z',
      '2027-01-07T10:00:00.000Z',
    ]);
  });

  it('a start with milliseconds past a fire time excludes that fire time', () => {
    // Prepare
    const start = new Date('2027-01-05T10:00:00.001Z');
    // Act
    const times = fireTimes('cron(0 10 * * ? *)', '2027-01-01T00:00:00Z', 1, 'UTC', { start });
    // Assess
    expect(times).toEqual(['2027-01-06T10:00:00.000Z']);
  });
});

describe('cron(): the croner pattern', () => {
  const pattern = (expression: string): string => {
    const inner = expression.slice(5, -1);
    return toCronerPattern(parseCronFields(expression, inner, 5));
  };

  it.each([
    ['cron(0 18 ? * 6 *)', '0 0 18 * * 5 1970-2199'],
    ['cron(0/15 * ? * MON-FRI 2027,2029)', '0 0,15,30,45 * * * 1-5 2027,2029'],
    ['cron(0 9 ? * SUN,SAT *)', '0 0 9 * * 0,6 1970-2199'],
    ['cron(0 9 ? * 6L *)', '0 0 9 * * 5#L 1970-2199'],
    ['cron(0 9 ? * 2#1 *)', '0 0 9 * * 1#1 1970-2199'],
    ['cron(0 9 15W * ? *)', '0 0 9 15W * * 1970-2199'],
    ['cron(0 9 LW JAN-MAR ? *)', '0 0 9 LW 1-3 * 1970-2199'],
    ['cron(0 9 L * ? 2030-2040/5)', '0 0 9 L * * 2030,2035,2040'],
  ])('%s becomes %s', (expression, expected) => {
    // Act
    const translated = pattern(expression);
    // Assess
    expect(translated).toBe(expected);
  });
});
