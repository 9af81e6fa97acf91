/**
 * The gateway's timers: when a lease warns, when a return or cancel starts on its own, when a held
 * launch is released. Each is a one-time EventBridge Scheduler schedule (`at(...)`, UTC) in the
 * gateway's schedule group whose target starts the timer workflow with the payload as input;
 * Scheduler deletes it after it fired (ActionAfterCompletion DELETE). Nothing polls: no Lambda
 * waits in a loop, no Wait state sleeps for a week.
 *
 * A timer is named after what it is for (`<jobId>.lease-due`), so setting it again replaces it and
 * clearing it needs no bookkeeping. A timer that fires after its job moved on (a delete that did
 * not happen, a change racing the fire) is harmless: the payload carries the time it was set for,
 * and the receiver ignores a payload that no longer matches the job.
 */
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';

/** What a job's timer is for. */
export const TIMER_KINDS = ['lease-expiring', 'lease-due', 'launch'] as const;
export type TimerKind = (typeof TIMER_KINDS)[number];
/** What a schedule's timer is for: pre-staging the next window, checking it is staged in time. */
export const WINDOW_TIMER_KINDS = ['window-prestage', 'window-check'] as const;
export type WindowTimerKind = (typeof WINDOW_TIMER_KINDS)[number];

/** The timer workflow's input. `scheduledTime` is filled in by Scheduler when it fires. */
export type TimerPayload = JobTimerPayload | WindowTimerPayload;

/** A schedule's timer: `planned` is the opening of the window it is for. */
export interface WindowTimerPayload {
  timer: WindowTimerKind;
  scheduleId: string;
  /** The instant the timer fires at (ISO-8601, whole seconds). */
  dueAt: string;
  planned: string;
  /** Scheduler's `<aws.scheduler.scheduled-time>` when it fired (how late a delivery is). */
  scheduledTime?: string;
}

export interface JobTimerPayload {
  timer: TimerKind;
  jobId: string;
  /** The instant the timer fires at (ISO-8601, whole seconds). */
  dueAt: string;
  /**
   * What the timer carries out, as the job knew it when the timer was set (the return plan's
   * start, the launch time): the receiver's staleness check. Usually `dueAt`'s instant; later when
   * the moment had passed already (the timer then fires at once).
   */
  planned: string;
}

/** The port: set (create or replace) and clear one-time timers by name (owner: a job or schedule id). */
export interface JobTimers {
  set(payload: TimerPayload): Promise<void>;
  clear(ownerId: string, timer: TimerKind | WindowTimerKind): Promise<void>;
}

/** The job or schedule a timer belongs to. */
export const timerOwner = (payload: TimerPayload): string =>
  'scheduleId' in payload ? payload.scheduleId : payload.jobId;

export interface SchedulerTimersOptions {
  client: SchedulerClient;
  /** The gateway's schedule group (created by the stack). */
  groupName: string;
  /** The timer state machine Scheduler starts. */
  stateMachineArn: string;
  /** The role Scheduler assumes to start it (states:StartExecution on that machine only). */
  roleArn: string;
}

/** Scheduler's context attribute, replaced by the occurrence's time in the target input. */
const SCHEDULED_TIME = '<aws.scheduler.scheduled-time>';

/** Timer names: `<jobId>.<kind>`, `<scheduleId>.<kind>` (Scheduler allows 1-64 of [0-9A-Za-z-_.]). */
export function timerName(ownerId: string, timer: TimerKind | WindowTimerKind): string {
  return `${ownerId}.${timer}`;
}

/**
 * `at(yyyy-mm-ddThh:mm:ss)` for an instant, in UTC. Scheduler's at() has whole seconds: a
 * fractional instant is rounded up, so a timer never fires before the time it stands for.
 */
export function atExpression(at: Date): string {
  const ms = Math.ceil(at.getTime() / 1000) * 1000;
  return `at(${new Date(ms).toISOString().slice(0, 19)})`;
}

/** Lead a timer gets at least: one for a moment that has passed fires this soon. */
export const MIN_TIMER_LEAD_MS = 2000;

/** When a timer for `at` fires: `at` rounded up to Scheduler's whole second, and never sooner than `now` + MIN_TIMER_LEAD_MS. */
export function dueInstant(at: Date, now: Date): Date {
  const ms = Math.max(at.getTime(), now.getTime() + MIN_TIMER_LEAD_MS);
  return new Date(Math.ceil(ms / 1000) * 1000);
}

/** Create-or-update rounds of `set` (a round is lost only to a timer firing in between). */
const SET_ATTEMPTS = 3;

export class SchedulerTimers implements JobTimers {
  constructor(private readonly opts: SchedulerTimersOptions) {}

  /**
   * Creates the timer, or replaces the one of that name as a whole. Between the two the old one may
   * fire and be deleted by Scheduler (its UpdateSchedule then answers ResourceNotFound): the create
   * is tried again, a few times, so setting a timer never fails on a timer that just fired.
   */
  async set(payload: TimerPayload): Promise<void> {
    const input = this.scheduleInput(payload);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.opts.client.send(new CreateScheduleCommand(input));
        return;
      } catch (err) {
        if ((err as Error).name !== 'ConflictException') throw err;
      }
      try {
        // The timer exists (set before, not fired yet): replace it as a whole.
        await this.opts.client.send(new UpdateScheduleCommand(input));
        return;
      } catch (err) {
        if ((err as Error).name !== 'ResourceNotFoundException' || attempt === SET_ATTEMPTS) throw err;
      }
    }
  }

  async clear(ownerId: string, timer: TimerKind | WindowTimerKind): Promise<void> {
    try {
      await this.opts.client.send(
        new DeleteScheduleCommand({ Name: timerName(ownerId, timer), GroupName: this.opts.groupName }),
      );
    } catch (err) {
      // Never set, already fired (and deleted by Scheduler), or cleared before: all the same.
      if ((err as Error).name !== 'ResourceNotFoundException') throw err;
    }
  }

  private scheduleInput(payload: TimerPayload): CreateScheduleCommandInput {
    return {
      Name: timerName(timerOwner(payload), payload.timer),
      GroupName: this.opts.groupName,
      ScheduleExpression: atExpression(new Date(payload.dueAt)),
      ScheduleExpressionTimezone: 'UTC',
      // Leases and launch times are promises to the minute: no flexible window.
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      State: 'ENABLED',
      Description: `burstgate ${payload.timer} of ${timerOwner(payload)}`,
      Target: {
        Arn: this.opts.stateMachineArn,
        RoleArn: this.opts.roleArn,
        Input: JSON.stringify({ ...payload, scheduledTime: SCHEDULED_TIME }),
        // Keep trying for a day (Scheduler's maximum): a throttled StartExecution must not lose a return.
        RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
      },
    };
  }
}
