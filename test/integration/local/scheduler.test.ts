/**
 * The local EventBridge Scheduler through the real `@aws-sdk/client-scheduler`: every operation, the
 * service's validation, conflicts and missing resources, idempotent creates, and the firing loop on
 * a LocalClock (one-time and rate schedules, retries, restarts and catch-up). Time only moves when a
 * test moves the clock; nothing here measures wall-clock durations.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  DeleteScheduleGroupCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListScheduleGroupsCommand,
  ListSchedulesCommand,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startStepFunctions } from '../../../infra/local/step-functions';
import {
  atText,
  oneTime,
  recordingTarget,
  removeDir,
  ROLE_ARN,
  runScheduler,
  STATE_MACHINE_ARN,
  tempDir,
  type Running,
} from './fixtures/scheduler';

const T0 = new Date('2030-03-04T08:00:00Z');
const HOUR = 3_600_000;
const ARN_PREFIX = 'arn:aws:scheduler:us-east-1:000000000000';

let dir: string;
let running: Running[];

beforeEach(async () => {
  dir = await tempDir();
  running = [];
});

afterEach(async () => {
  for (const r of running) await r.stop();
  await removeDir(dir);
});

async function start(
  opts: { at?: Date; fail?: (n: number) => boolean; retryDelayMs?: (a: number) => number } = {},
) {
  const target = recordingTarget(opts.fail);
  const r = await runScheduler({
    dir,
    start: opts.at ?? T0,
    startExecution: target.startExecution,
    ...(opts.retryDelayMs ? { retryDelayMs: opts.retryDelayMs } : {}),
  });
  running.push(r);
  return { ...r, calls: target.calls };
}

/** Moves the clock and waits until everything that became due has been handled. */
async function advance(r: Running, ms: number): Promise<void> {
  r.clock.advance(ms);
  await r.scheduler.idle();
}

/** The SDK error a call rejects with. */
async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return {
      name: e.name,
      message: e.message,
      ...(e.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}),
    };
  }
  throw new Error('expected the call to fail');
}

describe('local EventBridge Scheduler: the API', () => {
  it('creates, reads, lists, updates and deletes schedules and groups', async () => {
    // Prepare
    const { client } = await start();
    // Act
    const group = await client.send(new CreateScheduleGroupCommand({ Name: 'bursts' }));
    const gotGroup = await client.send(new GetScheduleGroupCommand({ Name: 'bursts' }));
    const created = await client.send(
      new CreateScheduleCommand(
        oneTime('burst-1', '2030-03-04T12:00:00', {
          GroupName: 'bursts',
          Description: 'first burst',
          ScheduleExpressionTimezone: 'Europe/Berlin',
          Target: {
            Arn: STATE_MACHINE_ARN,
            RoleArn: ROLE_ARN,
            Input: '{"vm":"web-1"}',
            RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 },
          },
          ActionAfterCompletion: 'DELETE',
        }),
      ),
    );
    await client.send(new CreateScheduleCommand(oneTime('other', '2030-03-05T09:00:00')));
    await client.send(
      new CreateScheduleCommand({
        ...oneTime('burst-2', '2030-03-06T09:00:00', { GroupName: 'bursts', State: 'DISABLED' }),
      }),
    );
    const got = await client.send(new GetScheduleCommand({ Name: 'burst-1', GroupName: 'bursts' }));
    const inGroup = await client.send(new ListSchedulesCommand({ GroupName: 'bursts' }));
    const byPrefix = await client.send(new ListSchedulesCommand({ NamePrefix: 'burst' }));
    const disabled = await client.send(new ListSchedulesCommand({ State: 'DISABLED' }));
    const groups = await client.send(new ListScheduleGroupsCommand({}));
    const updated = await client.send(
      new UpdateScheduleCommand({
        Name: 'burst-1',
        GroupName: 'bursts',
        ScheduleExpression: 'rate(2 hours)',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        Target: { Arn: STATE_MACHINE_ARN, RoleArn: ROLE_ARN },
      }),
    );
    const afterUpdate = await client.send(new GetScheduleCommand({ Name: 'burst-1', GroupName: 'bursts' }));
    await client.send(new DeleteScheduleCommand({ Name: 'other' }));
    const afterDelete = await client.send(new ListSchedulesCommand({}));
    await client.send(new DeleteScheduleGroupCommand({ Name: 'bursts' }));
    const afterGroupDelete = await client.send(new ListSchedulesCommand({}));
    const groupsAfter = await client.send(new ListScheduleGroupsCommand({}));
    // Assess
    expect(group.ScheduleGroupArn).toBe(`${ARN_PREFIX}:schedule-group/bursts`);
    expect(gotGroup).toMatchObject({ Name: 'bursts', State: 'ACTIVE', Arn: group.ScheduleGroupArn });
    expect(gotGroup.CreationDate).toBeInstanceOf(Date);
    expect(created.ScheduleArn).toBe(`${ARN_PREFIX}:schedule/bursts/burst-1`);
    expect(got).toMatchObject({
      Arn: created.ScheduleArn,
      Name: 'burst-1',
      GroupName: 'bursts',
      ScheduleExpression: 'at(2030-03-04T12:00:00)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      Description: 'first burst',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: STATE_MACHINE_ARN,
        RoleArn: ROLE_ARN,
        Input: '{"vm":"web-1"}',
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 },
      },
    });
    expect(got.CreationDate!.getTime()).toBeGreaterThanOrEqual(T0.getTime());
    expect(got.CreationDate!.getUTCFullYear()).toBe(2030);
    expect(got.LastModificationDate).toEqual(got.CreationDate);
    expect(inGroup.Schedules?.map((s) => s.Name)).toEqual(['burst-1', 'burst-2']);
    expect(inGroup.Schedules?.[0]).toMatchObject({
      Arn: created.ScheduleArn,
      GroupName: 'bursts',
      State: 'ENABLED',
      Target: { Arn: STATE_MACHINE_ARN },
    });
    expect(byPrefix.Schedules?.map((s) => s.Name)).toEqual(['burst-1', 'burst-2']);
    expect(disabled.Schedules?.map((s) => s.Name)).toEqual(['burst-2']);
    expect(groups.ScheduleGroups?.map((g) => g.Name)).toEqual(['bursts', 'default']);
    expect(updated.ScheduleArn).toBe(created.ScheduleArn);
    // UpdateSchedule replaces the whole schedule: what it leaves out goes back to the defaults.
    expect(afterUpdate).toMatchObject({
      ScheduleExpression: 'rate(2 hours)',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
      ActionAfterCompletion: 'NONE',
      State: 'ENABLED',
      Target: { RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 } },
    });
    expect(afterUpdate.Description).toBeUndefined();
    expect(afterUpdate.ScheduleExpressionTimezone).toBeUndefined();
    expect(afterUpdate.Target?.Input).toBeUndefined();
    expect(afterUpdate.CreationDate).toEqual(got.CreationDate);
    expect(afterUpdate.LastModificationDate!.getTime()).toBeGreaterThanOrEqual(got.CreationDate!.getTime());
    expect(afterDelete.Schedules?.map((s) => s.Name)).toEqual(['burst-1', 'burst-2']);
    expect(afterGroupDelete.Schedules).toEqual([]);
    expect(groupsAfter.ScheduleGroups?.map((g) => g.Name)).toEqual(['default']);
  });

  it('pages ListSchedules and ListScheduleGroups with MaxResults and NextToken', async () => {
    // Prepare
    const { client } = await start();
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      await client.send(new CreateScheduleCommand(oneTime(name, '2030-03-05T00:00:00')));
      await client.send(new CreateScheduleGroupCommand({ Name: `g-${name}` }));
    }
    // Act
    const names: string[][] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListSchedulesCommand({ MaxResults: 2, NextToken: token }));
      names.push((page.Schedules ?? []).map((s) => s.Name!));
      token = page.NextToken;
    } while (token);
    const firstGroups = await client.send(new ListScheduleGroupsCommand({ MaxResults: 4 }));
    const restGroups = await client.send(
      new ListScheduleGroupsCommand({ MaxResults: 4, NextToken: firstGroups.NextToken }),
    );
    const prefixed = await client.send(new ListScheduleGroupsCommand({ NamePrefix: 'g-' }));
    const badToken = await failure(client.send(new ListSchedulesCommand({ NextToken: 'not-a-token' })));
    const tooMany = await failure(client.send(new ListSchedulesCommand({ MaxResults: 101 })));
    // Assess
    expect(names).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(firstGroups.ScheduleGroups?.map((g) => g.Name)).toEqual(['default', 'g-a', 'g-b', 'g-c']);
    expect(restGroups.ScheduleGroups?.map((g) => g.Name)).toEqual(['g-d', 'g-e']);
    expect(restGroups.NextToken).toBeUndefined();
    expect(prefixed.ScheduleGroups).toHaveLength(5);
    expect(badToken.name).toBe('ValidationException');
    expect(tooMany).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(tooMany.message).toMatch(/'maxResults'.*less than or equal to 100/);
  });

  const valid = oneTime('burst', '2030-03-04T09:00:00');
  const target = valid.Target!;
  const cases: Array<[string, CreateScheduleCommandInput, RegExp]> = [
    ['a name outside the pattern', { ...valid, Name: 'burst window' }, /'name'.*regular expression pattern/],
    ['an empty name', { ...valid, Name: '' }, /'name'.*length greater than or equal to 1/],
    ['a name over 64 characters', { ...valid, Name: 'n'.repeat(65) }, /'name'.*less than or equal to 64/],
    ['a group name outside the pattern', { ...valid, GroupName: 'my group' }, /'groupName'/],
    [
      'no schedule expression',
      { ...valid, ScheduleExpression: undefined },
      /'scheduleExpression'.*not be null/,
    ],
    [
      'an expression of no known kind',
      { ...valid, ScheduleExpression: 'every day' },
      /ScheduleExpression every day/,
    ],
    ['a rate of zero', { ...valid, ScheduleExpression: 'rate(0 minutes)' }, /ScheduleExpression rate\(0/],
    [
      'an impossible at() date',
      { ...valid, ScheduleExpression: 'at(2030-02-30T09:00:00)' },
      /ScheduleExpression/,
    ],
    [
      'an unknown time zone',
      { ...valid, ScheduleExpressionTimezone: 'Mars/Olympus' },
      /ScheduleExpressionTimezone/,
    ],
    [
      'no flexible time window',
      { ...valid, FlexibleTimeWindow: undefined },
      /'flexibleTimeWindow'.*not be null/,
    ],
    [
      'an unknown window mode',
      { ...valid, FlexibleTimeWindow: { Mode: 'SOMETIMES' as 'OFF' } },
      /'flexibleTimeWindow.mode'.*enum value set: \[OFF, FLEXIBLE\]/,
    ],
    [
      'a flexible window without its size',
      { ...valid, FlexibleTimeWindow: { Mode: 'FLEXIBLE' } },
      /MaximumWindowInMinutes/,
    ],
    [
      'a window over 1440 minutes',
      { ...valid, FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1441 } },
      /'flexibleTimeWindow.maximumWindowInMinutes'.*less than or equal to 1440/,
    ],
    [
      'a window size with the window off',
      { ...valid, FlexibleTimeWindow: { Mode: 'OFF', MaximumWindowInMinutes: 5 } },
      /MaximumWindowInMinutes/,
    ],
    ['no target', { ...valid, Target: undefined }, /'target'.*not be null/],
    [
      'no target role',
      { ...valid, Target: { ...target, RoleArn: undefined } },
      /'target.roleArn'.*not be null/,
    ],
    [
      'a role that is no IAM role ARN',
      { ...valid, Target: { ...target, RoleArn: 'scheduler-role' } },
      /'target.roleArn'/,
    ],
    ['no target ARN', { ...valid, Target: { ...target, Arn: undefined } }, /'target.arn'.*not be null/],
    [
      'a target ARN that is no ARN',
      { ...valid, Target: { ...target, Arn: 'burst-window' } },
      /Target Arn burst-window/,
    ],
    [
      'a Lambda target (not supported locally)',
      { ...valid, Target: { ...target, Arn: 'arn:aws:lambda:us-east-1:000000000000:function:Burst' } },
      /Target Arn .*not supported.*Step Functions state machines/,
    ],
    [
      'a maximum event age under 60 s',
      { ...valid, Target: { ...target, RetryPolicy: { MaximumEventAgeInSeconds: 59 } } },
      /'target.retryPolicy.maximumEventAgeInSeconds'.*greater than or equal to 60/,
    ],
    [
      'a maximum event age over a day',
      { ...valid, Target: { ...target, RetryPolicy: { MaximumEventAgeInSeconds: 86401 } } },
      /'target.retryPolicy.maximumEventAgeInSeconds'.*less than or equal to 86400/,
    ],
    [
      'more than 185 retries',
      { ...valid, Target: { ...target, RetryPolicy: { MaximumRetryAttempts: 186 } } },
      /'target.retryPolicy.maximumRetryAttempts'.*less than or equal to 185/,
    ],
    [
      'an empty input',
      { ...valid, Target: { ...target, Input: '' } },
      /'target.input'.*greater than or equal to 1/,
    ],
    [
      'an input over 256 KiB',
      { ...valid, Target: { ...target, Input: JSON.stringify({ pad: 'x'.repeat(262_144) }) } },
      /'target.input'.*less than or equal to 262144/,
    ],
    ['an input that is not JSON', { ...valid, Target: { ...target, Input: 'burst now' } }, /Target Input/],
    ['an unknown state', { ...valid, State: 'PAUSED' as 'ENABLED' }, /'state'.*\[ENABLED, DISABLED\]/],
    [
      'an unknown action after completion',
      { ...valid, ActionAfterCompletion: 'ARCHIVE' as 'NONE' },
      /'actionAfterCompletion'.*\[NONE, DELETE\]/,
    ],
    ['a description over 512 characters', { ...valid, Description: 'd'.repeat(513) }, /'description'/],
    ['a client token outside the pattern', { ...valid, ClientToken: 'token with spaces' }, /'clientToken'/],
    [
      'an EndDate before the StartDate',
      {
        ...valid,
        ScheduleExpression: 'rate(1 hour)',
        StartDate: new Date(T0.getTime() + 2 * HOUR),
        EndDate: new Date(T0.getTime() + HOUR),
      },
      /EndDate.*StartDate/,
    ],
    [
      'a StartDate long past',
      { ...valid, ScheduleExpression: 'rate(1 hour)', StartDate: new Date(T0.getTime() - HOUR) },
      /StartDate/,
    ],
    [
      'an EndDate already past',
      { ...valid, ScheduleExpression: 'rate(1 hour)', EndDate: new Date(T0.getTime() - HOUR) },
      /EndDate/,
    ],
  ];

  it.each(cases)('refuses %s with a ValidationException naming the member', async (_what, input, message) => {
    // Prepare
    const { client, scheduler } = await start();
    // Act
    const error = await failure(client.send(new CreateScheduleCommand(input)));
    // Assess
    expect(error).toMatchObject({ name: 'ValidationException', status: 400 });
    expect(error.message).toMatch(message);
    expect(scheduler.schedules()).toEqual([]);
  });

  it('reports every constraint a request breaks at once, as the service does', async () => {
    // Prepare
    const { client } = await start();
    // Act
    const error = await failure(
      client.send(new CreateScheduleCommand({ ...valid, Name: 'a b', FlexibleTimeWindow: undefined })),
    );
    // Assess
    expect(error.message).toMatch(
      /^2 validation errors detected: Value 'a b' at 'name' .*; Value null at 'flexibleTimeWindow'/,
    );
  });

  it('answers ConflictException for an existing name and ResourceNotFoundException for what is not there', async () => {
    // Prepare
    const { client } = await start();
    await client.send(new CreateScheduleCommand(valid));
    await client.send(new CreateScheduleGroupCommand({ Name: 'bursts' }));
    // Act
    const again = await failure(client.send(new CreateScheduleCommand(valid)));
    const groupAgain = await failure(client.send(new CreateScheduleGroupCommand({ Name: 'bursts' })));
    const defaultAgain = await failure(client.send(new CreateScheduleGroupCommand({ Name: 'default' })));
    const missing = await Promise.all([
      failure(client.send(new GetScheduleCommand({ Name: 'nope' }))),
      failure(client.send(new GetScheduleCommand({ Name: 'burst', GroupName: 'bursts' }))),
      failure(client.send(new UpdateScheduleCommand({ ...valid, Name: 'nope' }))),
      failure(client.send(new DeleteScheduleCommand({ Name: 'nope' }))),
      failure(client.send(new CreateScheduleCommand({ ...valid, GroupName: 'no-such-group' }))),
      failure(client.send(new GetScheduleGroupCommand({ Name: 'no-such-group' }))),
      failure(client.send(new DeleteScheduleGroupCommand({ Name: 'no-such-group' }))),
      failure(client.send(new ListSchedulesCommand({ GroupName: 'no-such-group' }))),
    ]);
    const deleteDefault = await failure(client.send(new DeleteScheduleGroupCommand({ Name: 'default' })));
    // Assess
    expect(again).toMatchObject({
      name: 'ConflictException',
      status: 409,
      message: 'Schedule burst already exists.',
    });
    expect(groupAgain).toMatchObject({
      name: 'ConflictException',
      message: 'Schedule group bursts already exists.',
    });
    expect(defaultAgain.name).toBe('ConflictException');
    for (const m of missing) expect(m).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    expect(missing[0]!.message).toBe('Schedule nope does not exist.');
    expect(missing[4]!.message).toBe('Schedule group no-such-group does not exist.');
    expect(deleteDefault.name).toBe('ValidationException');
  });

  it('makes a repeated create with the same ClientToken idempotent, and a different request a conflict', async () => {
    // Prepare
    const { client } = await start();
    const request = { ...valid, ClientToken: 'create-burst-1' };
    // Act
    const first = await client.send(new CreateScheduleCommand(request));
    const repeat = await client.send(new CreateScheduleCommand(request));
    const changed = await failure(
      client.send(new CreateScheduleCommand({ ...request, Description: 'other' })),
    );
    const group = await client.send(new CreateScheduleGroupCommand({ Name: 'g', ClientToken: 'group-1' }));
    const groupRepeat = await client.send(
      new CreateScheduleGroupCommand({ Name: 'g', ClientToken: 'group-1' }),
    );
    await client.send(new DeleteScheduleCommand({ Name: 'burst', ClientToken: 'delete-1' }));
    const deleteRepeat = await client.send(
      new DeleteScheduleCommand({ Name: 'burst', ClientToken: 'delete-1' }),
    );
    const deleteOther = await failure(
      client.send(new DeleteScheduleCommand({ Name: 'burst', ClientToken: 'delete-2' })),
    );
    // Assess
    expect(repeat.ScheduleArn).toBe(first.ScheduleArn);
    expect(changed.name).toBe('ConflictException');
    expect(groupRepeat.ScheduleGroupArn).toBe(group.ScheduleGroupArn);
    expect(deleteRepeat.$metadata.httpStatusCode).toBe(200);
    expect(deleteOther.name).toBe('ResourceNotFoundException');
  });
});

describe('local EventBridge Scheduler: firing on the clock', () => {
  it('fires an at() schedule exactly once when the clock passes it, with the context attributes replaced', async () => {
    // Prepare
    const r = await start();
    const input =
      '{"schedule":"<aws.scheduler.schedule-arn>","at":"<aws.scheduler.scheduled-time>",' +
      '"id":"<aws.scheduler.execution-id>","attempt":<aws.scheduler.attempt-number>}';
    const { ScheduleArn } = await r.client.send(
      new CreateScheduleCommand(
        oneTime('burst', '2030-03-04T09:00:00', {
          Target: { Arn: STATE_MACHINE_ARN, RoleArn: ROLE_ARN, Input: input },
        }),
      ),
    );
    // Act
    await advance(r, HOUR / 2);
    const before = r.calls.length;
    await advance(r, HOUR);
    await advance(r, 24 * HOUR);
    // Assess
    expect(before).toBe(0);
    expect(r.calls).toHaveLength(1);
    const call = r.calls[0]!;
    expect(call.stateMachineArn).toBe(STATE_MACHINE_ARN);
    const sent = JSON.parse(call.input) as { schedule: string; at: string; id: string; attempt: number };
    expect(sent).toMatchObject({ schedule: ScheduleArn, at: '2030-03-04T09:00:00Z', attempt: 1 });
    expect(sent.id).toMatch(/^[a-z0-9]{16}$/);
    expect(call.name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(call.name).toContain(sent.id);
    expect(r.scheduler.invocations()).toEqual([
      expect.objectContaining({
        scheduleArn: ScheduleArn,
        name: 'burst',
        group: 'default',
        scheduledTime: '2030-03-04T09:00:00Z',
        attempt: 1,
        outcome: 'started',
        executionArn: `arn:aws:states:us-east-1:000000000000:execution:burst-window:${call.name}`,
      }),
    ]);
    expect(Date.parse(r.scheduler.invocations()[0]!.firedAt)).toBeGreaterThanOrEqual(
      Date.parse('2030-03-04T09:00:00Z'),
    );
  });

  it('resolves an at() time in the schedule time zone', async () => {
    // Prepare
    const r = await start();
    await r.client.send(
      new CreateScheduleCommand(
        oneTime('berlin', '2030-03-04T10:00:00', { ScheduleExpressionTimezone: 'Europe/Berlin' }),
      ),
    );
    // Act
    await advance(r, 2 * HOUR);
    // Assess
    expect(r.scheduler.invocations().map((i) => i.scheduledTime)).toEqual(['2030-03-04T09:00:00Z']);
  });

  it('deletes a one-time schedule after it fired when ActionAfterCompletion is DELETE, and keeps it with NONE', async () => {
    // Prepare
    const r = await start();
    await r.client.send(
      new CreateScheduleCommand(oneTime('gone', '2030-03-04T09:00:00', { ActionAfterCompletion: 'DELETE' })),
    );
    await r.client.send(
      new CreateScheduleCommand(oneTime('kept', '2030-03-04T09:00:00', { ActionAfterCompletion: 'NONE' })),
    );
    // Act
    await advance(r, 2 * HOUR);
    const gone = await failure(r.client.send(new GetScheduleCommand({ Name: 'gone' })));
    const kept = await r.client.send(new GetScheduleCommand({ Name: 'kept' }));
    // Assess
    expect(r.calls).toHaveLength(2);
    expect(gone.name).toBe('ResourceNotFoundException');
    expect(kept.Name).toBe('kept');
    expect(r.scheduler.schedules().map((s) => [s.name, s.nextOccurrence])).toEqual([['kept', undefined]]);
  });

  it('does not fire a DISABLED schedule', async () => {
    // Prepare
    const r = await start();
    await r.client.send(
      new CreateScheduleCommand(oneTime('off', '2030-03-04T09:00:00', { State: 'DISABLED' })),
    );
    // Act
    await advance(r, 3 * HOUR);
    // Assess
    expect(r.calls).toEqual([]);
    expect(r.scheduler.invocations()).toEqual([]);
  });

  it('moves the fire time when the schedule is updated', async () => {
    // Prepare
    const r = await start();
    await r.client.send(new CreateScheduleCommand(oneTime('moved', '2030-03-04T09:00:00')));
    await r.client.send(new UpdateScheduleCommand(oneTime('moved', '2030-03-04T11:00:00')));
    // Act
    await advance(r, 2 * HOUR);
    const afterTwoHours = r.calls.length;
    await advance(r, 2 * HOUR);
    // Assess
    expect(afterTwoHours).toBe(0);
    expect(r.scheduler.invocations().map((i) => i.scheduledTime)).toEqual(['2030-03-04T11:00:00Z']);
  });

  it('retries a failing target with backoff up to MaximumRetryAttempts, then records it failed', async () => {
    // Prepare: retries 10 and 20 minutes after the attempt before.
    const r = await start({ fail: () => true, retryDelayMs: (attempt) => attempt * 10 * 60_000 });
    const input = '{"attempt":"<aws.scheduler.attempt-number>"}';
    await r.client.send(
      new CreateScheduleCommand(
        oneTime('flaky', '2030-03-04T09:00:00', {
          Target: {
            Arn: STATE_MACHINE_ARN,
            RoleArn: ROLE_ARN,
            Input: input,
            RetryPolicy: { MaximumRetryAttempts: 2 },
          },
        }),
      ),
    );
    // Act
    await advance(r, HOUR);
    const firstAttempt = r.calls.length;
    await advance(r, HOUR);
    // Assess
    expect(firstAttempt).toBe(1);
    expect(r.calls.map((c) => (JSON.parse(c.input) as { attempt: string }).attempt)).toEqual(['1', '2', '3']);
    expect(new Set(r.calls.map((c) => c.name)).size).toBe(3);
    expect(r.scheduler.invocations()).toEqual([
      expect.objectContaining({
        name: 'flaky',
        scheduledTime: '2030-03-04T09:00:00Z',
        attempt: 3,
        outcome: 'failed',
        error: 'ServiceUnavailable: the state machine is unavailable',
      }),
    ]);
  });

  it('stops retrying once MaximumEventAgeInSeconds has passed since the scheduled time', async () => {
    // Prepare: attempts at +0, +1, +3, +7, +15, +31 s; the next (+63 s) would be older than 60 s.
    const r = await start({ fail: () => true });
    await r.client.send(
      new CreateScheduleCommand(
        oneTime('aged', '2030-03-04T09:00:00', {
          Target: {
            Arn: STATE_MACHINE_ARN,
            RoleArn: ROLE_ARN,
            RetryPolicy: { MaximumEventAgeInSeconds: 60 },
          },
        }),
      ),
    );
    // Act
    await advance(r, 2 * HOUR);
    // Assess
    expect(r.calls).toHaveLength(6);
    expect(r.scheduler.invocations()).toEqual([expect.objectContaining({ attempt: 6, outcome: 'failed' })]);
  });

  it('records the attempt that finally started the execution when a retry succeeds', async () => {
    // Prepare
    const r = await start({ fail: (n) => n <= 2 });
    await r.client.send(new CreateScheduleCommand(oneTime('recovers', '2030-03-04T09:00:00')));
    // Act
    await advance(r, 2 * HOUR);
    // Assess
    expect(r.calls).toHaveLength(3);
    expect(r.scheduler.invocations()).toEqual([expect.objectContaining({ attempt: 3, outcome: 'started' })]);
  });

  it('fires a rate() schedule once per period, in order, when the clock moves several periods at once', async () => {
    // Prepare
    const r = await start();
    await r.client.send(
      new CreateScheduleCommand({
        ...oneTime('hourly', ''),
        ScheduleExpression: 'rate(1 hour)',
        Target: {
          Arn: STATE_MACHINE_ARN,
          RoleArn: ROLE_ARN,
          Input: '{"at":"<aws.scheduler.scheduled-time>"}',
        },
      }),
    );
    const { CreationDate } = await r.client.send(new GetScheduleCommand({ Name: 'hourly' }));
    // Act
    await advance(r, 3.5 * HOUR);
    const afterThree = r.scheduler.invocations().length;
    await advance(r, HOUR);
    // Assess
    expect(afterThree).toBe(3);
    const times = r.scheduler.invocations().map((i) => Date.parse(i.scheduledTime));
    const created = Math.floor(CreationDate!.getTime() / 1000) * 1000;
    expect(times).toEqual([1, 2, 3, 4].map((k) => created + k * HOUR));
    expect(r.calls.map((c) => (JSON.parse(c.input) as { at: string }).at)).toEqual(
      r.scheduler.invocations().map((i) => i.scheduledTime),
    );
  });

  it('keeps schedules and groups across a restart with the same state directory', async () => {
    // Prepare
    const first = await start();
    await first.client.send(new CreateScheduleGroupCommand({ Name: 'bursts' }));
    await first.client.send(
      new CreateScheduleCommand(
        oneTime('later', '2030-03-06T09:00:00', { GroupName: 'bursts', Description: 'kept' }),
      ),
    );
    const before = await first.client.send(new GetScheduleCommand({ Name: 'later', GroupName: 'bursts' }));
    await first.stop();
    running = [];
    // Act
    const second = await start();
    const after = await second.client.send(new GetScheduleCommand({ Name: 'later', GroupName: 'bursts' }));
    const groups = await second.client.send(new ListScheduleGroupsCommand({}));
    const saved = JSON.parse(await readFile(join(dir, 'scheduler', 'schedules.json'), 'utf8')) as {
      version: number;
    };
    // Assess
    expect({ ...after, $metadata: undefined }).toEqual({ ...before, $metadata: undefined });
    expect(groups.ScheduleGroups?.map((g) => g.Name)).toEqual(['bursts', 'default']);
    expect(saved.version).toBe(1);
    expect(existsSync(join(dir, 'scheduler'))).toBe(true);
  });

  it('catches up after a restart: invokes what came due within MaximumEventAgeInSeconds, records older ones expired', async () => {
    // Prepare: the scheduler stops at T0 and starts again 1 h 10 min later.
    const first = await start();
    const maxAge = (seconds: number) => ({
      Target: {
        Arn: STATE_MACHINE_ARN,
        RoleArn: ROLE_ARN,
        RetryPolicy: { MaximumEventAgeInSeconds: seconds },
      },
    });
    await first.client.send(
      new CreateScheduleCommand(oneTime('too-old', atText(new Date(T0.getTime() + HOUR / 2)), maxAge(60))),
    );
    await first.client.send(
      new CreateScheduleCommand(oneTime('recent', atText(new Date(T0.getTime() + HOUR)), maxAge(3600))),
    );
    await first.client.send(
      new CreateScheduleCommand(oneTime('future', atText(new Date(T0.getTime() + 3 * HOUR)))),
    );
    await first.stop();
    running = [];
    // Act
    const second = await start({ at: new Date(T0.getTime() + HOUR + 10 * 60_000) });
    await second.scheduler.idle();
    const caughtUp = second.scheduler.invocations().map((i) => [i.name, i.outcome, i.attempt]);
    await advance(second, 2 * HOUR);
    // Assess
    expect(caughtUp).toEqual([
      ['too-old', 'expired', 0],
      ['recent', 'started', 1],
    ]);
    expect(second.calls.map((c) => c.name.split('-20300304')[0])).toEqual(['recent', 'future']);
    expect(second.scheduler.invocations().at(-1)).toMatchObject({ name: 'future', outcome: 'started' });
  });

  it('starts a real Step Functions execution through SFNClient with the substituted input', async () => {
    // Prepare
    const sfn = await startStepFunctions({
      stateMachines: [
        {
          name: 'burst-window',
          definition: { StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } },
        },
      ],
      invokeFunction: () => Promise.reject(new Error('no functions here')),
    });
    const sfnClient = new SFNClient({
      region: 'us-east-1',
      endpoint: sfn.url,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const r = await runScheduler({
      dir,
      start: T0,
      startExecution: async (stateMachineArn, name, input) => {
        const out = await sfnClient.send(new StartExecutionCommand({ stateMachineArn, name, input }));
        return { executionArn: out.executionArn! };
      },
    });
    running.push(r);
    await r.client.send(
      new CreateScheduleCommand(
        oneTime('real', '2030-03-04T09:00:00', {
          Target: {
            Arn: STATE_MACHINE_ARN,
            RoleArn: ROLE_ARN,
            Input: '{"when":"<aws.scheduler.scheduled-time>"}',
          },
        }),
      ),
    );
    try {
      // Act
      await advance(r, 2 * HOUR);
      const [invocation] = r.scheduler.invocations();
      const execution = await sfn.waitForExecution(invocation!.executionArn!);
      const described = await sfnClient.send(
        new DescribeExecutionCommand({ executionArn: invocation!.executionArn }),
      );
      // Assess
      expect(invocation).toMatchObject({ outcome: 'started', attempt: 1 });
      expect(execution.status).toBe('SUCCEEDED');
      expect(JSON.parse(described.input!)).toEqual({ when: '2030-03-04T09:00:00Z' });
      expect(described.stateMachineArn).toBe(STATE_MACHINE_ARN);
    } finally {
      sfnClient.destroy();
      await sfn.close();
    }
  });

  it('stops firing on close() and leaves no handle behind: a process that used it exits by itself', async () => {
    // Prepare
    const script = fileURLToPath(new URL('./fixtures/scheduler-exit.ts', import.meta.url));
    // Act
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const guard = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the process did not exit after close(): ${stdout}${stderr}`));
        }, 45_000);
        child.on('error', reject);
        child.on('exit', (code) => {
          clearTimeout(guard);
          resolve({ code, stdout, stderr });
        });
      },
    );
    // Assess
    expect(run.stdout.trim().split('\n').at(-1)).toBe('closed: 0 invocations after close');
    expect(run.code).toBe(0);
  });
});
