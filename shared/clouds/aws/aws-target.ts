/**
 * The AWS adapter behind the CloudTarget port: VM Import/Export and EC2 through the real
 * @aws-sdk/client-ec2 (pointed at the simulator in the embedded deployment).
 */
import {
  CancelExportTaskCommand,
  CancelImportTaskCommand,
  CreateInstanceExportTaskCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeExportTasksCommand,
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  ImportImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type ExportTask,
  type Tag,
} from '@aws-sdk/client-ec2';
import type { AwsTarget as AwsJobTarget, Job, JobResource } from '../../domain/job';
import type { CloudTarget, CreatedResource, ExportProgress, ImportProgress } from '../cloud-target';
import { CloudError, classifyCloudError } from '../errors';

export interface AwsTargetOptions {
  ec2For(region: string): EC2Client;
  vmImportRoleName: string;
}

const GONE_CODES = new Set([
  'InvalidInstanceID.NotFound',
  'InvalidAMIID.NotFound',
  'InvalidAMIID.Unavailable',
  'InvalidSnapshot.NotFound',
  'InvalidConversionTaskId',
  'InvalidConversionTaskId.Malformed',
  'InvalidExportTaskID.NotFound',
]);

/** The job's AWS target (jobs of other clouds never reach this adapter). */
function awsTargetOf(job: Job): AwsJobTarget {
  if (job.target.cloud !== 'aws')
    throw new CloudError('CloudRejected', `job ${job.jobId} does not target AWS`);
  return job.target;
}

const tagsFor = (job: Job): Tag[] => [
  { Key: 'burstgate:managed', Value: 'true' },
  { Key: 'burstgate:job', Value: job.jobId },
  { Key: 'Name', Value: job.vmName },
];

export class AwsTarget implements CloudTarget {
  constructor(private readonly opts: AwsTargetOptions) {}

  private ec2(job: Job): EC2Client {
    return this.opts.ec2For(awsTargetOf(job).region);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyCloudError(err, what);
    }
  }

  async startImport(job: Job): Promise<CreatedResource> {
    const format = job.image.format;
    const out = await this.call('ImportImage', () =>
      this.ec2(job).send(
        new ImportImageCommand({
          Description: `burstgate ${job.jobId} ${job.vmName}`,
          DiskContainers: [
            {
              Description: job.vmName,
              Format: format,
              UserBucket: { S3Bucket: job.image.bucket, S3Key: job.image.key },
            },
          ],
          RoleName: this.opts.vmImportRoleName,
          // Same job → same token: a retried step gets the same import task, not a second one.
          ClientToken: job.jobId,
          ...(job.hardware ? { BootMode: job.hardware.firmware === 'efi' ? 'uefi' : 'legacy-bios' } : {}),
          TagSpecifications: [{ ResourceType: 'import-image-task', Tags: tagsFor(job) }],
        }),
      ),
    );
    if (!out.ImportTaskId) throw new CloudError('CloudRejected', 'ImportImage returned no ImportTaskId');
    return { type: 'import-task', id: out.ImportTaskId, location: awsTargetOf(job).region };
  }

  async checkImport(job: Job): Promise<ImportProgress> {
    const id = job.cloud.importTaskId;
    if (!id) throw new CloudError('CloudRejected', `job ${job.jobId} has no import task to check`);
    const out = await this.call('DescribeImportImageTasks', () =>
      this.ec2(job).send(new DescribeImportImageTasksCommand({ ImportTaskIds: [id] })),
    );
    const task = out.ImportImageTasks?.[0];
    if (!task) throw new CloudError('CloudUnavailable', `import task ${id} is not visible yet`);
    const status = task.Status ?? 'unknown';
    if (status === 'deleted' || status === 'deleting') {
      throw new CloudError('ImportFailed', task.StatusMessage ?? `import task ${id} was ${status}`, status);
    }
    const progress = task.Progress !== undefined ? Number(task.Progress) : undefined;
    if (status !== 'completed') {
      return {
        done: false,
        status: task.StatusMessage ? `${status}: ${task.StatusMessage}` : status,
        progress,
      };
    }
    if (!task.ImageId)
      throw new CloudError('ImportFailed', `import task ${id} completed without an image id`);
    const snapshotIds = (task.SnapshotDetails ?? []).flatMap((s) => (s.SnapshotId ? [s.SnapshotId] : []));
    const bytes = (task.SnapshotDetails ?? []).reduce((sum, s) => sum + Number(s.DiskImageSize ?? 0), 0);
    return { done: true, status, progress: 100, amiId: task.ImageId, snapshotIds, bytes };
  }

  async launch(job: Job): Promise<CreatedResource> {
    const amiId = job.cloud.amiId;
    if (!amiId) throw new CloudError('CloudRejected', `job ${job.jobId} has no image to launch`);
    const out = await this.call('RunInstances', () =>
      this.ec2(job).send(
        new RunInstancesCommand({
          ImageId: amiId,
          InstanceType: awsTargetOf(job).instanceType as never,
          MinCount: 1,
          MaxCount: 1,
          ClientToken: `${job.jobId}-launch`,
          TagSpecifications: [
            { ResourceType: 'instance', Tags: tagsFor(job) },
            { ResourceType: 'volume', Tags: tagsFor(job) },
          ],
        }),
      ),
    );
    const instanceId = out.Instances?.[0]?.InstanceId;
    if (!instanceId) throw new CloudError('CloudRejected', 'RunInstances returned no instance');
    return { type: 'instance', id: instanceId, location: awsTargetOf(job).region };
  }

  async instanceState(job: Job): Promise<string> {
    const id = job.cloud.instanceId;
    if (!id) throw new CloudError('CloudRejected', `job ${job.jobId} has no instance`);
    const out = await this.call('DescribeInstances', () =>
      this.ec2(job).send(new DescribeInstancesCommand({ InstanceIds: [id] })),
    );
    const state = out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
    if (!state) throw new CloudError('CloudUnavailable', `instance ${id} is not visible yet`);
    return state;
  }

  async stop(job: Job): Promise<void> {
    const id = job.cloud.instanceId;
    if (!id) throw new CloudError('CloudRejected', `job ${job.jobId} has no instance to stop`);
    await this.call('StopInstances', () =>
      this.ec2(job).send(new StopInstancesCommand({ InstanceIds: [id] })),
    );
  }

  async startExport(job: Job, bucket: string, prefix: string): Promise<CreatedResource> {
    const id = job.cloud.instanceId;
    if (!id) throw new CloudError('CloudRejected', `job ${job.jobId} has no instance to export`);
    const out = await this.call('CreateInstanceExportTask', () =>
      this.ec2(job).send(
        new CreateInstanceExportTaskCommand({
          InstanceId: id,
          Description: `burstgate return of ${job.jobId}`,
          TargetEnvironment: 'vmware',
          ExportToS3Task: {
            DiskImageFormat: 'VMDK',
            ContainerFormat: 'ova',
            S3Bucket: bucket,
            S3Prefix: prefix,
          },
          TagSpecifications: [{ ResourceType: 'export-instance-task', Tags: tagsFor(job) }],
        }),
      ),
    ).catch(async (err: unknown) => {
      // No ClientToken here: a retried step finds the export its first try started (one per instance).
      if ((err as CloudError).code !== 'IncorrectState') throw err;
      const ours = await this.activeExportOf(job, id);
      if (!ours) throw err;
      return { ExportTask: ours };
    });
    const taskId = out.ExportTask?.ExportTaskId;
    if (!taskId) throw new CloudError('CloudRejected', 'CreateInstanceExportTask returned no task id');
    return { type: 'export-task', id: taskId, location: awsTargetOf(job).region };
  }

  /** The job's export of this instance that is under way, if any. */
  private async activeExportOf(job: Job, instanceId: string): Promise<ExportTask | undefined> {
    const out = await this.call('DescribeExportTasks', () =>
      this.ec2(job).send(new DescribeExportTasksCommand({})),
    );
    return out.ExportTasks?.find(
      (t) =>
        t.State === 'active' &&
        t.InstanceExportDetails?.InstanceId === instanceId &&
        (t.Tags ?? []).some((tag) => tag.Key === 'burstgate:job' && tag.Value === job.jobId),
    );
  }

  async checkExport(job: Job): Promise<ExportProgress> {
    const id = job.cloud.exportTaskId;
    if (!id) throw new CloudError('CloudRejected', `job ${job.jobId} has no export task`);
    const out = await this.call('DescribeExportTasks', () =>
      this.ec2(job).send(new DescribeExportTasksCommand({ ExportTaskIds: [id] })),
    );
    const task = out.ExportTasks?.[0];
    if (!task) throw new CloudError('CloudUnavailable', `export task ${id} is not visible yet`);
    const state = task.State ?? 'unknown';
    if (state === 'cancelled' || state === 'cancelling') {
      throw new CloudError('ExportFailed', task.StatusMessage ?? `export task ${id} was ${state}`, state);
    }
    if (state !== 'completed') return { done: false, status: state };
    return {
      done: true,
      status: state,
      bucket: task.ExportToS3Task?.S3Bucket,
      key: task.ExportToS3Task?.S3Key,
    };
  }

  async remove(resource: JobResource): Promise<void> {
    const ec2 = this.opts.ec2For(resource.location);
    const ignoreGone = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        const e = classifyCloudError(err, what);
        if (e.code && GONE_CODES.has(e.code)) return;
        throw e;
      }
    };
    switch (resource.type) {
      case 'instance':
        return ignoreGone('TerminateInstances', () =>
          ec2.send(new TerminateInstancesCommand({ InstanceIds: [resource.id] })),
        );
      case 'ami':
        return ignoreGone('DeregisterImage', () =>
          ec2.send(new DeregisterImageCommand({ ImageId: resource.id })),
        );
      case 'snapshot':
        return ignoreGone('DeleteSnapshot', () =>
          ec2.send(new DeleteSnapshotCommand({ SnapshotId: resource.id })),
        );
      case 'import-task': {
        const out = await this.call('DescribeImportImageTasks', () =>
          ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [resource.id] })),
        );
        const task = out.ImportImageTasks?.[0];
        const status = task?.Status;
        if (status === 'completed') {
          // What it produced may not be recorded on the job yet (the task completed between two
          // CheckImport polls): remove the AMI, then its snapshots; already gone is fine.
          if (task?.ImageId) {
            const imageId = task.ImageId;
            await ignoreGone('DeregisterImage', () =>
              ec2.send(new DeregisterImageCommand({ ImageId: imageId })),
            );
          }
          for (const s of task?.SnapshotDetails ?? []) {
            const snapshotId = s.SnapshotId;
            if (!snapshotId) continue;
            await ignoreGone('DeleteSnapshot', () =>
              ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
            );
          }
          return;
        }
        if (!status || status === 'deleted' || status === 'deleting') return;
        return ignoreGone('CancelImportTask', () =>
          ec2.send(
            new CancelImportTaskCommand({ ImportTaskId: resource.id, CancelReason: 'burstgate job cleanup' }),
          ),
        );
      }
      case 'export-task': {
        // Its output object is an s3-object (see removeJobResources); one under way is cancelled,
        // or it would write the image into the bucket after the job is gone.
        let state: string | undefined;
        await ignoreGone('DescribeExportTasks', async () => {
          const out = await ec2.send(new DescribeExportTasksCommand({ ExportTaskIds: [resource.id] }));
          state = out.ExportTasks?.[0]?.State;
        });
        if (state !== 'active') return;
        try {
          await ec2.send(new CancelExportTaskCommand({ ExportTaskId: resource.id }));
        } catch (err) {
          const e = classifyCloudError(err, 'CancelExportTask');
          // Finished (or finishing) meanwhile: its image is removed as the task's output.
          if (e.code === 'IncorrectState' || (e.code && GONE_CODES.has(e.code))) return;
          throw e;
        }
        return;
      }
      default:
        throw new CloudError('CloudRejected', `AwsTarget cannot remove a ${resource.type}`);
    }
  }
}
