/**
 * Cloud errors as the workflows see them. The `name` is what Step Functions matches on (Lambda
 * reports it as the errorType): `CloudThrottled` and `CloudUnavailable` are retried with backoff
 * by the state machines; everything else goes to compensation.
 */
export type CloudErrorName =
  'CloudThrottled' | 'CloudUnavailable' | 'CloudRejected' | 'ImportFailed' | 'ExportFailed' | 'CloudTimedOut';

export class CloudError extends Error {
  constructor(
    override readonly name: CloudErrorName,
    message: string,
    /** The cloud's own error code, e.g. `InvalidInstanceID.NotFound`. */
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const THROTTLING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'SlowDown',
  'RequestThrottled',
  // EBS direct APIs
  'RequestThrottledException',
  'ConcurrentLimitExceededException',
]);
const UNAVAILABLE = new Set([
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'InsufficientInstanceCapacity',
  // EBS direct APIs (500 InternalServerException; 503 answers carry code Unavailable)
  'InternalServerException',
]);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'TimeoutError',
]);

/** Maps an SDK error to the gateway's cloud error family (what to retry, what to report). */
export function classifyCloudError(err: unknown, what: string): CloudError {
  if (err instanceof CloudError) return err;
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const code = e?.name ?? e?.code ?? 'Error';
  const status = e?.$metadata?.httpStatusCode;
  const message = `${what}: ${code}: ${e?.message ?? String(err)}`;
  if (THROTTLING.has(code) || status === 429)
    return new CloudError('CloudThrottled', message, code, { cause: err });
  if (
    UNAVAILABLE.has(code) ||
    (status !== undefined && status >= 500) ||
    NETWORK.has(code) ||
    NETWORK.has(e?.code ?? '')
  )
    return new CloudError('CloudUnavailable', message, code, { cause: err });
  return new CloudError('CloudRejected', message, code, { cause: err });
}
