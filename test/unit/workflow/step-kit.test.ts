/**
 * The step kit's rules, through the steps built from it (StartImport, CheckImport) on a gateway
 * over in-memory fakes: a step of a cancelled job creates nothing, a retried step finds what it
 * created, the cloud's refusals reach the job and its throttling does not, a wait has a limit.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CancelImportTaskCommand,
  DescribeImportImageTasksCommand,
  ImportImageCommand,
} from '@aws-sdk/client-ec2';
import { CloudError } from '../../../shared/clouds/errors';
import { StepFailure } from '../../../shared/domain/errors';
import { cancelAndRemove } from '../../helpers/cancel';
import { checkImport, startImport } from '../../../shared/domain/workflow/aws-import';
import {
  assertNotCancelled,
  errorFromWorkflow,
  failStep,
  rejected,
} from '../../../shared/domain/workflow/step-kit';
import { awsError } from '../../helpers/fake-deps';
import { REGION, failureOf, importTaskIs, placeJob, stepTest, type StepTest } from './fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest();
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

/** A job that inspect passed, ready for StartImport. */
const inspected = () =>
  placeJob(t, 'inspecting', (j) => {
    j.target = { cloud: 'aws', region: REGION, instanceType: 't3.medium', mode: 'import' };
    j.activeStep = undefined;
  });

describe('assertNotCancelled', () => {
  it('stops a step of a cancelling or cancelled job, with JobCancelled', async () => {
    // Prepare
    const cancelling = await placeJob(t, 'cancelling');
    const cancelled = await placeJob(t, 'cancelled');
    const running = await placeJob(t, 'running');
    // Act + Assess
    for (const job of [cancelling, cancelled]) {
      expect(() => assertNotCancelled(job)).toThrow(
        expect.objectContaining({ name: 'CloudRejected', code: 'JobCancelled' }),
      );
    }
    expect(() => assertNotCancelled(running)).not.toThrow();
  });
});

describe('createOnce (StartImport)', () => {
  it('creates the import task once and records it on the job before returning', async () => {
    // Prepare
    const job = await inspected();
    t.fake.ec2.on(ImportImageCommand, () => ({ ImportTaskId: 'import-ami-0001' }));
    // Act
    const out = await startImport(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ importTaskId: 'import-ami-0001' });
    expect(after.state).toBe('importing');
    expect(after.activeStep?.name).toBe('import');
    expect(after.cloud.importTaskId).toBe('import-ami-0001');
    expect(after.resources).toEqual([
      expect.objectContaining({ type: 'import-task', id: 'import-ami-0001', location: REGION }),
    ]);
    // the job id is the ClientToken: EC2 itself answers a repeated ImportImage with the same task
    expect(t.fake.ec2.inputsOf(ImportImageCommand)[0]?.ClientToken).toBe(job.jobId);
    expect(t.fake.stateChanges()).toEqual([{ jobId: job.jobId, from: 'inspecting', to: 'importing' }]);
  });

  it('returns the recorded id on a retry without calling the cloud', async () => {
    // Prepare: the first try recorded the task, then its Lambda timed out
    const job = await placeJob(t, 'importing', (j) => {
      j.cloud.importTaskId = 'import-ami-0001';
    });
    // Act
    const out = await startImport(t.gw, job.jobId);
    // Assess
    expect(out.importTaskId).toBe('import-ami-0001');
    expect(t.fake.ec2.calls).toEqual([]);
    expect((await t.gw.store.get(job.jobId)).version).toBe(job.version);
  });

  it('creates nothing for a cancelled job', async () => {
    // Prepare
    const job = await placeJob(t, 'cancelled');
    // Act
    const err = await failureOf(startImport(t.gw, job.jobId));
    // Assess
    expect(err).toMatchObject({ name: 'CloudRejected', code: 'JobCancelled' });
    expect(t.fake.ec2.calls).toEqual([]);
    expect((await t.gw.store.get(job.jobId)).resources).toEqual([]);
  });

  it('removes what the cloud created while a cancel ran, and the job stays cancelled', async () => {
    // Prepare: DELETE lands while ImportImage is in flight
    const job = await inspected();
    t.fake.ec2.on(ImportImageCommand, async () => {
      await cancelAndRemove(t.gw, job.jobId);
      return { ImportTaskId: 'import-ami-0002' };
    });
    importTaskIs(t, 'active');
    t.fake.ec2.on(CancelImportTaskCommand, () => ({}));
    // Act
    const err = await failureOf(startImport(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err).toMatchObject({ code: 'JobCancelled' });
    expect(after.state).toBe('cancelled');
    expect(after.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(t.fake.ec2.inputsOf(CancelImportTaskCommand)).toEqual([
      expect.objectContaining({ ImportTaskId: 'import-ami-0002' }),
    ]);
  });
});

describe('askCloud', () => {
  it('records a refusal the workflow will not retry on the job, with the step', async () => {
    // Prepare
    const job = await inspected();
    t.fake.ec2.on(ImportImageCommand, () => {
      throw awsError('InvalidParameter', 'The image format is not supported');
    });
    // Act
    const err = await failureOf(startImport(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err.name).toBe('CloudRejected');
    expect(after.error).toEqual({
      type: 'cloud-rejected',
      title: 'The cloud refused a request',
      detail: 'ImportImage: InvalidParameter: The image format is not supported',
      step: 'import',
    });
    expect(after.steps.at(-1)).toMatchObject({ name: 'import', outcome: 'failed' });
    expect(after.activeStep).toBeUndefined();
  });

  it.each([
    ['RequestLimitExceeded', 400, 'CloudThrottled'],
    ['InternalError', 500, 'CloudUnavailable'],
    ['ServiceUnavailable', 503, 'CloudUnavailable'],
  ])('lets %s through unrecorded as %s, for the workflow to retry', async (code, status, name) => {
    // Prepare
    const job = await inspected();
    t.fake.ec2.on(ImportImageCommand, () => {
      throw awsError(code, 'try again', status);
    });
    // Act
    const err = await failureOf(startImport(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err.name).toBe(name);
    expect(after.error).toBeUndefined();
    expect(after.activeStep?.name).toBe('import'); // still under way: the retry continues it
    expect(after.resources).toEqual([]);
  });

  it('reports the cloud’s reason for a failed import as import-failed', async () => {
    // Prepare
    const job = await placeJob(t, 'importing', (j) => {
      j.cloud.importTaskId = 'import-ami-0003';
      j.activeStep = { name: 'import', startedAt: t.gw.now().toISOString() };
    });
    t.fake.ec2.on(DescribeImportImageTasksCommand, () => ({
      ImportImageTasks: [
        {
          ImportTaskId: 'import-ami-0003',
          Status: 'deleted',
          StatusMessage: 'ClientError: No valid partitions',
        },
      ],
    }));
    // Act
    const err = await failureOf(checkImport(t.gw, job.jobId));
    // Assess
    expect(err.name).toBe('ImportFailed');
    expect((await t.gw.store.get(job.jobId)).error).toEqual({
      type: 'import-failed',
      title: 'The cloud rejected the image import',
      detail: 'ClientError: No valid partitions',
      step: 'import',
    });
  });
});

describe('failIfWaitedTooLong (CheckImport)', () => {
  it('keeps waiting within maxImportWaitMs and fails with CloudTimedOut after it', async () => {
    // Prepare
    t = stepTest({ config: { maxImportWaitMs: 60_000 } });
    const job = await placeJob(t, 'importing', (j) => {
      j.cloud.importTaskId = 'import-ami-0004';
      j.activeStep = { name: 'import', startedAt: t.gw.now().toISOString() };
    });
    importTaskIs(t, 'active', { progress: '42' });
    // Act
    t.fake.clock.advance(60_000);
    const within = await checkImport(t.gw, job.jobId);
    t.fake.clock.advance(1);
    const err = await failureOf(checkImport(t.gw, job.jobId));
    // Assess
    expect(within).toEqual({ done: false, status: 'active', progress: 42 });
    expect(err.name).toBe('CloudTimedOut');
    const after = await t.gw.store.get(job.jobId);
    expect(after.error).toMatchObject({
      type: 'cloud-timed-out',
      title: 'The cloud took too long',
      detail: 'the import did not finish within 60000 ms (last status: active)',
      step: 'import',
    });
  });
});

describe('failStep', () => {
  it('puts a StepFailure’s problem on the job as it is and ends the step failed', async () => {
    // Prepare
    const job = await placeJob(t, 'inspecting', (j) => {
      j.activeStep = { name: 'inspect', startedAt: t.gw.now().toISOString() };
    });
    t.fake.clock.advance(1500);
    // Act
    const err = await failStep(t.gw, job.jobId, rejected('the OVA holds no disk'));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err).toBeInstanceOf(StepFailure);
    expect(after.error).toEqual({
      type: 'image-rejected',
      title: 'The image was rejected',
      detail: 'the OVA holds no disk',
      step: 'inspect',
    });
    expect(after.steps).toEqual([
      expect.objectContaining({ name: 'inspect', outcome: 'failed', durationMs: 1500 }),
    ]);
  });

  it('names the active step for a CloudError', async () => {
    // Prepare
    const job = await placeJob(t, 'launching', (j) => {
      j.activeStep = { name: 'launch', startedAt: t.gw.now().toISOString() };
    });
    // Act
    await failStep(t.gw, job.jobId, new CloudError('ExportFailed', 'the export completed without an S3 key'));
    // Assess
    expect((await t.gw.store.get(job.jobId)).error).toEqual({
      type: 'export-failed',
      title: 'The cloud could not export the VM',
      detail: 'the export completed without an S3 key',
      step: 'launch',
    });
  });
});

describe('errorFromWorkflow', () => {
  it('takes the message out of the JSON Lambda puts in Cause', () => {
    // Prepare
    const cause = JSON.stringify({
      errorType: 'ImportFailed',
      errorMessage: 'ClientError: Unknown OS',
      trace: [],
    });
    // Act
    const problem = errorFromWorkflow({ Error: 'ImportFailed', Cause: cause }, 'import');
    // Assess
    expect(problem).toEqual({
      type: 'import-failed',
      title: 'The cloud rejected the image import',
      detail: 'ImportFailed: ClientError: Unknown OS',
      step: 'import',
    });
  });

  it('keeps a plain-text Cause, and names an error without one', () => {
    // Act
    const plain = errorFromWorkflow({ Error: 'States.Timeout', Cause: 'the task timed out' });
    const bare = errorFromWorkflow(undefined);
    const jsonWithoutMessage = errorFromWorkflow({ Error: 'CloudTimedOut', Cause: '{"errorType":"x"}' });
    // Assess
    expect(plain).toEqual({
      type: 'cloud-rejected',
      title: 'The cloud refused a request',
      detail: 'States.Timeout: the task timed out',
    });
    expect(bare.detail).toBe('UnknownError: UnknownError');
    expect(jsonWithoutMessage).toMatchObject({
      type: 'cloud-timed-out',
      detail: 'CloudTimedOut: {"errorType":"x"}',
    });
  });
});
