/** The step input schemas: what each step accepts from its state machine, and how a mismatch reads. */
import { describe, expect, it } from 'vitest';
import { parseStepInput, StepInputError } from '../../../shared/domain/workflow/step-inputs';

const jobId = 'job-01jc0000000000000000000000';

describe('parseStepInput', () => {
  it('keeps only the fields a step reads', () => {
    // Act
    const range = parseStepInput('uploadRange', {
      jobId,
      range: { index: 2, offset: 1048576, length: 524288, extra: 'x' },
      target: { cloud: 'aws' },
    });
    // Assess
    expect(range).toEqual({ jobId, range: { index: 2, offset: 1048576, length: 524288 } });
  });

  it('takes each documented shape', () => {
    // Act + Assess
    expect(parseStepInput('job', { jobId })).toEqual({ jobId });
    expect(parseStepInput('awaitUpload', { jobId, taskToken: 't0k' })).toEqual({ jobId, taskToken: 't0k' });
    expect(parseStepInput('checkInstance', { jobId, desired: 'stopped' }).desired).toBe('stopped');
    expect(parseStepInput('azureCheckVm', { jobId, desired: 'deallocated' }).desired).toBe('deallocated');
    expect(parseStepInput('failed', { jobId }).error).toBeUndefined();
    expect(parseStepInput('failed', { jobId, error: { Error: 'ImportFailed', Cause: '{}' } }).error).toEqual({
      Error: 'ImportFailed',
      Cause: '{}',
    });
    expect(
      parseStepInput('finishSnapshot', {
        jobId,
        uploaded: [{ index: 0, blocksPut: 3, blocksSkipped: 1, zeroBlocksPut: 0 }],
      }).uploaded,
    ).toHaveLength(1);
    expect(
      parseStepInput('finishUpload', { jobId, uploaded: [{ index: 0, bytesWritten: 4096, pages: 1 }] })
        .uploaded,
    ).toEqual([{ index: 0, bytesWritten: 4096, pages: 1 }]);
  });

  it('refuses a wrong input with a StepInputError naming the step and every wrong field', () => {
    // Act
    const attempt = () =>
      parseStepInput('uploadRange', { jobId: '', range: { index: -1, offset: 1.5, length: '4' } });
    // Assess
    expect(attempt).toThrow(StepInputError);
    try {
      attempt();
    } catch (err) {
      const e = err as StepInputError;
      expect(e.name).toBe('StepInputError');
      expect(e.step).toBe('uploadRange');
      expect(e.issues.map((i) => i.path).sort()).toEqual([
        'jobId',
        'range.index',
        'range.length',
        'range.offset',
      ]);
      expect(e.message).toMatch(/^step input \(uploadRange\) is not valid: /);
    }
  });

  it('refuses what is not an object, an unknown desired state and a Map result that is not a list', () => {
    // Act + Assess
    expect(() => parseStepInput('job', undefined)).toThrow(/step input \(job\) is not valid: \(input\): /);
    expect(() => parseStepInput('job', 'job-1')).toThrow(StepInputError);
    expect(() => parseStepInput('checkInstance', { jobId, desired: 'deallocated' })).toThrow(/desired/);
    expect(() => parseStepInput('azureCheckVm', { jobId, desired: 'stopped' })).toThrow(/desired/);
    expect(() => parseStepInput('finishUpload', { jobId, uploaded: { index: 0 } })).toThrow(/uploaded/);
    expect(() =>
      parseStepInput('finishSnapshot', { jobId, uploaded: [{ index: 0, blocksPut: 1, blocksSkipped: 0 }] }),
    ).toThrow(/uploaded\.0\.zeroBlocksPut/);
    expect(() => parseStepInput('awaitUpload', { jobId })).toThrow(/taskToken/);
    expect(() =>
      parseStepInput('uploadRange', { jobId, range: { index: 0, offset: 2 ** 53, length: 1 } }),
    ).toThrow(/range\.offset/);
  });
});
