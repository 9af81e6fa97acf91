import {
  CancelImportTaskCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeImportImageTasksCommand,
  DescribeSnapshotsCommand,
  ImportImageCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';

import { diskFromBuffer, hashDisk } from '../../../shared/images/extents';
import { NO_RESOURCES, useSimEnv } from '../../helpers/aws-sim';
import {
  BUCKET,
  describeTask,
  gptDisk,
  mbrDisk,
  pollUntil,
  putObject,
  waitImport,
} from '../../helpers/aws-sim-env';

const env = useSimEnv();

async function importFrom(key: string, format?: string) {
  const out = await env.ec2.send(
    new ImportImageCommand({
      Description: `test ${key}`,
      DiskContainers: [{ Format: format, UserBucket: { S3Bucket: BUCKET, S3Key: key } }],
    }),
  );
  if (!out.ImportTaskId) throw new Error('no ImportTaskId');
  return out;
}

describe('AWS simulator: VM Import', () => {
  it('imports a raw GPT disk into an AMI and a snapshot that hold the same bytes', async () => {
    // Prepare
    const disk = gptDisk();
    await putObject(env.s3, 'gpt.raw', disk);

    // Act
    const started = await env.ec2.send(
      new ImportImageCommand({
        Description: 'gpt raw',
        DiskContainers: [{ Format: 'raw', UserBucket: { S3Bucket: BUCKET, S3Key: 'gpt.raw' } }],
        TagSpecifications: [{ ResourceType: 'import-image-task', Tags: [{ Key: 'job', Value: 'j-1' }] }],
      }),
    );
    const { value: task, seen, progress } = await waitImport(env.ec2, started.ImportTaskId!);

    // Assess
    expect(progress.length).toBeGreaterThan(0);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(task.Progress).toBeUndefined();
    expect(started.ImportTaskId).toMatch(/^import-ami-[0-9a-f]{17}$/);
    expect(started.Status).toBe('active');
    expect(started.StatusMessage).toBe('pending');
    expect(started.Tags).toEqual([{ Key: 'job', Value: 'j-1' }]);
    // phases only move forward, in AWS's order (a fast phase may pass between two polls)
    const order = [
      'active/pending',
      'active/validating',
      'active/validated',
      'active/converting',
      'active/preparing ami',
      'completed/completed',
    ];
    expect(seen.map((s) => order.indexOf(s))).toEqual(
      [...seen.map((s) => order.indexOf(s))].sort((a, b) => a - b),
    );
    expect(seen.every((s) => order.includes(s))).toBe(true);
    expect(seen[seen.length - 1]).toBe('completed/completed');
    expect(task.ImageId).toMatch(/^ami-[0-9a-f]{17}$/);
    const detail = task.SnapshotDetails?.[0];
    expect(detail?.SnapshotId).toMatch(/^snap-[0-9a-f]{17}$/);
    expect(detail?.Status).toBe('completed');
    expect(detail?.Format).toBe('RAW');
    expect(detail?.DiskImageSize).toBe(disk.length);
    expect(detail?.UserBucket).toEqual({ S3Bucket: BUCKET, S3Key: 'gpt.raw' });

    const images = await env.ec2.send(new DescribeImagesCommand({ ImageIds: [task.ImageId!] }));
    const image = images.Images?.[0];
    expect(image?.State).toBe('available');
    expect(image?.Architecture).toBe('x86_64');
    expect(image?.VirtualizationType).toBe('hvm');
    expect(image?.RootDeviceName).toBe('/dev/sda1');
    expect(image?.BootMode).toBe('legacy-bios');
    expect(image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId).toBe(detail?.SnapshotId);
    expect(image?.BlockDeviceMappings?.[0]?.Ebs?.VolumeSize).toBe(1);

    const snaps = await env.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [detail!.SnapshotId!] }));
    expect(snaps.Snapshots?.[0]?.State).toBe('completed');
    expect(snaps.Snapshots?.[0]?.VolumeSize).toBe(1);
    expect(snaps.Snapshots?.[0]?.Description).toBe(
      `Created by AWS-VMImport service for ${started.ImportTaskId}`,
    );

    const byFilter = await env.ec2.send(
      new DescribeImportImageTasksCommand({
        Filters: [
          { Name: 'task-state', Values: ['completed'] },
          { Name: 'tag:job', Values: ['j-1'] },
        ],
      }),
    );
    expect(byFilter.ImportImageTasks?.map((t) => t.ImportTaskId)).toEqual([started.ImportTaskId]);

    const stored = await hashDisk(await env.sim.readDisk('snapshot', detail!.SnapshotId!));
    const source = await hashDisk(diskFromBuffer(disk));
    expect(stored).toEqual(source);
  });

  it('imports an MBR disk without a declared format', async () => {
    // Prepare
    const disk = mbrDisk();
    await putObject(env.s3, 'mbr.img', disk);

    // Act
    const started = await importFrom('mbr.img');
    const { value: task } = await waitImport(env.ec2, started.ImportTaskId!);

    // Assess
    expect(task.Status).toBe('completed');
    const snap = task.SnapshotDetails?.[0]?.SnapshotId;
    expect((await hashDisk(await env.sim.readDisk('snapshot', snap!))).sha256).toBe(
      (await hashDisk(diskFromBuffer(disk))).sha256,
    );
  });

  it('fails a disk without a partition table like VM Import does', async () => {
    // Prepare
    await putObject(env.s3, 'blank.raw', Buffer.alloc(2 * 1024 * 1024, 0x41));

    // Act
    const started = await importFrom('blank.raw', 'RAW');
    const { value: task, seen } = await waitImport(env.ec2, started.ImportTaskId!);

    // Assess (the brief `deleting` phase may fall between two polls, so only its order is checked)
    expect(task.Status).toBe('deleted');
    expect(task.StatusMessage).toBe('ClientError: No valid partitions. Not a valid volume.');
    expect(seen.filter((s) => !s.startsWith('deleting/') && !s.startsWith('deleted/'))).toEqual(
      seen.slice(
        0,
        seen.findIndex((s) => s.startsWith('delet')),
      ),
    );
    expect(task.ImageId).toBeUndefined();
  });

  it('fails an unsupported format (qcow2)', async () => {
    // Prepare
    const qcow = Buffer.alloc(1024 * 1024);
    qcow.writeUInt32BE(0x514649fb, 0);
    qcow.writeUInt32BE(3, 4);
    await putObject(env.s3, 'disk.qcow2', qcow);

    // Act
    const started = await importFrom('disk.qcow2');
    const { value: task } = await waitImport(env.ec2, started.ImportTaskId!);

    // Assess
    expect(task.Status).toBe('deleted');
    expect(task.StatusMessage).toBe('ClientError: Unsupported file format');
  });

  it('fails when the declared format does not match the file', async () => {
    // Prepare
    await putObject(env.s3, 'really-raw.vmdk', gptDisk(2 * 1024 * 1024));

    // Act
    const started = await importFrom('really-raw.vmdk', 'VMDK');
    const { value: task } = await waitImport(env.ec2, started.ImportTaskId!);

    // Assess
    expect(task.Status).toBe('deleted');
    expect(task.StatusMessage).toBe(
      'ClientError: Disk validation failed [Unsupported specified file format]',
    );
  });

  it('fails the task when the S3 object is missing, and refuses a missing bucket at once', async () => {
    // Act
    const started = await importFrom('no-such-key.raw', 'RAW');
    const { value: task } = await waitImport(env.ec2, started.ImportTaskId!);
    const refused = env.ec2.send(
      new ImportImageCommand({
        DiskContainers: [{ UserBucket: { S3Bucket: 'no-such-bucket', S3Key: 'k' } }],
      }),
    );

    // Assess
    expect(task.StatusMessage).toBe('ClientError: Disk validation failed [Invalid S3 source location]');
    await expect(refused).rejects.toMatchObject({ name: 'InvalidParameter' });
  });

  it('rejects malformed requests synchronously', async () => {
    await expect(env.ec2.send(new ImportImageCommand({}))).rejects.toMatchObject({
      name: 'MissingParameter',
    });
    await expect(
      env.ec2.send(
        new ImportImageCommand({
          DiskContainers: [{ Format: 'qcow2', UserBucket: { S3Bucket: BUCKET, S3Key: 'x' } }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(env.ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-nothex'] }))).rejects.toMatchObject(
      {
        name: 'InvalidAMIID.Malformed',
      },
    );
    await expect(
      env.ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-0123456789abcdef0'] })),
    ).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
  });

  it('returns the same task for the same ClientToken', async () => {
    // Prepare
    await putObject(env.s3, 'idem.raw', mbrDisk());
    const input = {
      ClientToken: 'token-1',
      DiskContainers: [{ Format: 'RAW', UserBucket: { S3Bucket: BUCKET, S3Key: 'idem.raw' } }],
    };

    // Act
    const a = await env.ec2.send(new ImportImageCommand(input));
    const b = await env.ec2.send(new ImportImageCommand(input));
    await waitImport(env.ec2, a.ImportTaskId!);

    // Assess
    expect(b.ImportTaskId).toBe(a.ImportTaskId);
  });

  it('ends the next import with the injected failImport ClientError', async () => {
    // Prepare
    await putObject(env.s3, 'fault.raw', mbrDisk());
    env.sim.setFaults({ failImport: { message: 'ClientError: Unknown OS / Missing OS files.' } });

    // Act
    const failed = await importFrom('fault.raw', 'RAW');
    const next = await importFrom('fault.raw', 'RAW');
    const { value: failedTask } = await waitImport(env.ec2, failed.ImportTaskId!);
    const { value: nextTask } = await waitImport(env.ec2, next.ImportTaskId!);

    // Assess
    expect(failedTask.Status).toBe('deleted');
    expect(failedTask.StatusMessage).toBe('ClientError: Unknown OS / Missing OS files.');
    expect(nextTask.Status).toBe('completed');
  });

  it('cancels an active task and removes what it made', async () => {
    // Prepare
    await putObject(env.s3, 'cancel.raw', gptDisk());
    const before = env.sim.resources();

    // Act
    const started = await importFrom('cancel.raw', 'RAW');
    const cancel = await env.ec2.send(new CancelImportTaskCommand({ ImportTaskId: started.ImportTaskId! }));
    const { value: task, seen } = await waitImport(env.ec2, started.ImportTaskId!);
    const again = env.ec2.send(new CancelImportTaskCommand({ ImportTaskId: started.ImportTaskId! }));

    // Assess
    expect(cancel).toMatchObject({
      ImportTaskId: started.ImportTaskId,
      PreviousState: 'active',
      State: 'deleting',
    });
    expect(['deleting/Canceled by user', 'deleted/Canceled by user']).toEqual(expect.arrayContaining(seen));
    expect(task.Status).toBe('deleted');
    await expect(again).rejects.toMatchObject({ name: 'IncorrectState' });
    expect(env.sim.resources().images).toEqual(before.images);
    expect(env.sim.resources().snapshots).toEqual(before.snapshots);
  });

  it('deregisters an AMI and deletes its snapshot, refusing the snapshot while the AMI uses it', async () => {
    // Prepare
    await putObject(env.s3, 'cleanup.raw', mbrDisk());
    const started = await importFrom('cleanup.raw', 'RAW');
    const { value: task } = await waitImport(env.ec2, started.ImportTaskId!);
    const snapshotId = task.SnapshotDetails![0]!.SnapshotId!;

    // Act
    const inUse = env.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
    await expect(inUse).rejects.toMatchObject({ name: 'InvalidSnapshot.InUse' });
    await env.ec2.send(new DeregisterImageCommand({ ImageId: task.ImageId! }));
    await env.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));

    // Assess
    await expect(
      env.ec2.send(new DescribeImagesCommand({ ImageIds: [task.ImageId!] })),
    ).rejects.toMatchObject({
      name: 'InvalidAMIID.NotFound',
    });
    await expect(
      env.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })),
    ).rejects.toMatchObject({
      name: 'InvalidSnapshot.NotFound',
    });
    await expect(env.sim.readDisk('snapshot', snapshotId)).rejects.toThrow(/no snapshot/);
  });

  it('leaves nothing behind once every AMI and snapshot is removed', async () => {
    // Prepare: wait for every task to settle
    await pollUntil(
      async () => env.sim.resources().importTasks.length,
      (n) => n === 0,
    );
    const images = await env.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    const snaps = await env.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));

    // Act
    for (const img of images.Images ?? [])
      await env.ec2.send(new DeregisterImageCommand({ ImageId: img.ImageId! }));
    for (const s of snaps.Snapshots ?? [])
      await env.ec2.send(new DeleteSnapshotCommand({ SnapshotId: s.SnapshotId! }));

    // Assess
    expect(env.sim.resources()).toEqual(NO_RESOURCES);
    expect((await describeTask(env.ec2, (images.Images ?? [])[0]!.Name!)).Status).toBe('completed');
  });
});
