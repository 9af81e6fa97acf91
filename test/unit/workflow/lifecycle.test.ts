/**
 * The steps both workflows share (shared/domain/workflow/lifecycle.ts), on a gateway over in-memory
 * fakes: the upload wait, launching and watching the instance, compensation, and the return's stop,
 * cleanup and failure.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeExportTasksCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { UploadPartCommand } from '@aws-sdk/client-s3';
import { SendTaskSuccessCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { recordResource } from '../../../shared/domain/gateway';
import { executionArn } from '../../../shared/domain/executions';
import { completeUpload, startReturn } from '../../../shared/domain/offloads';
import {
  awaitUpload,
  checkInstance,
  cleanupAfterReturn,
  compensate,
  launchInstance,
  markRunning,
  returnFailed,
  stopInstance,
} from '../../../shared/domain/workflow/lifecycle';
import { awsError } from '../../helpers/fake-deps';
import {
  REGION,
  failureOf,
  importTaskIs,
  instanceIs,
  placeJob,
  runningJob,
  stepTest,
  type StepTest,
} from './fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest();
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

/** EC2 removals that answer as EC2 does: the first removal of an id succeeds, a second finds it gone. */
function removalsSucceed(): void {
  const gone = new Set<string>();
  const once = (id: string | undefined, notFound: string) => {
    if (gone.has(id ?? '')) throw awsError(notFound, `${id} does not exist`);
    gone.add(id ?? '');
    return {};
  };
  t.fake.ec2
    .on(TerminateInstancesCommand, (input) => once(input.InstanceIds?.[0], 'InvalidInstanceID.NotFound'))
    .on(DeregisterImageCommand, (input) => once(input.ImageId, 'InvalidAMIID.NotFound'))
    .on(DeleteSnapshotCommand, (input) => once(input.SnapshotId, 'InvalidSnapshot.NotFound'));
}

const inStep = (name: string) => ({ name, startedAt: new Date(0).toISOString() });

/** A job awaiting its upload, whose one part (4 bytes, `disk`) is in a real multipart upload of the fake bucket. */
async function onePartUploaded() {
  const job = await placeJob(t, 'awaiting-upload', () => undefined, { sizeBytes: 4 });
  const uploadId = await t.gw.staging.createUpload(job.image.key);
  await t.gw.store.update(job.jobId, (j) => {
    j.image.uploadId = uploadId;
    recordResource(j, { type: 'multipart-upload', id: uploadId, location: j.image.bucket }, t.gw.now());
  });
  const part = await t.gw.s3.send(
    new UploadPartCommand({
      Bucket: job.image.bucket,
      Key: job.image.key,
      UploadId: uploadId,
      PartNumber: 1,
      Body: Buffer.from('disk'),
    }),
  );
  return { job, part };
}

describe('AwaitUpload', () => {
  it('only records the task token while the upload is still under way', async () => {
    // Prepare
    const job = await placeJob(t, 'awaiting-upload');
    // Act
    await awaitUpload(t.gw, job.jobId, 'token-1');
    // Assess
    expect((await t.gw.store.get(job.jobId)).execution?.uploadTaskToken).toBe('token-1');
    expect(t.fake.sfn.calls).toEqual([]);
  });

  it('releases the wait itself when the upload completed before the step ran', async () => {
    // Prepare
    const job = await placeJob(t, 'inspecting', (j) => {
      j.uploadCompletedAt = t.gw.now().toISOString();
      j.bytes.uploaded = 1234;
    });
    // Act
    await awaitUpload(t.gw, job.jobId, 'token-2');
    // Assess
    expect(t.fake.sfn.inputsOf(SendTaskSuccessCommand)).toEqual([
      { taskToken: 'token-2', output: JSON.stringify({ sizeBytes: 1234 }) },
    ]);
  });

  it('is released by the upload completing after the step ran, once', async () => {
    // Prepare: a real multipart upload of one part in the fake bucket
    const { job, part } = await onePartUploaded();
    await awaitUpload(t.gw, job.jobId, 'token-3');
    // Act
    await completeUpload(t.gw, job.jobId, { parts: [{ partNumber: 1, etag: part.ETag! }] });
    // Assess
    expect(t.fake.sfn.inputsOf(SendTaskSuccessCommand).map((i) => i.taskToken)).toEqual(['token-3']);
    expect(t.fake.bucket.get(job.image.key)?.toString()).toBe('disk');
  });

  it('a replayed upload-complete sends the task token again when the first send failed', async () => {
    // Prepare: a real one-part upload; the wait is registered; the first SendTaskSuccess fails
    const { job, part } = await onePartUploaded();
    await awaitUpload(t.gw, job.jobId, 'token-5');
    let sends = 0;
    t.fake.sfn.on(SendTaskSuccessCommand, () => {
      if (++sends === 1) throw awsError('ServiceUnavailable', 'try again');
      return {};
    });
    const request = { parts: [{ partNumber: 1, etag: part.ETag! }] };
    // Act
    const first = await completeUpload(t.gw, job.jobId, request).catch((e: Error) => e);
    const replay = await completeUpload(t.gw, job.jobId, request);
    // Assess
    expect((first as Error).name).toBe('ServiceUnavailable');
    expect(replay.state).toBe('inspecting');
    expect(t.fake.sfn.inputsOf(SendTaskSuccessCommand).map((i) => i.taskToken)).toEqual([
      'token-5',
      'token-5',
    ]);
  });

  it('takes Step Functions refusing a token the API already sent as done', async () => {
    // Prepare
    const job = await placeJob(t, 'inspecting', (j) => {
      j.uploadCompletedAt = t.gw.now().toISOString();
    });
    t.fake.sfn.on(SendTaskSuccessCommand, () => {
      throw awsError('InvalidToken', 'Invalid token');
    });
    // Act + Assess
    await expect(awaitUpload(t.gw, job.jobId, 'token-4')).resolves.toBeUndefined();
  });
});

describe('startReturn after a request that died', () => {
  it('starts the attempt whose execution was never recorded again, under its own name', async () => {
    // Prepare: the job says returning (attempt 2) but no execution of attempt 2 was recorded
    const job = await placeJob(t, 'returning', (j) => {
      j.execution = {
        returnAttempts: 2,
        returnArn: 'arn:aws:states:us-east-1:0:execution:return:x-return-1',
      };
    });
    t.fake.sfn.on(StartExecutionCommand, () => ({ executionArn: 'arn', startDate: new Date() }));
    // Act
    const resumed = await startReturn(t.gw, job.jobId);
    // Assess
    expect(t.fake.sfn.inputsOf(StartExecutionCommand).map((i) => i.name)).toEqual([`${job.jobId}-return-2`]);
    expect(resumed.state).toBe('returning');
    expect(resumed.execution).toMatchObject({ returnAttempts: 2 });
    expect(resumed.execution?.returnArn).toMatch(new RegExp(`:${job.jobId}-return-2$`));
  });

  it('refuses, as before, a job whose return execution is recorded', async () => {
    // Prepare
    const job = await placeJob(t, 'returning');
    await t.gw.store.update(job.jobId, (j) => {
      j.execution = {
        returnAttempts: 1,
        returnArn: executionArn(t.gw.config.returnStateMachineArn, `${job.jobId}-return-1`),
      };
    });
    // Act
    const refused = await startReturn(t.gw, job.jobId).catch((e: Error) => e);
    // Assess
    expect((refused as Error).message).toMatch(/returning/);
    expect(t.fake.sfn.inputsOf(StartExecutionCommand)).toEqual([]);
  });
});

describe('LaunchInstance', () => {
  it('launches from the imported AMI once and records the instance', async () => {
    // Prepare
    const job = await placeJob(t, 'importing', (j) => {
      j.cloud.amiId = 'ami-0abc';
    });
    t.fake.ec2.on(RunInstancesCommand, () => ({ Instances: [{ InstanceId: 'i-0abc' }] }));
    // Act
    const first = await launchInstance(t.gw, job.jobId);
    const retry = await launchInstance(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(first).toEqual({ instanceId: 'i-0abc' });
    expect(retry).toEqual(first);
    expect(t.fake.ec2.inputsOf(RunInstancesCommand)).toEqual([
      expect.objectContaining({
        ImageId: 'ami-0abc',
        InstanceType: 't3.medium',
        ClientToken: `${job.jobId}-launch`,
      }),
    ]);
    expect(after).toMatchObject({ state: 'launching', activeStep: { name: 'launch' } });
    expect(after.resources).toEqual([expect.objectContaining({ type: 'instance', id: 'i-0abc' })]);
  });
});

describe('CheckInstance', () => {
  it('is done once the instance is in the desired state', async () => {
    // Prepare
    const job = await runningJob(t);
    // Act
    instanceIs(t, 'pending');
    const pending = await checkInstance(t.gw, job.jobId, 'running');
    instanceIs(t, 'running');
    const running = await checkInstance(t.gw, job.jobId, 'running');
    // Assess
    expect(pending).toEqual({ done: false, state: 'pending' });
    expect(running).toEqual({ done: true, state: 'running' });
  });

  it.each(['terminated', 'shutting-down'] as const)(
    'fails when the instance is %s: it was terminated outside burstgate',
    async (state) => {
      // Prepare
      const job = await runningJob(t, (j) => {
        j.state = 'launching';
        j.activeStep = inStep('launch');
      });
      instanceIs(t, state);
      // Act
      const err = await failureOf(checkInstance(t.gw, job.jobId, 'running'));
      // Assess
      expect(err).toMatchObject({ name: 'CloudRejected', code: state });
      expect((await t.gw.store.get(job.jobId)).error).toEqual({
        type: 'cloud-rejected',
        title: 'The cloud refused a request',
        detail: `instance i-0123 is ${state}: it was terminated outside burstgate`,
        step: 'launch',
      });
    },
  );

  it('asks the cloud nothing for a cancelled job', async () => {
    // Prepare
    const job = await runningJob(t, (j) => {
      j.state = 'cancelling';
    });
    // Act
    const err = await failureOf(checkInstance(t.gw, job.jobId, 'running'));
    // Assess
    expect(err.code).toBe('JobCancelled');
    expect(t.fake.ec2.calls).toEqual([]);
  });
});

describe('MarkRunning', () => {
  it('sets running, ends the launch step and publishes the change', async () => {
    // Prepare
    const job = await runningJob(t, (j) => {
      j.state = 'launching';
      j.activeStep = { name: 'launch', startedAt: t.gw.now().toISOString() };
    });
    t.fake.clock.advance(30_000);
    // Act
    await markRunning(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after.state).toBe('running');
    expect(after.activeStep).toBeUndefined();
    expect(after.steps).toEqual([
      expect.objectContaining({
        name: 'launch',
        outcome: 'succeeded',
        durationMs: 30_000,
        detail: 'i-0123 running',
      }),
    ]);
    expect(t.fake.stateChanges()).toEqual([{ jobId: job.jobId, from: 'launching', to: 'running' }]);
  });

  it('leaves a cancelled job cancelled', async () => {
    // Prepare
    const job = await runningJob(t, (j) => {
      j.state = 'cancelled';
    });
    // Act
    const err = await failureOf(markRunning(t.gw, job.jobId));
    // Assess
    expect(err.code).toBe('JobCancelled');
    expect((await t.gw.store.get(job.jobId)).state).toBe('cancelled');
  });

  it('AWS direct: runs the VM even when the image cache cannot take its image', async () => {
    // Prepare: the block manifest the cache entry needs is missing from the bucket
    const job = await runningJob(t, (j) => {
      j.state = 'launching';
      j.target = { cloud: 'aws', region: REGION, instanceType: 't3.medium', mode: 'direct' };
      j.cloud.baseSnapshotId = 'snap-0123';
      j.cloud.blockManifestKey = `manifests/${j.jobId}.json`;
      j.cloud.imageCache = { outcome: 'full' };
      j.image.diskSha256 = 'ab'.repeat(32);
      j.image.diskCapacityBytes = 64 * 1024 * 1024;
    });
    // Act
    await markRunning(t.gw, job.jobId);
    // Assess
    expect((await t.gw.store.get(job.jobId)).state).toBe('running');
    expect(t.fake.logs).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'could not keep the image in the image cache; the VM runs all the same',
      }),
    );
    expect(await t.gw.imageCache.get('default', REGION, job.vmName)).toBeUndefined();
  });
});

describe('Compensate', () => {
  it('records why, removes what the job created (instance first) and ends failed', async () => {
    // Prepare: the launch failed; the job holds its import's AMI and snapshot, and the instance
    const job = await runningJob(t, (j) => {
      j.state = 'launching';
      j.activeStep = inStep('launch');
    });
    t.fake.bucket.put(job.image.key, Buffer.from('the image'));
    removalsSucceed();
    importTaskIs(t, 'completed'); // its AMI and snapshot are the ones recorded on the job
    const cause = JSON.stringify({ errorType: 'CloudRejected', errorMessage: 'RunInstances: Unsupported' });
    // Act
    await compensate(t.gw, job.jobId, { Error: 'CloudRejected', Cause: cause });
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after.state).toBe('failed');
    expect(after.error).toEqual({
      type: 'cloud-rejected',
      title: 'The cloud refused a request',
      detail: 'CloudRejected: RunInstances: Unsupported',
      step: 'launch',
    });
    expect(after.steps.at(-1)).toMatchObject({ name: 'launch', outcome: 'failed' });
    expect(after.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(t.fake.ec2.commandNames().slice(0, 3)).toEqual([
      'TerminateInstancesCommand',
      'DeregisterImageCommand',
      'DeleteSnapshotCommand',
    ]);
    expect(t.fake.bucket.get(job.image.key)).toBeUndefined();
    expect(t.fake.stateChanges().at(-1)).toEqual({ jobId: job.jobId, from: 'launching', to: 'failed' });
  });

  it('keeps the error a step recorded, which says more than the workflow’s', async () => {
    // Prepare
    const job = await placeJob(t, 'inspecting', (j) => {
      j.error = {
        type: 'image-rejected',
        title: 'The image was rejected',
        detail: 'no disk',
        step: 'inspect',
      };
    });
    // Act
    await compensate(t.gw, job.jobId, { Error: 'ImageRejected', Cause: '{"errorMessage":"no disk"}' });
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after.state).toBe('failed');
    expect(after.error?.type).toBe('image-rejected');
  });

  it('leaves the job to a retry when the cloud throttles a removal', async () => {
    // Prepare
    const job = await runningJob(t, (j) => {
      j.state = 'launching';
    });
    removalsSucceed();
    importTaskIs(t, 'completed');
    t.fake.ec2.on(TerminateInstancesCommand, () => {
      throw awsError('RequestLimitExceeded', 'slow down');
    });
    // Act
    const err = await failureOf(compensate(t.gw, job.jobId, { Error: 'CloudRejected' }));
    // Assess: the others are removed; the instance waits for the retry, the job is not failed yet
    const after = await t.gw.store.get(job.jobId);
    expect(err.name).toBe('CloudUnavailable');
    expect(after.state).toBe('launching');
    expect(after.resources.filter((r) => !r.removedAt).map((r) => r.type)).toEqual(['instance']);
  });

  it('leaves a cancelled job to the cancel path', async () => {
    // Prepare: the cancel has removed everything already
    const job = await runningJob(t, (j) => {
      j.state = 'cancelled';
      for (const r of j.resources) r.removedAt = t.gw.now().toISOString();
    });
    // Act
    await compensate(t.gw, job.jobId, { Error: 'CloudRejected' });
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after.state).toBe('cancelled');
    expect(after.error).toBeUndefined();
    expect(t.fake.ec2.calls).toEqual([]);
  });
});

describe('StopInstance', () => {
  it('stops a running instance and begins the return', async () => {
    // Prepare
    const job = await runningJob(t);
    instanceIs(t, 'running');
    t.fake.ec2.on(StopInstancesCommand, () => ({}));
    // Act
    await stopInstance(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after).toMatchObject({ state: 'returning', activeStep: { name: 'stop' } });
    expect(t.fake.ec2.inputsOf(StopInstancesCommand)).toEqual([{ InstanceIds: ['i-0123'] }]);
  });

  it.each(['stopped', 'stopping'] as const)('does not stop an instance that is %s', async (state) => {
    // Prepare
    const job = await runningJob(t);
    instanceIs(t, state);
    // Act
    await stopInstance(t.gw, job.jobId);
    // Assess
    expect(t.fake.ec2.inputsOf(StopInstancesCommand)).toEqual([]);
    expect((await t.gw.store.get(job.jobId)).state).toBe('returning');
  });
});

describe('CleanupAfterReturn', () => {
  it('removes the VM, its image and the upload, and keeps the returned image', async () => {
    // Prepare: the export finished; its OVA is the download
    const returned = 'returns/vm-01.ova';
    const job = await runningJob(t, (j) => {
      j.state = 'returning';
      const at = t.gw.now();
      recordResource(j, { type: 'export-task', id: 'export-i-0123', location: REGION }, at);
      recordResource(j, { type: 's3-object', id: returned, location: j.image.bucket, retained: true }, at);
      j.cloud.exportTaskId = 'export-i-0123';
    });
    t.fake.bucket.put(job.image.key, Buffer.from('the upload'));
    t.fake.bucket.put(returned, Buffer.from('the download'));
    removalsSucceed();
    importTaskIs(t, 'completed');
    t.fake.ec2.on(DescribeExportTasksCommand, (input) => ({
      ExportTasks: [
        {
          ExportTaskId: input.ExportTaskIds?.[0],
          State: 'completed' as const,
          ExportToS3Task: { S3Bucket: job.image.bucket, S3Key: returned },
        },
      ],
    }));
    // Act
    const out = await cleanupAfterReturn(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out.removed).toBe(6);
    expect(after.state).toBe('returned');
    expect(after.resources.filter((r) => !r.removedAt).map((r) => r.id)).toEqual([returned]);
    expect(t.fake.bucket.keys()).toEqual([returned]);
  });
});

describe('ReturnFailed', () => {
  it('keeps the VM, records why and ends return-failed', async () => {
    // Prepare
    const job = await runningJob(t, (j) => {
      j.state = 'returning';
      j.activeStep = inStep('export');
    });
    // Act
    await returnFailed(t.gw, job.jobId, { Error: 'ExportFailed', Cause: '{"errorMessage":"disk busy"}' });
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after.state).toBe('return-failed');
    expect(after.error).toEqual({
      type: 'export-failed',
      title: 'The cloud could not export the VM',
      detail: 'ExportFailed: disk busy',
      step: 'export',
    });
    expect(after.resources.filter((r) => r.removedAt)).toEqual([]);
    expect(t.fake.ec2.calls).toEqual([]);
  });

  it('leaves a cancelled job to the cancel path', async () => {
    // Prepare
    const job = await runningJob(t, (j) => {
      j.state = 'cancelling';
    });
    // Act
    await returnFailed(t.gw, job.jobId, { Error: 'ExportFailed' });
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(after.state).toBe('cancelling');
    expect(after.error).toBeUndefined();
  });
});
