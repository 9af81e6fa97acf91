import { describe, expect, it } from 'vitest';
import { classifyCloudError, CloudError } from '../../../shared/clouds/errors';
import { errorFromWorkflow } from '../../../shared/domain/workflow/step-kit';

const sdkError = (name: string, status: number) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

describe('classifyCloudError', () => {
  it('maps throttling to CloudThrottled, 5xx and network errors to CloudUnavailable, the rest to CloudRejected', () => {
    expect(classifyCloudError(sdkError('RequestLimitExceeded', 503), 'RunInstances').name).toBe(
      'CloudThrottled',
    );
    expect(classifyCloudError(sdkError('InternalError', 500), 'RunInstances').name).toBe('CloudUnavailable');
    expect(classifyCloudError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'X').name).toBe(
      'CloudUnavailable',
    );
    const rejected = classifyCloudError(sdkError('InvalidAMIID.NotFound', 400), 'RunInstances');
    expect(rejected.name).toBe('CloudRejected');
    expect(rejected.code).toBe('InvalidAMIID.NotFound');
    expect(rejected.message).toContain('RunInstances: InvalidAMIID.NotFound');
  });

  it('retries EBS direct API throttling (RequestThrottledException answers HTTP 400)', () => {
    // Act
    const e = classifyCloudError(sdkError('RequestThrottledException', 400), 'GetSnapshotBlock');
    // Assess
    expect(e.name).toBe('CloudThrottled');
    expect(e.code).toBe('RequestThrottledException');
  });

  it('keeps an error that is already classified', () => {
    const e = new CloudError('ImportFailed', 'ClientError: Unsupported file format');
    expect(classifyCloudError(e, 'x')).toBe(e);
  });
});

describe('errorFromWorkflow', () => {
  it('takes the message out of a Lambda error Cause', () => {
    // Prepare
    const cause = JSON.stringify({
      errorType: 'ImportFailed',
      errorMessage: 'ClientError: No valid partitions.',
    });
    // Act
    const problem = errorFromWorkflow({ Error: 'ImportFailed', Cause: cause }, 'import');
    // Assess
    expect(problem).toEqual({
      type: 'import-failed',
      title: 'The cloud rejected the image import',
      detail: 'ImportFailed: ClientError: No valid partitions.',
      step: 'import',
    });
  });

  it('keeps a plain-text cause', () => {
    expect(errorFromWorkflow({ Error: 'States.Timeout', Cause: 'took too long' }).detail).toBe(
      'States.Timeout: took too long',
    );
  });
});
