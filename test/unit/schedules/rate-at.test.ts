/**
 * rate() and at(): the examples of the AWS docs, what a rate counts from (StartDate, else the
 * creation time, k ≥ 0), how an at() is read in the schedule's time zone, and bounds.
 */
import { describe, expect, it } from 'vitest';
import { parseScheduleExpression, ScheduleExpressionError } from '../../../shared/schedules';
import { fireTimes, thrown } from './helpers';

describe('rate(): the examples of the AWS docs', () => {
  // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html and
  // https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#rate-based (rate(5 minutes))
  const origin = new Date('2027-01-01T00:00:00Z');
  it.each([
    ['rate(1 minute)', ['2027-01-01T00:01:00.000Z', '2027-01-01T00:02:00.000Z', '2027-01-01T00:03:00.000Z']],
    ['rate(5 minutes)', ['2027-01-01T00:05:00.000Z', '2027-01-01T00:10:00.000Z', '2027-01-01T00:15:00.000Z']],
    ['rate(1 hour)', ['2027-01-01T01:00:00.000Z', '2027-01-01T02:00:00.000Z', '2027-01-01T03:00:00.000Z']],
    ['rate(1 day)', ['2027-01-02T00:00:00.000Z', '2027-01-03T00:00:00.000Z', '2027-01-04T00:00:00.000Z']],
    ['rate(12 hours)', ['2027-01-01T12:00:00.000Z', '2027-01-02T00:00:00.000Z', '2027-01-02T12:00:00.000Z']],
  ])('%s from its creation time', (expression, expected) => {
    // Prepare: `after` is the creation time itself, whose own invocation has happened
    const after = '2027-01-01T00:00:00Z';
    // Act
    const times = fireTimes(expression, after, 3, 'UTC', { origin });
    // Assess
    expect(times).toEqual(expected);
  });
});

describe('rate(): what it counts from', () => {
  it('the creation time is the first occurrence (k = 0): "starts invoking the target immediately"', () => {
    // Prepare
    const origin = new Date('2027-01-01T00:00:30Z');
    // Act
    const times = fireTimes('rate(5 minutes)', '2027-01-01T00:00:00Z', 3, 'UTC', { origin });
    // Assess
    expect(times).toEqual([
      '2027-01-01T00:00:30.000Z',
      '2027-01-01T00:05:30.000Z',
      '2027-01-01T00:10:30.000Z',
    ]);
  });

  it('a StartDate sets the first occurrence, whatever the creation time', () => {
    // Prepare
    const bounds = { origin: new Date('2027-01-01T00:00:00Z'), start: new Date('2027-01-03T08:30:00Z') };
    // Act
    const times = fireTimes('rate(1 hour)', '2027-01-02T00:00:00Z', 3, 'UTC', bounds);
    // Assess
    expect(times).toEqual([
      '2027-01-03T08:30:00.000Z',
      '2027-01-03T09:30:00.000Z',
      '2027-01-03T10:30:00.000Z',
    ]);
  });

  it('long after the anchor, the next multiple of the period strictly after `after`', () => {
    // Prepare
    const schedule = parseScheduleExpression('rate(7 days)');
    const origin = new Date('2027-01-01T06:00:00Z');
    // Act
    const onTheDot = schedule.next(new Date('2027-03-05T06:00:00Z'), { origin });
    const between = schedule.next(new Date('2027-03-06T00:00:00Z'), { origin });
    // Assess
    expect(onTheDot?.toISOString()).toBe('2027-03-12T06:00:00.000Z');
    expect(between?.toISOString()).toBe('2027-03-12T06:00:00.000Z');
  });

  it('an EndDate ends it (inclusive)', () => {
    // Prepare
    const bounds = { origin: new Date('2027-01-01T00:00:00Z'), end: new Date('2027-01-01T03:00:00Z') };
    // Act
    const times = fireTimes('rate(1 hour)', '2027-01-01T00:00:00Z', 10, 'UTC', bounds);
    // Assess
    expect(times).toEqual([
      '2027-01-01T01:00:00.000Z',
      '2027-01-01T02:00:00.000Z',
      '2027-01-01T03:00:00.000Z',
    ]);
  });

  it('the time zone does not enter into it', () => {
    // Prepare
    const origin = new Date('2027-10-30T12:00:00Z');
    // Act
    const berlin = fireTimes('rate(6 hours)', '2027-10-30T12:00:00Z', 4, 'Europe/Berlin', { origin });
    const utc = fireTimes('rate(6 hours)', '2027-10-30T12:00:00Z', 4, 'UTC', { origin });
    // Assess
    expect(berlin).toEqual(utc);
    expect(berlin[3]).toBe('2027-10-31T12:00:00.000Z');
  });
});

describe('at(): one time, in the schedule time zone', () => {
  it('the docs example at(2022-11-20T13:00:00) in UTC and in America/Los_Angeles', () => {
    // Act
    const utc = parseScheduleExpression('at(2022-11-20T13:00:00)');
    const la = parseScheduleExpression('at(2022-11-20T13:00:00)', 'America/Los_Angeles');
    // Assess: a local wall-clock time; Los Angeles is at UTC-08:00 in November
    expect(utc.next(new Date('2022-01-01T00:00:00Z'))?.toISOString()).toBe('2022-11-20T13:00:00.000Z');
    expect(la.next(new Date('2022-01-01T00:00:00Z'))?.toISOString()).toBe('2022-11-20T21:00:00.000Z');
    expect(la).toMatchObject({
      kind: 'at',
      text: 'at(2022-11-20T13:00:00)',
      timeZone: 'America/Los_Angeles',
    });
  });

  it('summer time: at(2027-07-01T18:00:00) in Europe/Berlin is 16:00Z', () => {
    // Act
    const times = fireTimes('at(2027-07-01T18:00:00)', '2027-01-01T00:00:00Z', 3, 'Europe/Berlin');
    // Assess: one fire time only
    expect(times).toEqual(['2027-07-01T16:00:00.000Z']);
  });

  it('nothing once it has passed, or at the instant itself', () => {
    // Prepare
    const schedule = parseScheduleExpression('at(2027-07-01T18:00:00)');
    // Act
    const atTheInstant = schedule.next(new Date('2027-07-01T18:00:00Z'));
    const later = schedule.next(new Date('2028-01-01T00:00:00Z'));
    // Assess
    expect(atTheInstant).toBeUndefined();
    expect(later).toBeUndefined();
  });

  it('StartDate and EndDate do not apply, as AWS ignores them for one-time schedules', () => {
    // Prepare
    const bounds = { start: new Date('2027-08-01T00:00:00Z'), end: new Date('2027-06-01T00:00:00Z') };
    // Act
    const times = fireTimes('at(2027-07-01T18:00:00)', '2027-01-01T00:00:00Z', 1, 'UTC', bounds);
    // Assess
    expect(times).toEqual(['2027-07-01T18:00:00.000Z']);
  });

  it('February 29 exists in a leap year only', () => {
    // Act
    const leap = fireTimes('at(2028-02-29T10:00:00)', '2027-01-01T00:00:00Z', 1);
    const err = thrown(() => parseScheduleExpression('at(2027-02-29T10:00:00)'));
    // Assess
    expect(leap).toEqual(['2028-02-29T10:00:00.000Z']);
    expect(err).toBeInstanceOf(ScheduleExpressionError);
    expect((err as Error).message).toBe(
      'at() date 2027-02-29 at offset 3 is not a calendar date: February 2027 has 28 days',
    );
  });
});
