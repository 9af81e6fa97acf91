/**
 * A cron schedule in a time zone across a daylight-saving change, fired by moving the clock: the
 * local Scheduler and the schedule-expression translator (shared/schedules) together.
 */
import { CreateScheduleCommand } from '@aws-sdk/client-scheduler';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  recordingTarget,
  removeDir,
  ROLE_ARN,
  runScheduler,
  STATE_MACHINE_ARN,
  tempDir,
  type Running,
} from './fixtures/scheduler';

let dir: string;
let r: Running | undefined;

beforeEach(async () => {
  dir = await tempDir();
});

afterEach(async () => {
  await r?.stop();
  await removeDir(dir);
});

describe('local EventBridge Scheduler: cron in a time zone', () => {
  it('fires Fridays 18:00 Europe/Berlin once each, in order, across the end of summer time (2027-10-31)', async () => {
    // Prepare
    const target = recordingTarget();
    r = await runScheduler({
      dir,
      start: new Date('2027-10-20T00:00:00Z'),
      startExecution: target.startExecution,
    });
    await r.client.send(
      new CreateScheduleCommand({
        Name: 'friday-evening-burst',
        ScheduleExpression: 'cron(0 18 ? * 6 *)',
        ScheduleExpressionTimezone: 'Europe/Berlin',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: STATE_MACHINE_ARN,
          RoleArn: ROLE_ARN,
          Input: '{"at":"<aws.scheduler.scheduled-time>"}',
        },
      }),
    );
    // Act
    r.clock.set(new Date('2027-11-06T00:00:00Z'));
    await r.scheduler.idle();
    // Assess
    const expected = ['2027-10-22T16:00:00Z', '2027-10-29T16:00:00Z', '2027-11-05T17:00:00Z'];
    expect(r.scheduler.invocations().map((i) => [i.scheduledTime, i.outcome])).toEqual(
      expected.map((t) => [t, 'started']),
    );
    expect(target.calls.map((c) => (JSON.parse(c.input) as { at: string }).at)).toEqual(expected);
  });
});
