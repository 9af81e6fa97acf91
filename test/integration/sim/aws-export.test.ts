import {
  CancelExportTaskCommand,
  CreateInstanceExportTaskCommand,
  DescribeExportTasksCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';

import { diskFromBuffer, hashDisk, rawToDisk } from '../../../shared/images/extents';
import { importRawDisk, runInstance, useSimEnv, waitExport } from '../../helpers/aws-sim';
import { EXPORT_BUCKET, gptDisk, pollUntil, waitInstanceState } from '../../helpers/aws-sim-env';

// exports stay active for at least 150 ms, so a cancel issued right away finds them active
const env = useSimEnv({ timing: { phaseMs: 20, exportMs: 150 } });
let source: Buffer;
let instanceId: string;

beforeAll(async () => {
  source = gptDisk();
  const task = await importRawDisk(env, 'vm.raw', source);
  instanceId = await runInstance(env.ec2, task.ImageId!);
  await waitInstanceState(env.ec2, instanceId, 'running');
});

const exportInput = (format: 'RAW' | 'VMDK' | 'VHD', container?: 'ova') => ({
  InstanceId: instanceId,
  TargetEnvironment: 'vmware' as const,
  ExportToS3Task: {
    DiskImageFormat: format,
    ContainerFormat: container,
    S3Bucket: EXPORT_BUCKET,
    S3Prefix: 'out/',
  },
});

describe('AWS simulator: VM Export', () => {
  it('refuses to export a running instance', async () => {
    await expect(env.ec2.send(new CreateInstanceExportTaskCommand(exportInput('RAW')))).rejects.toMatchObject(
      {
        name: 'IncorrectInstanceState',
      },
    );
  });

  it('exports a stopped imported instance as a RAW file in S3 with the same bytes', async () => {
    // Prepare
    await env.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await waitInstanceState(env.ec2, instanceId, 'stopped');

    // Act
    const created = await env.ec2.send(new CreateInstanceExportTaskCommand(exportInput('RAW')));
    const id = created.ExportTask!.ExportTaskId!;
    const { value: task } = await waitExport(env.ec2, id);
    const obj = await env.s3.send(
      new GetObjectCommand({ Bucket: EXPORT_BUCKET, Key: task.ExportToS3Task!.S3Key! }),
    );
    const exported = await hashDisk(rawToDisk(obj.Body as Readable, obj.ContentLength!));

    // Assess
    expect(id).toMatch(/^export-i-[0-9a-f]{17}$/);
    expect(created.ExportTask?.State).toBe('active');
    expect(task.State).toBe('completed');
    expect(task.ExportToS3Task).toEqual({
      DiskImageFormat: 'RAW',
      S3Bucket: EXPORT_BUCKET,
      S3Key: `out/${id}.raw`,
    });
    expect(task.InstanceExportDetails).toEqual({ InstanceId: instanceId, TargetEnvironment: 'vmware' });
    expect(exported).toEqual(await hashDisk(diskFromBuffer(source)));
    expect(env.sim.resources().exportTasks).toEqual([]);
  });

  it('cancels an export and leaves no object behind', async () => {
    // Act
    const created = await env.ec2.send(new CreateInstanceExportTaskCommand(exportInput('RAW')));
    const id = created.ExportTask!.ExportTaskId!;
    await env.ec2.send(new CancelExportTaskCommand({ ExportTaskId: id }));
    const { value: task, seen } = await waitExport(env.ec2, id);
    const key = `out/${id}.raw`;
    const head = await pollUntil(
      () =>
        env.s3.send(new HeadObjectCommand({ Bucket: EXPORT_BUCKET, Key: key })).then(
          () => 'present',
          (e: { name?: string }) => e.name ?? 'error',
        ),
      (r) => r === 'NotFound',
    );

    // Assess
    expect(seen).toEqual(expect.arrayContaining(['cancelled']));
    expect(['cancelling', 'cancelled']).toEqual(expect.arrayContaining(seen));
    expect(task.State).toBe('cancelled');
    expect(head.value).toBe('NotFound');
  });

  it('validates the export request', async () => {
    await expect(
      env.ec2.send(
        new CreateInstanceExportTaskCommand({ ...exportInput('RAW'), TargetEnvironment: 'xen' as never }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(
      env.ec2.send(
        new CreateInstanceExportTaskCommand({
          ...exportInput('RAW'),
          ExportToS3Task: { DiskImageFormat: 'RAW', S3Bucket: 'no-such-bucket' },
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameter' });
    await expect(
      env.ec2.send(
        new CreateInstanceExportTaskCommand({ ...exportInput('RAW'), InstanceId: 'i-0123456789abcdef0' }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound' });
    await expect(
      env.ec2.send(new DescribeExportTasksCommand({ ExportTaskIds: ['export-i-0123456789abcdef0'] })),
    ).rejects.toMatchObject({ name: 'InvalidExportTaskID.NotFound' });
  });

  it('leaves nothing running after terminate', async () => {
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await waitInstanceState(env.ec2, instanceId, 'terminated');
    expect(env.sim.resources().instances).toEqual([]);
    expect(env.sim.resources().exportTasks).toEqual([]);
  });
});
