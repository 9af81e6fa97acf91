/**
 * The stores' error family: what a read or a conditional write of the jobs table found. These say
 * what happened to the data, not what an HTTP client should see; the API layer maps them to
 * problems (lambdas/middleware/problem-details.ts), and the workflow steps let Step Functions see
 * their names.
 */
export type StoreErrorCode =
  | 'job-missing'
  | 'idempotency-key-conflict'
  | 'job-write-conflict'
  | 'image-cache-conflict'
  | 'schedule-missing'
  | 'schedule-name-taken'
  | 'schedule-write-conflict'
  | 'cursor-invalid'
  | 'api-key-missing'
  | 'delivery-missing'
  | 'delivery-write-conflict'
  | 'webhook-missing'
  | 'webhook-write-conflict';

export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** No job item with this id. */
export class JobMissingError extends StoreError {
  override readonly name = 'JobMissing';
  constructor(readonly jobId: string) {
    super('job-missing', `no job ${jobId} in the jobs table`);
  }
}

/** The idempotency key is recorded for another job with a different request body. */
export class IdempotencyKeyConflictError extends StoreError {
  override readonly name = 'IdempotencyKeyConflict';
  constructor(
    readonly key: string,
    readonly jobId: string,
  ) {
    super(
      'idempotency-key-conflict',
      `idempotency key ${key} was recorded for job ${jobId} with another body`,
    );
  }
}

/** Every attempt of a read-modify-write lost to another writer of the same job. */
export class JobWriteConflictError extends StoreError {
  override readonly name = 'JobWriteConflict';
  constructor(
    readonly jobId: string,
    readonly attempts: number,
  ) {
    super('job-write-conflict', `job ${jobId} changed under each of ${attempts} conditional writes`);
  }
}

/** The image cache entry changed between its read and the conditional write that replaces it. */
export class ImageCacheConflictError extends StoreError {
  override readonly name = 'ImageCacheConflict';
  constructor(region: string, vmName: string) {
    super('image-cache-conflict', `the image cache entry of ${vmName} in ${region} changed meanwhile`);
  }
}

/** No schedule item with this id. */
export class ScheduleMissingError extends StoreError {
  override readonly name = 'ScheduleMissing';
  constructor(readonly scheduleId: string) {
    super('schedule-missing', `no schedule ${scheduleId} in the jobs table`);
  }
}

/** Another schedule holds the name. */
export class ScheduleNameTakenError extends StoreError {
  override readonly name = 'ScheduleNameTaken';
  constructor(
    readonly scheduleName: string,
    readonly holder: string,
  ) {
    super('schedule-name-taken', `the schedule name ${scheduleName} belongs to ${holder}`);
  }
}

/** Every attempt of a read-modify-write lost to another writer of the same schedule. */
export class ScheduleWriteConflictError extends StoreError {
  override readonly name = 'ScheduleWriteConflict';
  constructor(
    readonly scheduleId: string,
    readonly attempts: number,
  ) {
    super(
      'schedule-write-conflict',
      `schedule ${scheduleId} changed under each of ${attempts} conditional writes`,
    );
  }
}

/** A listing's cursor that this store did not hand out for this listing. */
export class CursorInvalidError extends StoreError {
  override readonly name = 'CursorInvalid';
  constructor(readonly reason: string) {
    super('cursor-invalid', `the cursor is not valid: ${reason}`);
  }
}

/** No API key with this id. */
export class ApiKeyMissingError extends StoreError {
  override readonly name = 'ApiKeyMissing';
  constructor(readonly keyId: string) {
    super('api-key-missing', `no API key ${keyId} in the jobs table`);
  }
}

/** No webhook delivery with this id about that job or schedule. */
export class DeliveryMissingError extends StoreError {
  override readonly name = 'DeliveryMissing';
  constructor(readonly deliveryId: string) {
    super('delivery-missing', `no webhook delivery ${deliveryId} in the jobs table`);
  }
}

/** Every attempt of a read-modify-write lost to another writer of the same delivery. */
export class DeliveryWriteConflictError extends StoreError {
  override readonly name = 'DeliveryWriteConflict';
  constructor(
    readonly deliveryId: string,
    readonly attempts: number,
  ) {
    super(
      'delivery-write-conflict',
      `delivery ${deliveryId} changed under each of ${attempts} conditional writes`,
    );
  }
}

/** No webhook endpoint with this id. */
export class WebhookMissingError extends StoreError {
  override readonly name = 'WebhookMissing';
  constructor(readonly webhookId: string) {
    super('webhook-missing', `no webhook endpoint ${webhookId} in the jobs table`);
  }
}

/** Every attempt of a read-modify-write lost to another writer of the same endpoint. */
export class WebhookWriteConflictError extends StoreError {
  override readonly name = 'WebhookWriteConflict';
  constructor(
    readonly webhookId: string,
    readonly attempts: number,
  ) {
    super(
      'webhook-write-conflict',
      `webhook ${webhookId} changed under each of ${attempts} conditional writes`,
    );
  }
}
