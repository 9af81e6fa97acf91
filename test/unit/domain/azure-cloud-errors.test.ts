/**
 * The Azure adapter's error mapping: what the workflows retry (CloudThrottled, CloudUnavailable) and
 * what they report with Azure's own code and message, for the three shapes the SDKs throw.
 */
import { describe, expect, it } from 'vitest';
import { azureErrorCode, classifyAzureError, isAzureGone } from '../../../shared/clouds/azure/errors';
import { CloudError } from '../../../shared/clouds/errors';

/** What core-rest-pipeline throws: a RestError with the service's code and the HTTP status. */
const restError = (code: string, statusCode: number, message = `${code} happened`) =>
  Object.assign(new Error(message), { name: 'RestError', code, statusCode });

describe('classifyAzureError', () => {
  it('retries throttling: ARM 429 TooManyRequests and the blob service 503 ServerBusy', () => {
    // Act
    const arm = classifyAzureError(restError('TooManyRequests', 429), 'Disks_CreateOrUpdate');
    const blob = classifyAzureError(restError('ServerBusy', 503), 'PageBlob_UploadPages');
    // Assess
    expect([arm.name, arm.code]).toEqual(['CloudThrottled', 'TooManyRequests']);
    expect([blob.name, blob.code]).toEqual(['CloudThrottled', 'ServerBusy']);
  });

  it('retries 5xx and network errors as CloudUnavailable', () => {
    // Act
    const internal = classifyAzureError(
      restError('InternalServerError', 500),
      'VirtualMachines_CreateOrUpdate',
    );
    const unknown5xx = classifyAzureError(restError('SomethingNew', 502), 'Snapshots_Get');
    const network = classifyAzureError(
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      'X',
    );
    // Assess
    expect([internal.name, unknown5xx.name, network.name]).toEqual([
      'CloudUnavailable',
      'CloudUnavailable',
      'CloudUnavailable',
    ]);
  });

  it("reports a failed long-running operation with Azure's code and message, not retried", () => {
    // Prepare: core-lro's plain Error (no code property) for an operation that ended Failed
    const lro = new Error(
      'The long-running operation has failed. InvalidVhd. The VHD https://x/abcd has an unsupported virtual size of 1000 bytes.  The size must be a whole number (in MBs).',
    );
    // Act
    const err = classifyAzureError(lro, 'Disks_RevokeAccess');
    // Assess
    expect(err).toBeInstanceOf(CloudError);
    expect(err.name).toBe('CloudRejected');
    expect(err.code).toBe('InvalidVhd');
    expect(err.message).toBe(
      'Disks_RevokeAccess: InvalidVhd: The VHD https://x/abcd has an unsupported virtual size of 1000 bytes.  The size must be a whole number (in MBs).',
    );
  });

  it('rejects 4xx with the code, and keeps an error that is already classified', () => {
    // Prepare
    const done = new CloudError('CloudTimedOut', 'too long');
    // Act
    const conflict = classifyAzureError(
      restError('OperationNotAllowed', 409, 'Disk x is attached'),
      'Disks_Delete',
    );
    // Assess
    expect([conflict.name, conflict.code]).toEqual(['CloudRejected', 'OperationNotAllowed']);
    expect(conflict.message).toBe('Disks_Delete: OperationNotAllowed: Disk x is attached');
    expect(classifyAzureError(done, 'x')).toBe(done);
  });
});

describe('isAzureGone / azureErrorCode', () => {
  it('treats a missing resource (or resource group) as gone, and nothing else', () => {
    expect(isAzureGone(restError('ResourceNotFound', 404))).toBe(true);
    expect(isAzureGone(restError('NotFound', 404))).toBe(true);
    expect(isAzureGone(restError('ResourceGroupNotFound', 404))).toBe(true);
    expect(isAzureGone(restError('SubscriptionNotFound', 404))).toBe(false);
    expect(isAzureGone(restError('OperationNotAllowed', 409))).toBe(false);
  });

  it('reads the code from RestError details when the top-level code is generic', () => {
    // Prepare: a blob-service error whose code is only in the parsed details
    const e = Object.assign(new Error('x'), {
      statusCode: 403,
      details: { errorCode: 'AuthenticationFailed' },
    });
    // Act / Assess
    expect(azureErrorCode(e)).toEqual({ code: 'AuthenticationFailed', message: 'x', status: 403 });
  });
});
