/**
 * What the local EventBridge Scheduler is made of: schedules and groups as the API shows them, what
 * the firing loop keeps on each schedule, the invocation records, its options, and the API error.
 */
import type { LocalClock } from './clock';

export const DEFAULT_GROUP = 'default';
/** The retry policy a target without one gets (AWS: 185 retries, 24 hours). */
export const DEFAULT_MAX_RETRY_ATTEMPTS = 185;
export const DEFAULT_MAX_EVENT_AGE_SECONDS = 86_400;

export type ScheduleState = 'ENABLED' | 'DISABLED';
export type ActionAfterCompletion = 'NONE' | 'DELETE';

export interface RetryPolicy {
  MaximumEventAgeInSeconds: number;
  MaximumRetryAttempts: number;
}

/** A templated target; only Step Functions state machines are invoked locally. */
export interface ScheduleTarget {
  Arn: string;
  RoleArn: string;
  Input?: string;
  /** Always set: the defaults fill what the request left out, as GetSchedule shows it. */
  RetryPolicy: RetryPolicy;
  /** Kept and returned; nothing is delivered to it locally. */
  DeadLetterConfig?: { Arn?: string };
}

/** Everything CreateSchedule and UpdateSchedule set (UpdateSchedule replaces all of it). */
export interface ScheduleSpec {
  ScheduleExpression: string;
  /** As the request gave it; the expression is evaluated in UTC when absent. */
  ScheduleExpressionTimezone?: string;
  FlexibleTimeWindow: { Mode: 'OFF' | 'FLEXIBLE'; MaximumWindowInMinutes?: number };
  Target: ScheduleTarget;
  StartDate?: Date;
  EndDate?: Date;
  Description?: string;
  State: ScheduleState;
  ActionAfterCompletion: ActionAfterCompletion;
  KmsKeyArn?: string;
}

/** A retry waiting for its time (kept across restarts). */
export interface PendingRetry {
  scheduledTime: Date;
  /** The attempt number it will be (2 for the first retry). */
  attempt: number;
  dueAt: Date;
  lastError: string;
}

export interface ScheduleRecord extends ScheduleSpec {
  Name: string;
  GroupName: string;
  Arn: string;
  CreationDate: Date;
  LastModificationDate: Date;
  /** The ClientToken of the create and a digest of its request, for an idempotent repeat. */
  clientToken?: string;
  requestDigest?: string;
  /** What rate() counts from: when the expression was last set (create or update). */
  origin: Date;
  /** The last occurrence taken (invoked, being retried, or expired); none yet when absent. */
  handled?: Date;
  /** Retries waiting for their time. */
  pending: PendingRetry[];
}

export interface GroupRecord {
  Name: string;
  Arn: string;
  CreationDate: Date;
  LastModificationDate: Date;
  clientToken?: string;
  Tags?: Array<{ Key: string; Value: string }>;
}

export type InvocationOutcome = 'started' | 'failed' | 'expired';

/** The final word on one occurrence of a schedule. */
export interface Invocation {
  scheduleArn: string;
  name: string;
  group: string;
  /** ISO 8601 UTC, whole seconds: the occurrence, not when it fired. */
  scheduledTime: string;
  /** ISO 8601 UTC (clock time) of the last attempt, or when it was found expired. */
  firedAt: string;
  /** The attempt that started the execution, the last one that failed, or 0 when expired. */
  attempt: number;
  outcome: InvocationOutcome;
  executionArn?: string;
  error?: string;
}

/** A schedule as `schedules()` shows it to tests and the embedded deployment. */
export interface ScheduleView {
  arn: string;
  name: string;
  group: string;
  state: ScheduleState;
  expression: string;
  timeZone: string;
  /** ISO 8601 of the next occurrence the loop will fire (none when disabled or complete). */
  nextOccurrence?: string;
  lastHandled?: string;
  pendingRetries: number;
}

export type StartExecution = (
  stateMachineArn: string,
  name: string,
  input: string,
) => Promise<{ executionArn: string }>;

export interface SchedulerOptions {
  /** `<stateDir>/scheduler/schedules.json` keeps schedules and groups across restarts. */
  stateDir: string;
  /** The deployment's clock (default: a new one at the real time). */
  clock?: LocalClock;
  /** Starts a Step Functions execution; rejects when the target fails. */
  startExecution: StartExecution;
  port?: number;
  /** One line per invocation, retry, expiry and deletion (default: nothing). */
  log?: (line: string) => void;
  /** The pause before attempt `attempt + 1` after attempt `attempt` failed (default: 1 s doubling, at most 5 min). */
  retryDelayMs?: (attempt: number) => number;
  /**
   * Serve the API but fire nothing until `startFiring()` (default false): a deployment whose
   * targets are not up yet must not spend the catch-up of a restart on them.
   */
  deferFiring?: boolean;
}

/** The default backoff: 1 s, 2 s, 4 s … capped at 5 minutes (no jitter, so tests can predict it). */
export function defaultRetryDelayMs(attempt: number): number {
  return Math.min(1000 * 2 ** Math.max(0, attempt - 1), 300_000);
}

/** An EventBridge Scheduler API error: `x-amzn-errortype: <code>`, `{ "Message": … }`. */
export class SchedulerApiError extends Error {
  constructor(
    readonly code:
      | 'ValidationException'
      | 'ConflictException'
      | 'ResourceNotFoundException'
      | 'InternalServerException'
      | 'UnknownOperationException',
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = code;
  }
}

export const validationError = (message: string) =>
  new SchedulerApiError('ValidationException', message, 400);
export const conflictError = (message: string) => new SchedulerApiError('ConflictException', message, 409);
export const notFoundError = (message: string) =>
  new SchedulerApiError('ResourceNotFoundException', message, 404);
