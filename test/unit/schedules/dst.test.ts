/**
 * Daylight saving time as EventBridge Scheduler handles it: "When the time shifts forward in
 * Spring, your schedule invocation gets skipped if the cron expression falls on a non-existent date
 * and time. When the time shifts back in the Fall, your schedule runs only once and doesn't repeat
 * its invocation." (https://repost.aws/knowledge-center/eventbridge-scheduler-adjust-dst)
 *
 * Europe/Berlin 2027: 2027-03-28 02:00 CET → 03:00 CEST (01:00Z); 2027-10-31 03:00 CEST → 02:00 CET
 * (01:00Z), so 02:00-02:59 happens twice. America/New_York 2027: 2027-03-14 02:00 EST → 03:00 EDT
 * (07:00Z); 2027-11-07 02:00 EDT → 01:00 EST (06:00Z), so 01:00-01:59 happens twice.
 */
import { describe, expect, it } from 'vitest';
import { parseScheduleExpression, ScheduleExpressionError } from '../../../shared/schedules';
import { fireTimes, thrown } from './helpers';

describe('DST in Europe/Berlin', () => {
  it('spring forward: cron(30 2 * * ? *) skips 2027-03-28, when 02:30 does not exist', () => {
    // Act
    const times = fireTimes('cron(30 2 * * ? *)', '2027-03-26T12:00:00Z', 3, 'Europe/Berlin');
    // Assess
    expect(times).toEqual([
      '2027-03-27T01:30:00.000Z',
      '2027-03-29T00:30:00.000Z',
      '2027-03-30T00:30:00.000Z',
    ]);
  });

  it('spring forward: cron(0 2 * * ? *) is skipped too (croner alone would run it at 03:00)', () => {
    // Act
    const times = fireTimes('cron(0 2 * * ? *)', '2027-03-27T12:00:00Z', 2, 'Europe/Berlin');
    // Assess
    expect(times).toEqual(['2027-03-29T00:00:00.000Z', '2027-03-30T00:00:00.000Z']);
  });

  it('fall back: cron(30 2 * * ? *) fires once on 2027-10-31, at the first 02:30 (CEST)', () => {
    // Act
    const times = fireTimes('cron(30 2 * * ? *)', '2027-10-30T12:00:00Z', 3, 'Europe/Berlin');
    // Assess
    expect(times).toEqual([
      '2027-10-31T00:30:00.000Z',
      '2027-11-01T01:30:00.000Z',
      '2027-11-02T01:30:00.000Z',
    ]);
  });

  it('fall back: an every-30-minutes schedule does not repeat the hour (croner alone would)', () => {
    // Act: 00:30Z is 02:30 CEST; 01:00Z and 01:30Z are 02:00 and 02:30 CET again; 02:00Z is 03:00 CET
    const times = fireTimes('cron(0/30 * * * ? *)', '2027-10-31T00:00:00Z', 3, 'Europe/Berlin');
    // Assess
    expect(times).toEqual([
      '2027-10-31T00:30:00.000Z',
      '2027-10-31T02:00:00.000Z',
      '2027-10-31T02:30:00.000Z',
    ]);
  });

  it('spring forward: an every-30-minutes schedule goes from 01:30 CET to 03:00 CEST', () => {
    // Act
    const times = fireTimes('cron(0/30 * * * ? *)', '2027-03-28T00:10:00Z', 3, 'Europe/Berlin');
    // Assess
    expect(times).toEqual([
      '2027-03-28T00:30:00.000Z',
      '2027-03-28T01:00:00.000Z',
      '2027-03-28T01:30:00.000Z',
    ]);
  });

  it('an hour range over both transitions: cron(0 1-4 * * ? *)', () => {
    // Act
    const spring = fireTimes('cron(0 1-4 * * ? *)', '2027-03-27T23:30:00Z', 4, 'Europe/Berlin');
    const fall = fireTimes('cron(0 1-4 * * ? *)', '2027-10-30T22:30:00Z', 4, 'Europe/Berlin');
    // Assess: spring 01:00 CET, (02:00 missing), 03:00 CEST, 04:00 CEST, then 01:00 CEST the next day
    expect(spring).toEqual([
      '2027-03-28T00:00:00.000Z',
      '2027-03-28T01:00:00.000Z',
      '2027-03-28T02:00:00.000Z',
      '2027-03-28T23:00:00.000Z',
    ]);
    // fall: 01:00 CEST, 02:00 CEST, (02:00 CET again: not repeated), 03:00 CET, 04:00 CET
    expect(fall).toEqual([
      '2027-10-30T23:00:00.000Z',
      '2027-10-31T00:00:00.000Z',
      '2027-10-31T02:00:00.000Z',
      '2027-10-31T03:00:00.000Z',
    ]);
  });

  it('a repeated time after `after` in its second pass does not fire either', () => {
    // Prepare: `after` is inside the first pass, past 02:30 CEST
    const schedule = parseScheduleExpression('cron(30 2 * * ? *)', 'Europe/Berlin');
    // Act
    const next = schedule.next(new Date('2027-10-31T00:45:00Z'));
    // Assess: not 01:30Z (02:30 CET), but the next day
    expect(next?.toISOString()).toBe('2027-11-01T01:30:00.000Z');
  });
});

describe('DST in America/New_York', () => {
  it('spring forward: cron(30 2 * * ? *) skips 2027-03-14', () => {
    // Act
    const times = fireTimes('cron(30 2 * * ? *)', '2027-03-13T00:00:00Z', 3, 'America/New_York');
    // Assess
    expect(times).toEqual([
      '2027-03-13T07:30:00.000Z',
      '2027-03-15T06:30:00.000Z',
      '2027-03-16T06:30:00.000Z',
    ]);
  });

  it('fall back: cron(30 1 * * ? *) fires once on 2027-11-07, at 01:30 EDT', () => {
    // Act
    const times = fireTimes('cron(30 1 * * ? *)', '2027-11-06T00:00:00Z', 3, 'America/New_York');
    // Assess
    expect(times).toEqual([
      '2027-11-06T05:30:00.000Z',
      '2027-11-07T05:30:00.000Z',
      '2027-11-08T06:30:00.000Z',
    ]);
  });

  it('fall back: cron(0/20 1 * * ? *) runs through 01:00-01:40 once', () => {
    // Act
    const times = fireTimes('cron(0/20 1 * * ? *)', '2027-11-07T04:50:00Z', 4, 'America/New_York');
    // Assess
    expect(times).toEqual([
      '2027-11-07T05:00:00.000Z',
      '2027-11-07T05:20:00.000Z',
      '2027-11-07T05:40:00.000Z',
      '2027-11-08T06:00:00.000Z',
    ]);
  });
});

describe('DST and at()', () => {
  it('a time in the spring-forward gap is refused: it names no instant', () => {
    // Act
    const err = thrown(() => parseScheduleExpression('at(2027-03-28T02:30:00)', 'Europe/Berlin'));
    // Assess
    expect(err).toBeInstanceOf(ScheduleExpressionError);
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_AT_DST_GAP', where: { field: 'expression', offset: 3 } });
    expect((err as Error).message).toContain('UTC+01:00 to UTC+02:00');
    expect((err as Error).message).toContain('at(2027-03-28T03:30:00)');
  });

  it('the same in America/New_York', () => {
    // Act
    const err = thrown(() => parseScheduleExpression('at(2027-03-14T02:30:00)', 'America/New_York'));
    // Assess
    expect(err).toMatchObject({ code: 'BG_SCHEDULE_AT_DST_GAP' });
    expect((err as Error).message).toContain('UTC-05:00 to UTC-04:00');
  });

  it('a time the fall-back repeats is its first instant', () => {
    // Act
    const berlin = fireTimes('at(2027-10-31T02:30:00)', '2027-01-01T00:00:00Z', 2, 'Europe/Berlin');
    const newYork = fireTimes('at(2027-11-07T01:30:00)', '2027-01-01T00:00:00Z', 2, 'America/New_York');
    // Assess: 02:30 CEST, 01:30 EDT
    expect(berlin).toEqual(['2027-10-31T00:30:00.000Z']);
    expect(newYork).toEqual(['2027-11-07T05:30:00.000Z']);
  });
});

describe('DST and rate()', () => {
  it('a day is 24 hours on the clock across the change', () => {
    // Prepare
    const origin = new Date('2027-03-27T12:00:00Z');
    // Act
    const times = fireTimes('rate(1 day)', '2027-03-27T12:00:00Z', 2, 'Europe/Berlin', { origin });
    // Assess
    expect(times).toEqual(['2027-03-28T12:00:00.000Z', '2027-03-29T12:00:00.000Z']);
  });
});
