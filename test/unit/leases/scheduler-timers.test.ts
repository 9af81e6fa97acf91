/**
 * SchedulerTimers.set against a scripted Scheduler client: create, replace on conflict, and the
 * race where the old timer fires (and Scheduler deletes it) between the conflict and the update.
 */
import {
  CreateScheduleCommand,
  UpdateScheduleCommand,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { describe, expect, it } from 'vitest';
import { SchedulerTimers, type TimerPayload } from '../../../shared/timers/job-timers';

const PAYLOAD: TimerPayload = {
  timer: 'lease-due',
  jobId: 'job-01',
  dueAt: '2027-10-25T03:00:00.000Z',
  planned: '2027-10-25T03:00:00.000Z',
};

const failure = (name: string): Error => Object.assign(new Error(name), { name });

/** A client answering each call with the next scripted outcome (an error name, or ok); records the calls. */
function scripted(outcomes: Array<string | 'ok'>) {
  const calls: string[] = [];
  const client = {
    send: async (cmd: unknown) => {
      calls.push(
        cmd instanceof CreateScheduleCommand
          ? 'create'
          : cmd instanceof UpdateScheduleCommand
            ? 'update'
            : 'other',
      );
      const next = outcomes.shift();
      if (next === undefined) throw new Error('unscripted call');
      if (next !== 'ok') throw failure(next);
      return {};
    },
  } as unknown as SchedulerClient;
  const timers = new SchedulerTimers({
    client,
    groupName: 'burstgate',
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-timer',
    roleArn: 'arn:aws:iam::000000000000:role/burstgate-scheduler',
  });
  return { timers, calls };
}

describe('SchedulerTimers.set', () => {
  it('creates a new timer', async () => {
    // Prepare
    const { timers, calls } = scripted(['ok']);
    // Act
    await timers.set(PAYLOAD);
    // Assess
    expect(calls).toEqual(['create']);
  });

  it('replaces a timer that exists', async () => {
    // Prepare
    const { timers, calls } = scripted(['ConflictException', 'ok']);
    // Act
    await timers.set(PAYLOAD);
    // Assess
    expect(calls).toEqual(['create', 'update']);
  });

  it('creates it again when the old timer fired and was deleted between the conflict and the update', async () => {
    // Prepare
    const { timers, calls } = scripted(['ConflictException', 'ResourceNotFoundException', 'ok']);
    // Act
    await timers.set(PAYLOAD);
    // Assess
    expect(calls).toEqual(['create', 'update', 'create']);
  });

  it('gives up after three rounds, and passes any other error on at once', async () => {
    // Prepare
    const racing = scripted(Array(6).fill(['ConflictException', 'ResourceNotFoundException']).flat());
    const throttled = scripted(['ThrottlingException']);
    // Act
    const lost = await racing.timers.set(PAYLOAD).catch((e: Error) => e);
    const refused = await throttled.timers.set(PAYLOAD).catch((e: Error) => e);
    // Assess
    expect((lost as Error).name).toBe('ResourceNotFoundException');
    expect(racing.calls).toEqual(['create', 'update', 'create', 'update', 'create', 'update']);
    expect((refused as Error).name).toBe('ThrottlingException');
    expect(throttled.calls).toEqual(['create']);
  });
});
