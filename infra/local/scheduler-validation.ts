/**
 * The checks CreateSchedule and UpdateSchedule make, in the order EventBridge Scheduler makes them:
 * first the model's constraints (required members, lengths, patterns, ranges, enums), all reported
 * together in the service's own words ("1 validation error detected: Value … at 'target.roleArn'
 * failed to satisfy constraint: …"); then the rules between members (the expression and its time
 * zone, the flexible window, the dates, the target), one ValidationException each.
 *
 * Limits come from the API model (botocore scheduler-2021-06-30). The model gives Target.Input only a
 * minimum length; the 256 KiB maximum here is what a Step Functions execution input can hold.
 */
import { parseScheduleExpression, type ParsedSchedule } from '../../shared/schedules/schedule-expression';
import { ScheduleExpressionError } from '../../shared/schedules/errors';
import {
  DEFAULT_GROUP,
  DEFAULT_MAX_EVENT_AGE_SECONDS,
  DEFAULT_MAX_RETRY_ATTEMPTS,
  validationError,
  type ActionAfterCompletion,
  type ScheduleSpec,
  type ScheduleState,
} from './scheduler-model';

export const NAME_PATTERN = /^[0-9a-zA-Z-_.]+$/;
const CLIENT_TOKEN_PATTERN = /^[a-zA-Z0-9-_]+$/;
const ROLE_ARN_PATTERN = /^arn:aws(-[a-z]+)?:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const KMS_KEY_ARN_PATTERN = /^arn:aws(-[a-z]+)?:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[0-9a-zA-Z-_]*$/;
const DLQ_ARN_PATTERN = /^arn:aws(-[a-z]+)?:sqs:[a-z0-9-]+:\d{12}:[a-zA-Z0-9-_]+$/;
const ARN_SHAPE = /^arn:aws(-[a-z]+)?:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$/;
const STATE_MACHINE_ARN = /^arn:aws(-[a-z]+)?:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/;
/** 256 KiB: the largest Step Functions execution input. */
export const MAX_TARGET_INPUT_BYTES = 262_144;
const START_DATE_SLACK_MS = 5 * 60_000;

/** Constraint violations collected the way the service reports them: all at once. */
export class Violations {
  private readonly list: string[] = [];

  add(value: unknown, path: string, constraint: string): void {
    this.list.push(`Value ${show(value)} at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  /** Throws the ValidationException that lists every violation, if there is one. */
  check(): void {
    const n = this.list.length;
    if (n === 0) return;
    throw validationError(`${n} validation error${n > 1 ? 's' : ''} detected: ${this.list.join('; ')}`);
  }

  str(
    value: unknown,
    path: string,
    rule: { required?: boolean; min?: number; max?: number; pattern?: RegExp; values?: readonly string[] },
  ): string | undefined {
    if (value === undefined || value === null) {
      if (rule.required) this.add(null, path, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.add(value, path, 'Member must be a string');
      return undefined;
    }
    if (rule.min !== undefined && value.length < rule.min)
      this.add(value, path, `Member must have length greater than or equal to ${rule.min}`);
    else if (rule.max !== undefined && value.length > rule.max)
      this.add(value, path, `Member must have length less than or equal to ${rule.max}`);
    else if (rule.pattern && !rule.pattern.test(value))
      this.add(value, path, `Member must satisfy regular expression pattern: ${rule.pattern.source}`);
    else if (rule.values && !rule.values.includes(value))
      this.add(value, path, `Member must satisfy enum value set: [${rule.values.join(', ')}]`);
    else return value;
    return undefined;
  }

  int(
    value: unknown,
    path: string,
    rule: { required?: boolean; min: number; max: number },
  ): number | undefined {
    if (value === undefined || value === null) {
      if (rule.required) this.add(null, path, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.add(value, path, 'Member must be an integer');
      return undefined;
    }
    if (value < rule.min)
      this.add(value, path, `Member must have value greater than or equal to ${rule.min}`);
    else if (value > rule.max)
      this.add(value, path, `Member must have value less than or equal to ${rule.max}`);
    else return value;
    return undefined;
  }

  /** A timestamp member: epoch seconds in JSON (fractions allowed), as the SDK sends it. */
  date(value: unknown, path: string): Date | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.add(value, path, 'Member must be a timestamp in epoch seconds');
      return undefined;
    }
    return new Date(Math.round(value * 1000));
  }

  obj(value: unknown, path: string, required = false): Record<string, unknown> | undefined {
    if (value === undefined || value === null) {
      if (required) this.add(null, path, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.add(value, path, 'Member must be a structure');
      return undefined;
    }
    return value as Record<string, unknown>;
  }
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return `'${text.length > 100 ? `${text.slice(0, 100)}…` : text}'`;
}

export interface ScheduleRequest {
  name: string;
  group: string;
  clientToken?: string;
  spec: ScheduleSpec;
  parsed: ParsedSchedule;
}

/**
 * The whole CreateSchedule/UpdateSchedule request checked: `name` from the path, `body` the JSON.
 * `now` is the deployment clock's time (the StartDate and EndDate rules compare with it).
 */
export function validateScheduleRequest(
  name: string,
  body: Record<string, unknown>,
  now: Date,
): ScheduleRequest {
  const v = new Violations();
  v.str(name, 'name', { required: true, min: 1, max: 64, pattern: NAME_PATTERN });
  const group = v.str(body.GroupName, 'groupName', { min: 1, max: 64, pattern: NAME_PATTERN });
  const expression = v.str(body.ScheduleExpression, 'scheduleExpression', {
    required: true,
    min: 1,
    max: 256,
  });
  const timeZone = v.str(body.ScheduleExpressionTimezone, 'scheduleExpressionTimezone', { min: 1, max: 50 });
  const description = v.str(body.Description, 'description', { min: 0, max: 512 });
  const state = v.str(body.State, 'state', { values: ['ENABLED', 'DISABLED'] }) as ScheduleState | undefined;
  const action = v.str(body.ActionAfterCompletion, 'actionAfterCompletion', {
    values: ['NONE', 'DELETE'],
  }) as ActionAfterCompletion | undefined;
  const kmsKeyArn = v.str(body.KmsKeyArn, 'kmsKeyArn', { min: 1, max: 2048, pattern: KMS_KEY_ARN_PATTERN });
  const clientToken = v.str(body.ClientToken, 'clientToken', {
    min: 1,
    max: 64,
    pattern: CLIENT_TOKEN_PATTERN,
  });
  const startDate = v.date(body.StartDate, 'startDate');
  const endDate = v.date(body.EndDate, 'endDate');

  const window = v.obj(body.FlexibleTimeWindow, 'flexibleTimeWindow', true);
  const mode = window
    ? (v.str(window.Mode, 'flexibleTimeWindow.mode', { required: true, values: ['OFF', 'FLEXIBLE'] }) as
        'OFF' | 'FLEXIBLE' | undefined)
    : undefined;
  const maxWindow = window
    ? v.int(window.MaximumWindowInMinutes, 'flexibleTimeWindow.maximumWindowInMinutes', { min: 1, max: 1440 })
    : undefined;

  const target = v.obj(body.Target, 'target', true);
  const targetArn = target
    ? v.str(target.Arn, 'target.arn', { required: true, min: 1, max: 1600 })
    : undefined;
  const roleArn = target
    ? v.str(target.RoleArn, 'target.roleArn', {
        required: true,
        min: 1,
        max: 1600,
        pattern: ROLE_ARN_PATTERN,
      })
    : undefined;
  const input = target ? v.str(target.Input, 'target.input', { min: 1 }) : undefined;
  if (input !== undefined && Buffer.byteLength(input) > MAX_TARGET_INPUT_BYTES) {
    v.add(input, 'target.input', `Member must have length less than or equal to ${MAX_TARGET_INPUT_BYTES}`);
  }
  const retry = target ? v.obj(target.RetryPolicy, 'target.retryPolicy') : undefined;
  const maxAge = retry
    ? v.int(retry.MaximumEventAgeInSeconds, 'target.retryPolicy.maximumEventAgeInSeconds', {
        min: 60,
        max: 86_400,
      })
    : undefined;
  const maxRetries = retry
    ? v.int(retry.MaximumRetryAttempts, 'target.retryPolicy.maximumRetryAttempts', { min: 0, max: 185 })
    : undefined;
  const dlq = target ? v.obj(target.DeadLetterConfig, 'target.deadLetterConfig') : undefined;
  const dlqArn = dlq
    ? v.str(dlq.Arn, 'target.deadLetterConfig.arn', { min: 1, max: 1600, pattern: DLQ_ARN_PATTERN })
    : undefined;
  v.check();

  // The constraints held, so the required members are there.
  const spec: ScheduleSpec = {
    ScheduleExpression: expression!,
    ...(timeZone !== undefined ? { ScheduleExpressionTimezone: timeZone } : {}),
    FlexibleTimeWindow: {
      Mode: mode!,
      ...(maxWindow !== undefined ? { MaximumWindowInMinutes: maxWindow } : {}),
    },
    Target: {
      Arn: targetArn!,
      RoleArn: roleArn!,
      ...(input !== undefined ? { Input: input } : {}),
      RetryPolicy: {
        MaximumEventAgeInSeconds: maxAge ?? DEFAULT_MAX_EVENT_AGE_SECONDS,
        MaximumRetryAttempts: maxRetries ?? DEFAULT_MAX_RETRY_ATTEMPTS,
      },
      ...(dlq ? { DeadLetterConfig: dlqArn !== undefined ? { Arn: dlqArn } : {} } : {}),
    },
    ...(startDate ? { StartDate: startDate } : {}),
    ...(endDate ? { EndDate: endDate } : {}),
    ...(description !== undefined ? { Description: description } : {}),
    State: state ?? 'ENABLED',
    ActionAfterCompletion: action ?? 'NONE',
    ...(kmsKeyArn !== undefined ? { KmsKeyArn: kmsKeyArn } : {}),
  };
  const parsed = checkRules(spec, now);
  return { name, group: group ?? DEFAULT_GROUP, ...(clientToken ? { clientToken } : {}), spec, parsed };
}

/** The rules between members, after the constraints held; returns the parsed expression. */
function checkRules(spec: ScheduleSpec, now: Date): ParsedSchedule {
  const parsed = parseExpression(spec.ScheduleExpression, spec.ScheduleExpressionTimezone);
  const { Mode, MaximumWindowInMinutes } = spec.FlexibleTimeWindow;
  if (Mode === 'FLEXIBLE' && MaximumWindowInMinutes === undefined) {
    throw validationError('FlexibleTimeWindow MaximumWindowInMinutes is required when Mode is FLEXIBLE.');
  }
  if (Mode === 'OFF' && MaximumWindowInMinutes !== undefined) {
    throw validationError('FlexibleTimeWindow MaximumWindowInMinutes must not be set when Mode is OFF.');
  }
  // One-time schedules ignore StartDate and EndDate (API reference), so only recurring ones are checked.
  if (parsed.kind !== 'at') {
    const { StartDate, EndDate } = spec;
    if (StartDate && StartDate.getTime() < now.getTime() - START_DATE_SLACK_MS) {
      throw validationError(
        'The StartDate you specify cannot be earlier than 5 minutes prior to the current time.',
      );
    }
    if (EndDate && EndDate.getTime() <= now.getTime()) {
      throw validationError('The EndDate you specify cannot be earlier than the current time.');
    }
    if (StartDate && EndDate && EndDate.getTime() <= StartDate.getTime()) {
      throw validationError('The EndDate you specify must be later than the StartDate.');
    }
  }
  checkTarget(spec.Target.Arn, spec.Target.Input);
  return parsed;
}

function parseExpression(expression: string, timeZone: string | undefined): ParsedSchedule {
  try {
    return parseScheduleExpression(expression, timeZone ?? 'UTC');
  } catch (err) {
    if (!(err instanceof ScheduleExpressionError)) throw err;
    if (err.where.field === 'timeZone') {
      throw validationError(`Invalid ScheduleExpressionTimezone ${timeZone ?? 'UTC'}: ${err.message}.`);
    }
    throw validationError(`Invalid ScheduleExpression ${expression}: ${err.message}.`);
  }
}

function checkTarget(arn: string, input: string | undefined): void {
  if (!ARN_SHAPE.test(arn)) throw validationError(`Target Arn ${arn} is not a valid ARN.`);
  if (!STATE_MACHINE_ARN.test(arn)) {
    throw validationError(
      `Target Arn ${arn} is not supported by the local EventBridge Scheduler: it invokes only Step Functions ` +
        'state machines (arn:aws:states:<region>:<account>:stateMachine:<name>).',
    );
  }
  if (input === undefined) return;
  // The context attributes are replaced before the input is sent; check the JSON as it will be.
  const sample = input
    .replaceAll('<aws.scheduler.attempt-number>', '1')
    .replace(/<aws\.scheduler\.[a-z-]+>/g, 'x');
  try {
    JSON.parse(sample);
  } catch (err) {
    throw validationError(
      `Target Input must be well-formed JSON for a Step Functions target: ${(err as Error).message}.`,
    );
  }
}

/** A digest of a request without its ClientToken: a repeat with the same token must match it. */
export function requestDigest(name: string, body: Record<string, unknown>): string {
  const { ClientToken: _token, ...rest } = body;
  return stableJson({ name, ...rest });
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
