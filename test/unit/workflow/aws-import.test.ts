/**
 * AWS VM Import/Export (shared/domain/workflow/aws-import.ts) on a gateway over in-memory fakes:
 * what the import leaves recorded on the job, and the export's image from S3 to the download.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CreateInstanceExportTaskCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeExportTasksCommand,
  DescribeImportImageTasksCommand,
  type ExportTask,
} from '@aws-sdk/client-ec2';
import { cancelAndRemove } from '../../helpers/cancel';
import {
  checkExport,
  checkImport,
  publishImage,
  startExport,
} from '../../../shared/domain/workflow/aws-import';
import { awsError } from '../../helpers/fake-deps';
import {
  MiB,
  REGION,
  failureOf,
  importTaskIs,
  mbrDisk,
  ovaOf,
  placeJob,
  runningJob,
  sha256,
  stepTest,
  type StepTest,
} from './fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest();
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

const importing = () =>
  placeJob(t, 'importing', (j) => {
    j.cloud.importTaskId = 'import-ami-0abc';
    j.resources.push({
      type: 'import-task',
      id: 'import-ami-0abc',
      location: REGION,
      createdAt: j.createdAt,
    });
    j.activeStep = { name: 'import', startedAt: j.createdAt };
  });

describe('CheckImport', () => {
  it('reports progress while the import runs, recording nothing', async () => {
    // Prepare
    const job = await importing();
    importTaskIs(t, 'active', { progress: '17' });
    // Act
    const out = await checkImport(t.gw, job.jobId);
    // Assess
    expect(out).toEqual({ done: false, status: 'active', progress: 17 });
    expect((await t.gw.store.get(job.jobId)).version).toBe(job.version);
  });

  it('records the AMI and snapshots of a completed import, and ends the import step', async () => {
    // Prepare
    const job = await importing();
    importTaskIs(t, 'completed');
    // Act
    const out = await checkImport(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ done: true, status: 'completed', progress: 100 });
    expect(after.cloud).toMatchObject({ amiId: 'ami-0abc', snapshotIds: ['snap-0abc'] });
    expect(after.resources.map((r) => [r.type, r.id, r.location])).toEqual([
      ['import-task', 'import-ami-0abc', REGION],
      ['ami', 'ami-0abc', REGION],
      ['snapshot', 'snap-0abc', REGION],
    ]);
    expect(after.bytes.imported).toBe(4 * MiB);
    expect(after.steps.at(-1)).toMatchObject({
      name: 'import',
      outcome: 'succeeded',
      detail: 'ami-0abc with snap-0abc',
    });
  });

  it('records nothing when a cancel removed the completed import meanwhile', async () => {
    // Prepare: DELETE lands while CheckImport asks EC2; the cancel removes the task's AMI and snapshot
    const job = await importing();
    let cancelled = false;
    t.fake.ec2.on(DescribeImportImageTasksCommand, async (input) => {
      if (!cancelled) {
        cancelled = true;
        await cancelAndRemove(t.gw, job.jobId);
      }
      return {
        ImportImageTasks: [
          {
            ImportTaskId: input.ImportTaskIds?.[0],
            Status: 'completed',
            ImageId: 'ami-0abc',
            SnapshotDetails: [{ SnapshotId: 'snap-0abc' }],
          },
        ],
      };
    });
    t.fake.ec2.on(DeregisterImageCommand, () => ({})).on(DeleteSnapshotCommand, () => ({}));
    // Act
    const err = await failureOf(checkImport(t.gw, job.jobId));
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(err.code).toBe('JobCancelled');
    expect(after.state).toBe('cancelled');
    expect(after.cloud.amiId).toBeUndefined();
    expect(after.resources.map((r) => r.type)).toEqual(['import-task']);
    expect(t.fake.ec2.inputsOf(DeregisterImageCommand)).toEqual([{ ImageId: 'ami-0abc' }]);
    expect(t.fake.ec2.inputsOf(DeleteSnapshotCommand)).toEqual([{ SnapshotId: 'snap-0abc' }]);
  });
});

/** Scripts what EC2 says the export task is. */
function exportIs(task: Partial<ExportTask>): void {
  t.fake.ec2.on(DescribeExportTasksCommand, (input) => ({
    ExportTasks: [{ ExportTaskId: input.ExportTaskIds?.[0] ?? 'export-i-0123', ...task }],
  }));
}

const stopped = () =>
  runningJob(t, (j) => {
    j.state = 'returning';
    j.activeStep = { name: 'stop', startedAt: j.createdAt };
  });

describe('StartExport', () => {
  it('ends the stop step and exports the instance as an OVA into returns/<job>/', async () => {
    // Prepare
    const job = await stopped();
    t.fake.ec2.on(CreateInstanceExportTaskCommand, () => ({ ExportTask: { ExportTaskId: 'export-i-0123' } }));
    // Act
    const out = await startExport(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ exportTaskId: 'export-i-0123' });
    expect(t.fake.ec2.inputsOf(CreateInstanceExportTaskCommand)[0]).toMatchObject({
      InstanceId: 'i-0123',
      ExportToS3Task: {
        ContainerFormat: 'ova',
        S3Bucket: t.gw.staging.bucket,
        S3Prefix: `returns/${job.jobId}/`,
      },
    });
    expect(after.steps.at(-1)).toMatchObject({ name: 'stop', outcome: 'succeeded' });
    expect(after.activeStep?.name).toBe('export');
    expect(after.resources.at(-1)).toMatchObject({ type: 'export-task', id: 'export-i-0123' });
  });

  it('a retry finds the export its first try started (EC2 allows one per instance)', async () => {
    // Prepare: the first try's CreateInstanceExportTask went through but its answer was lost
    const job = await stopped();
    t.fake.ec2.on(CreateInstanceExportTaskCommand, () => {
      throw awsError('IncorrectState', 'the instance is already being exported');
    });
    t.fake.ec2.on(DescribeExportTasksCommand, () => ({
      ExportTasks: [
        {
          ExportTaskId: 'export-i-0999',
          State: 'active' as const,
          InstanceExportDetails: { InstanceId: 'i-0123' },
          Tags: [{ Key: 'burstgate:job', Value: job.jobId }],
        },
      ],
    }));
    // Act
    const out = await startExport(t.gw, job.jobId);
    // Assess
    expect(out.exportTaskId).toBe('export-i-0999');
    expect((await t.gw.store.get(job.jobId)).error).toBeUndefined();
  });
});

describe('CheckExport', () => {
  const exporting = () =>
    runningJob(t, (j) => {
      j.state = 'returning';
      j.cloud.exportTaskId = 'export-i-0123';
      j.activeStep = { name: 'export', startedAt: j.createdAt };
    });
  const key = (jobId: string) => `returns/${jobId}/export-i-0123.ova`;

  it('records the exported image as the download, kept by the cleanup', async () => {
    // Prepare
    const job = await exporting();
    exportIs({
      State: 'completed',
      ExportToS3Task: { S3Bucket: t.gw.staging.bucket, S3Key: key(job.jobId) },
    });
    // Act
    const out = await checkExport(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ done: true, status: 'completed' });
    expect(after.returned).toMatchObject({ key: key(job.jobId), format: 'ova' });
    expect(after.resources.at(-1)).toMatchObject({ type: 's3-object', id: key(job.jobId), retained: true });
  });

  it('fails with ExportFailed when the export completed without an S3 key', async () => {
    // Prepare
    const job = await exporting();
    exportIs({ State: 'completed', ExportToS3Task: { S3Bucket: t.gw.staging.bucket } });
    // Act
    const err = await failureOf(checkExport(t.gw, job.jobId));
    // Assess
    expect(err.name).toBe('ExportFailed');
    expect((await t.gw.store.get(job.jobId)).error).toMatchObject({
      type: 'export-failed',
      detail: 'the export completed without an S3 key',
      step: 'export',
    });
  });

  it('deletes the exported image itself when a cancel ran before it was recorded', async () => {
    // Prepare: the image is in the bucket; the job is cancelled after CheckExport asked EC2
    const job = await exporting();
    t.fake.bucket.put(key(job.jobId), Buffer.from('ova'));
    t.fake.ec2.on(DescribeExportTasksCommand, async () => {
      await t.gw.store.update(job.jobId, (j) => {
        j.state = 'cancelled';
      });
      return {
        ExportTasks: [
          {
            ExportTaskId: 'export-i-0123',
            State: 'completed' as const,
            ExportToS3Task: { S3Bucket: t.gw.staging.bucket, S3Key: key(job.jobId) },
          },
        ],
      };
    });
    // Act
    const err = await failureOf(checkExport(t.gw, job.jobId));
    // Assess
    expect(err.code).toBe('JobCancelled');
    expect(t.fake.bucket.get(key(job.jobId))).toBeUndefined();
    expect((await t.gw.store.get(job.jobId)).returned).toBeUndefined();
  });
});

describe('PublishImage', () => {
  async function exported(original: Buffer, returnedDisk: Buffer) {
    const ova = await ovaOf(returnedDisk);
    const job = await runningJob(t, (j) => {
      j.state = 'returning';
      j.image.diskSha256 = sha256(original);
      j.returned = {
        bucket: j.image.bucket,
        key: `returns/${j.jobId}/export.ova`,
        format: 'ova',
        sizeBytes: 0,
        sha256: '',
        diskSha256: '',
        matchesOriginal: false,
      };
    });
    t.fake.bucket.put(job.returned!.key, ova);
    return { job, ova };
  }

  it('measures the exported OVA and says its disk is the one offloaded', async () => {
    // Prepare
    const disk = mbrDisk(4 * MiB);
    const { job, ova } = await exported(disk, disk);
    // Act
    const out = await publishImage(t.gw, job.jobId);
    // Assess
    const after = await t.gw.store.get(job.jobId);
    expect(out).toEqual({ sha256: sha256(ova), diskSha256: sha256(disk), matchesOriginal: true });
    expect(after.returned).toMatchObject({
      sizeBytes: ova.length,
      sha256: sha256(ova),
      matchesOriginal: true,
    });
    expect(after.bytes.exported).toBe(ova.length);
    expect(after.steps.at(-1)).toMatchObject({
      name: 'publish',
      detail: 'disk content identical to the offloaded disk',
    });
  });

  it('says so when the disk changed in the cloud', async () => {
    // Prepare
    const { job } = await exported(mbrDisk(4 * MiB, 1), mbrDisk(4 * MiB, 2));
    // Act
    const out = await publishImage(t.gw, job.jobId);
    // Assess
    expect(out.matchesOriginal).toBe(false);
    expect((await t.gw.store.get(job.jobId)).steps.at(-1)?.detail).toBe(
      'disk content changed while in the cloud',
    );
  });
});
