/**
 * The gateway's error family. Each error carries a stable problem `type` slug (part of the API
 * contract: clients switch on it), an HTTP status, a short title and a detail that says what was
 * wrong, where, and what to do. The API's onError middleware turns these into RFC 9457
 * problem+json; anything else becomes a generic 500. A workflow step's StepFailure is one of them
 * too: it ends up on the job (`job.error`) rather than in an HTTP answer.
 */
import type { JobError, JobErrorType } from './job';
export const PROBLEM_BASE = 'https://burstgate.dev/problems/';

/** Every problem type the HTTP API answers with, and its status (the README lists the same). */
export const PROBLEM_TYPES = {
  'validation-failed': 400,
  'malformed-body': 400,
  'upload-incomplete': 400,
  'scope-missing': 403,
  'tenant-not-allowed': 403,
  'job-not-found': 404,
  'image-cache-entry-not-found': 404,
  'schedule-not-found': 404,
  'webhook-not-found': 404,
  'delivery-not-found': 404,
  'budget-not-found': 404,
  'idempotency-key-reused': 409,
  'invalid-job-state': 409,
  'schedule-name-taken': 409,
  'window-overlap': 409,
  'no-open-prestage': 409,
  'budget-exceeded': 409,
  'body-too-large': 413,
  'no-quote': 422,
  'quota-exceeded': 429,
  'unsupported-media-type': 415,
  'internal-error': 500,
  'concurrent-update': 503,
  'prices-unavailable': 503,
} as const;
export type ProblemType = keyof typeof PROBLEM_TYPES;

export interface FieldError {
  path: string;
  message: string;
}

export class GatewayError extends Error {
  override readonly name: string = 'GatewayError';
  constructor(
    /** An API problem type, or (StepFailure) why a job failed. */
    readonly type: ProblemType | JobErrorType,
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }
  /** Response headers the problem carries (a 429's Retry-After). */
  readonly headers: Record<string, string> = {};
  get detail(): string {
    return this.message;
  }
}

export class ValidationError extends GatewayError {
  override readonly name = 'ValidationError';
  constructor(detail: string, errors?: FieldError[]) {
    super('validation-failed', 400, 'The request is not valid', detail, errors);
  }
}

export class MalformedBodyError extends GatewayError {
  override readonly name = 'MalformedBodyError';
  constructor(detail: string) {
    super('malformed-body', 400, 'The request body is not valid JSON', detail);
  }
}

export class JobNotFoundError extends GatewayError {
  override readonly name = 'JobNotFoundError';
  constructor(jobId: string) {
    super(
      'job-not-found',
      404,
      'No such job',
      `No offload job with id '${jobId}' exists; list jobs with GET /offloads.`,
    );
  }
}

export class ImageCacheEntryNotFoundError extends GatewayError {
  override readonly name = 'ImageCacheEntryNotFoundError';
  constructor(region: string, vmName: string) {
    super(
      'image-cache-entry-not-found',
      404,
      'No cached image for this VM',
      `No cached image for VM "${vmName}" in ${region}: the first direct offload (AWS, target.mode "direct") of a VM uploads it whole.`,
    );
  }
}

export class ScheduleNotFoundError extends GatewayError {
  override readonly name = 'ScheduleNotFoundError';
  constructor(scheduleId: string) {
    super(
      'schedule-not-found',
      404,
      'No such schedule',
      `No schedule with id or name '${scheduleId}' exists; list schedules with GET /schedules.`,
    );
  }
}

export class WebhookNotFoundError extends GatewayError {
  override readonly name = 'WebhookNotFoundError';
  constructor(id: string) {
    super(
      'webhook-not-found',
      404,
      'No such webhook',
      `No webhook endpoint '${id}' exists; list them with GET /webhooks.`,
    );
  }
}

export class DeliveryNotFoundError extends GatewayError {
  override readonly name = 'DeliveryNotFoundError';
  constructor(id: string) {
    super(
      'delivery-not-found',
      404,
      'No such delivery',
      `No delivery '${id}' of this webhook exists; list them with GET /webhooks/{id}/deliveries.`,
    );
  }
}

export class ScheduleNameTakenProblem extends GatewayError {
  override readonly name = 'ScheduleNameTakenProblem';
  constructor(name: string, holder: string) {
    super(
      'schedule-name-taken',
      409,
      'A schedule with this name exists',
      `The name '${name}' belongs to schedule ${holder}; choose another name, or change that schedule with PATCH /schedules/${holder}.`,
    );
  }
}

export class IdempotencyConflictError extends GatewayError {
  override readonly name = 'IdempotencyConflictError';
  constructor(key: string, jobId: string) {
    super(
      'idempotency-key-reused',
      409,
      'Idempotency-Key reused with a different request',
      `The Idempotency-Key '${key}' was already used for job ${jobId} with a different body; use a new key for a new request.`,
    );
  }
}

/** The caller's API key lacks the scope a route needs (tenants.ts). */
export class ScopeMissingError extends GatewayError {
  override readonly name = 'ScopeMissingError';
  constructor(
    readonly scope: string,
    action: string,
    keyId: string,
  ) {
    super(
      'scope-missing',
      403,
      'The API key lacks a scope this needs',
      `To ${action} the API key needs the scope '${scope}'; key ${keyId} does not have it. Ask an operator for a key with '${scope}' (burstgate api-key create --scopes ${scope},…).`,
    );
  }
}

/** A caller named a tenant other than its own without the `admin` scope. */
export class TenantNotAllowedError extends GatewayError {
  override readonly name = 'TenantNotAllowedError';
  constructor(tenant: string, own: string) {
    super(
      'tenant-not-allowed',
      403,
      "Another tenant's resources need the admin scope",
      `This key belongs to tenant '${own}' and may not look at tenant '${tenant}'; only a key with the scope 'admin' may, and only to read. Leave out the tenant parameter to see your own.`,
    );
  }
}

export class InvalidJobStateError extends GatewayError {
  override readonly name = 'InvalidJobStateError';
  constructor(jobId: string, state: string, action: string, allowed: readonly string[]) {
    super(
      'invalid-job-state',
      409,
      'The job is not in a state that allows this',
      `Cannot ${action} job ${jobId}: it is '${state}'; this is allowed only when it is ${allowed.map((s) => `'${s}'`).join(' or ')}.`,
    );
  }
}

export class UploadIncompleteError extends GatewayError {
  override readonly name = 'UploadIncompleteError';
  constructor(detail: string) {
    super('upload-incomplete', 400, 'The upload is not complete', detail);
  }
}

export class ConcurrentUpdateError extends GatewayError {
  override readonly name = 'ConcurrentUpdateError';
  constructor(id: string, what: 'job' | 'schedule' | 'webhook' | 'delivery' = 'job') {
    super(
      'concurrent-update',
      503,
      `The ${what} is being changed by another request`,
      `${what[0]!.toUpperCase()}${what.slice(1)} ${id} was changed concurrently too many times; retry the request.`,
    );
  }
}

/**
 * A step failure the job reports to its user (the workflow's Catch sends it to compensation). Its
 * `name` is what Step Functions matches on; its problem becomes the job's `error`.
 */
export class StepFailure extends GatewayError {
  constructor(
    override readonly name: 'ImageRejected' | 'UploadMissing',
    readonly problem: JobError,
  ) {
    super(problem.type, name === 'ImageRejected' ? 422 : 409, problem.title, problem.detail);
  }
}

/** The price source could not be read; nothing is quoted from half the prices. Retry. */
export class PricesUnavailableProblem extends GatewayError {
  override readonly name = 'PricesUnavailableProblem';
  constructor(detail: string, cause: unknown) {
    super('prices-unavailable', 503, 'Prices could not be read', detail, undefined, { cause });
    this.headers['retry-after'] = '30';
  }
}
