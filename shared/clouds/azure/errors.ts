/**
 * Azure SDK errors as the workflows see them: the gateway's CloudError family (shared/clouds/errors),
 * so Step Functions retries throttling and 5xx (`CloudThrottled`, `CloudUnavailable`) and reports
 * everything else with Azure's own code and message. Three shapes arrive here: a `RestError` from
 * core-rest-pipeline (`statusCode`, `code` — ARM's `error.code` or the blob service's
 * `x-ms-error-code`), a plain `Error` from core-lro when a long-running operation ends `Failed`
 * (`The long-running operation has failed. <code>. <message>`, no `code` property), and Node's
 * network errors (`code` ECONNRESET, ...).
 */
import { CloudError } from '../errors';

/** Codes Azure uses when it throttles (ARM 429, the blob service's 503 ServerBusy). */
const THROTTLING = new Set(['TooManyRequests', 'ServerBusy', 'SubscriptionRequestsThrottled']);
/** Codes of transient failures: retrying the same request later is expected to work. */
const UNAVAILABLE = new Set([
  'InternalServerError',
  'InternalError',
  'ServiceUnavailable',
  'OperationTimedOut',
  'GatewayTimeout',
  'RetryableError',
  'InternalOperationError',
]);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/** What ARM and the blob service answer for a resource that does not exist (any more). */
export const AZURE_GONE_CODES: ReadonlySet<string> = new Set([
  'ResourceNotFound',
  'NotFound',
  'BlobNotFound',
  // a resource group that is gone holds nothing any more
  'ResourceGroupNotFound',
]);

const LRO_FAILED = /^The long-running operation has failed\. ([^.\s]+)\. ([\s\S]*)$/;

interface AzureErrorShape {
  name?: string;
  code?: string;
  statusCode?: number;
  message?: string;
  details?: { errorCode?: string; error?: { code?: string; message?: string } };
}

/** The Azure error code and message of an SDK error, whatever its shape. */
export function azureErrorCode(err: unknown): { code: string; message: string; status?: number } {
  const e = (err ?? {}) as AzureErrorShape;
  const message = e.message ?? String(err);
  const lro = LRO_FAILED.exec(message);
  if (lro) return { code: lro[1]!, message: lro[2]!.trim() };
  const code = e.details?.errorCode ?? e.details?.error?.code ?? e.code ?? e.name ?? 'Error';
  return { code, message, ...(e.statusCode !== undefined ? { status: e.statusCode } : {}) };
}

/** Maps an Azure SDK error to the gateway's cloud error family; `what` names the call (`Disks_CreateOrUpdate`). */
export function classifyAzureError(err: unknown, what: string): CloudError {
  if (err instanceof CloudError) return err;
  const { code, message, status } = azureErrorCode(err);
  const text = `${what}: ${code}: ${message}`;
  if (THROTTLING.has(code) || status === 429)
    return new CloudError('CloudThrottled', text, code, { cause: err });
  if (UNAVAILABLE.has(code) || (status !== undefined && status >= 500) || NETWORK.has(code)) {
    return new CloudError('CloudUnavailable', text, code, { cause: err });
  }
  return new CloudError('CloudRejected', text, code, { cause: err });
}

/** True when the error says the resource does not exist (deleting it again is then done). */
export function isAzureGone(err: unknown): boolean {
  return AZURE_GONE_CODES.has(azureErrorCode(err).code);
}
