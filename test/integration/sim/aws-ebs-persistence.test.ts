import { randomBytes } from 'node:crypto';

import { CompleteSnapshotCommand, StartSnapshotCommand } from '@aws-sdk/client-ebs';
import { CreateSnapshotCommand, RegisterImageCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';

import {
  blockOf,
  describeSnapshot,
  diskMismatch,
  EBS_BLOCK,
  ebsClient,
  getBlock,
  listChangedBlocks,
  listSnapshotBlocks,
  putBlock,
  uploadSnapshot,
  useSimEnv,
  waitSnapshot,
} from '../../helpers/aws-sim';
import { describeInstance, FAST, waitInstanceState } from '../../helpers/aws-sim-env';

const env = useSimEnv();
// one Timeout minute lasts 3 ms here, so a 10-minute Timeout runs out in 30 ms
const quick = useSimEnv({ timing: { ...FAST, ebsMinuteMs: 3 } });
const GiB = 1024 ** 3;

function sample(): Buffer {
  const disk = Buffer.alloc(16 * EBS_BLOCK);
  for (const i of [0, 5, 6, 9]) randomBytes(EBS_BLOCK).copy(disk, i * EBS_BLOCK);
  return disk;
}

describe('AWS simulator: EBS snapshots across restarts', () => {
  it('keeps completed and pending snapshots, their blocks, block tokens and a volume’s lineage', async () => {
    // Prepare
    const disk = sample();
    let ebs = ebsClient(env.sim.url);
    const done = await uploadSnapshot(ebs, disk, { volumeSize: 1, blocks: [0, 5] });
    await waitSnapshot(env.ec2, done);
    const open = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: done })))
      .SnapshotId!;
    await putBlock(ebs, open, disk, 6);
    const reg = await env.ec2.send(
      new RegisterImageCommand({
        Name: 'kept',
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: done } }],
        VirtualizationType: 'hvm',
      }),
    );
    const run = await env.ec2.send(
      new RunInstancesCommand({ ImageId: reg.ImageId!, MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0]!.InstanceId!;
    await waitInstanceState(env.ec2, instanceId, 'running');
    await env.sim.writeDisk(instanceId, 9 * EBS_BLOCK, blockOf(disk, 9));
    const tokens = await listSnapshotBlocks(ebs, done);
    const before = env.sim.resources();
    ebs.destroy();

    // Act
    await env.restart();
    const after = env.sim.resources();
    ebs = ebsClient(env.sim.url);
    await putBlock(ebs, open, disk, 9);
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: open, ChangedBlocksCount: 2 }));
    const opened = await waitSnapshot(env.ec2, open);
    const volumeId = (await describeInstance(env.ec2, instanceId)).BlockDeviceMappings![0]!.Ebs!.VolumeId!;
    const ret = (await env.ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }))).SnapshotId!;
    await waitSnapshot(env.ec2, ret);
    const guestChanges = await listChangedBlocks(ebs, done, ret);
    const childChanges = await listChangedBlocks(ebs, done, open);
    const viaOldToken = await getBlock(ebs, done, 5, tokens.blocks[1]!.BlockToken!);

    // Assess
    expect(after).toEqual(before);
    expect(before.snapshots).toContainEqual({ id: open, state: 'pending' });
    expect(opened.value.State).toBe('completed');
    expect((await listSnapshotBlocks(ebs, open)).blocks.map((b) => b.BlockIndex)).toEqual([0, 5, 6, 9]);
    expect(childChanges.blocks.map((b) => b.BlockIndex)).toEqual([6, 9]);
    expect(guestChanges.blocks.map((b) => b.BlockIndex)).toEqual([9]);
    expect(viaOldToken.data.equals(blockOf(disk, 5))).toBe(true);
    expect(await diskMismatch(await env.sim.readDisk('snapshot', open), disk, GiB)).toBeUndefined();
    ebs.destroy();
  });

  it('moves a pending snapshot that gets no PutSnapshotBlock or CompleteSnapshot within its Timeout to error', async () => {
    // Prepare
    const ebs = ebsClient(quick.sim.url, 1);
    const id = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 10 }))).SnapshotId!;

    // Act
    const { value, seen } = await waitSnapshot(quick.ec2, id);
    const late = await putBlock(ebs, id, sample(), 0).catch((e: unknown) => e);

    // Assess
    expect([['pending', 'error'], ['error']]).toContainEqual(seen); // a slow poll may miss 'pending'
    expect(value.StateMessage).toMatch(/timed out/);
    expect(late).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect(quick.sim.resources().snapshots).toEqual([{ id, state: 'error' }]);
    expect((await describeSnapshot(quick.ec2, id)).Progress).toBe('0%');
    ebs.destroy();
  });
});
