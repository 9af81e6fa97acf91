import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  CreateInstanceExportTaskCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  ImportImageCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';

import { diskFromBuffer, hashDisk } from '../../../shared/images/extents';
import { importRawDisk, NO_RESOURCES, runInstance, useSimEnv } from '../../helpers/aws-sim';
import {
  BUCKET,
  EXPORT_BUCKET,
  describeInstance,
  gptDisk,
  mbrDisk,
  putObject,
  waitImport,
  waitInstanceState,
} from '../../helpers/aws-sim-env';

const env = useSimEnv();

describe('AWS simulator: state across restarts', () => {
  it('keeps AMIs, snapshots, instances, tags and disk bytes when restarted on the same stateDir', async () => {
    // Prepare
    const source = gptDisk();
    const task = await importRawDisk(env, 'keep.raw', source);
    const instanceId = await runInstance(env.ec2, task.ImageId!);
    await env.ec2.send(
      new CreateTagsCommand({ Resources: [instanceId], Tags: [{ Key: 'job', Value: 'keep' }] }),
    );
    const before = env.sim.resources();
    const oldUrl = env.sim.url;

    // Act
    await env.restart();

    // Assess
    expect(env.sim.url).not.toBe(oldUrl);
    expect(env.sim.resources()).toEqual({
      ...before,
      instances: before.instances.map((i) => ({ ...i, state: expect.any(String) })),
    });
    const images = await env.ec2.send(new DescribeImagesCommand({ ImageIds: [task.ImageId!] }));
    expect(images.Images?.[0]?.State).toBe('available');
    // the instance's boot timer resumed: it reaches running after the restart
    const { value: inst } = await waitInstanceState(env.ec2, instanceId, 'running');
    expect(inst.Tags).toEqual([{ Key: 'job', Value: 'keep' }]);
    const expected = await hashDisk(diskFromBuffer(source));
    const snapshotId = task.SnapshotDetails![0]!.SnapshotId!;
    expect(await hashDisk(await env.sim.readDisk('snapshot', snapshotId))).toEqual(expected);
    expect(await hashDisk(await env.sim.readDisk('instance', instanceId))).toEqual(expected);

    // Cleanup, proving nothing is left
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await waitInstanceState(env.ec2, instanceId, 'terminated');
    await env.ec2.send(new DeregisterImageCommand({ ImageId: task.ImageId! }));
    await env.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
    expect(env.sim.resources()).toEqual(NO_RESOURCES);
    expect((await describeInstance(env.ec2, instanceId)).State?.Name).toBe('terminated');
  });

  it('completes an import across a restart issued right after ImportImage', async () => {
    // Prepare
    const source = mbrDisk();
    await putObject(env.s3, 'resume.raw', source);
    const started = await env.ec2.send(
      new ImportImageCommand({
        DiskContainers: [{ Format: 'RAW', UserBucket: { S3Bucket: BUCKET, S3Key: 'resume.raw' } }],
      }),
    );

    // Act
    await env.restart();
    const { value: task } = await waitImport(env.ec2, started.ImportTaskId!);

    // Assess
    expect(task.Status).toBe('completed');
    const snap = task.SnapshotDetails![0]!.SnapshotId!;
    expect(await hashDisk(await env.sim.readDisk('snapshot', snap))).toEqual(
      await hashDisk(diskFromBuffer(source)),
    );
    await env.ec2.send(
      new DeregisterImageCommand({ ImageId: task.ImageId!, DeleteAssociatedSnapshots: true }),
    );
    expect(env.sim.resources()).toEqual(NO_RESOURCES);
  });

  it('refuses to export an instance whose AMI did not come from VM Import (NotExportable)', async () => {
    // Prepare: import an AMI, then, while the simulator is stopped, make its record look like an AMI
    // that VM Import did not create (the simulator has no RegisterImage/CreateImage to make one)
    const task = await importRawDisk(env, 'native.raw', mbrDisk());
    await env.sim.close();
    const file = join(env.stateDir, 'state.json');
    const state = JSON.parse(await readFile(file, 'utf8')) as {
      images: Record<string, { importTaskId?: string }>;
    };
    delete state.images[task.ImageId!]!.importTaskId;
    await writeFile(file, JSON.stringify(state));
    await env.restart();
    const instanceId = await runInstance(env.ec2, task.ImageId!);
    await waitInstanceState(env.ec2, instanceId, 'running');
    await env.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await waitInstanceState(env.ec2, instanceId, 'stopped');

    // Act
    const refused = await env.ec2
      .send(
        new CreateInstanceExportTaskCommand({
          InstanceId: instanceId,
          TargetEnvironment: 'vmware',
          ExportToS3Task: { DiskImageFormat: 'RAW', S3Bucket: EXPORT_BUCKET },
        }),
      )
      .catch((e: unknown) => e);

    // Assess
    expect(refused).toMatchObject({
      name: 'NotExportable',
      message: 'Only imported instances can be exported.',
    });
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await waitInstanceState(env.ec2, instanceId, 'terminated');
    await env.ec2.send(
      new DeregisterImageCommand({ ImageId: task.ImageId!, DeleteAssociatedSnapshots: true }),
    );
    expect(env.sim.resources()).toEqual(NO_RESOURCES);
  });
});
