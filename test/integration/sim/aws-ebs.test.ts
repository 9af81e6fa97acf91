import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { CompleteSnapshotCommand, StartSnapshotCommand, type EBSClient } from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  blockOf,
  describeSnapshot,
  diskMismatch,
  EBS_BLOCK,
  ebsClient,
  getBlock,
  importRawDisk,
  listChangedBlocks,
  listSnapshotBlocks,
  NO_RESOURCES,
  nonZeroBlocks,
  putBlock,
  sha256Base64,
  uploadSnapshot,
  useSimEnv,
  waitSnapshot,
} from '../../helpers/aws-sim';
import { describeInstance, gptDisk, waitInstanceState } from '../../helpers/aws-sim-env';

const env = useSimEnv();
let ebs: EBSClient;
const GiB = 1024 ** 3;

/** 64 MiB with holes: a partition table, runs of data, a block with one 64 KiB piece, zero blocks between. */
function holeyDisk(): Buffer {
  const disk = Buffer.alloc(64 * 1024 * 1024);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  disk.write('EFI PART', 512, 'latin1');
  randomBytes(4 * EBS_BLOCK).copy(disk, 2 * EBS_BLOCK);
  randomBytes(64 * 1024).copy(disk, 7 * EBS_BLOCK + 3 * 64 * 1024);
  randomBytes(EBS_BLOCK).copy(disk, 40 * EBS_BLOCK);
  randomBytes(EBS_BLOCK / 2).copy(disk, 127 * EBS_BLOCK);
  return disk;
}

async function registerAndRun(ec2: EC2Client, snapshotId: string, name: string) {
  const reg = await ec2.send(
    new RegisterImageCommand({
      Name: name,
      Architecture: 'x86_64',
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeType: 'gp3' } }],
      VirtualizationType: 'hvm',
      BootMode: 'uefi',
      EnaSupport: true,
    }),
  );
  const run = await ec2.send(
    new RunInstancesCommand({ ImageId: reg.ImageId!, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }),
  );
  const instanceId = run.Instances![0]!.InstanceId!;
  await waitInstanceState(ec2, instanceId, 'running');
  return { imageId: reg.ImageId!, instanceId };
}

async function uploadBlocksInto(id: string, disk: Buffer, blocks: number[]): Promise<void> {
  for (const i of blocks) await putBlock(ebs, id, disk, i);
  await ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: blocks.length }));
}

let source: Buffer;
let baseId: string;

beforeAll(async () => {
  ebs = ebsClient(env.sim.url);
  source = holeyDisk();
  baseId = await uploadSnapshot(ebs, source, { volumeSize: 1, blocks: nonZeroBlocks(source) });
  await waitSnapshot(env.ec2, baseId);
});

afterAll(() => {
  ebs.destroy();
});

describe('AWS simulator: EBS direct APIs', () => {
  it('uploads the non-zero blocks of a disk, registers the snapshot as an AMI and boots it on an identical disk', async () => {
    // Prepare
    const disk = holeyDisk();
    const blocks = nonZeroBlocks(disk);

    // Act
    const started = await ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Description: 'offload j-1' }));
    const id = started.SnapshotId!;
    const pending = await describeSnapshot(env.ec2, id);
    await uploadBlocksInto(id, disk, blocks);
    const { seen } = await waitSnapshot(env.ec2, id);
    const listed = await listSnapshotBlocks(ebs, id);
    const { imageId, instanceId } = await registerAndRun(env.ec2, id, 'burst-j-1');
    const image = (await env.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images![0]!;
    const instance = await describeInstance(env.ec2, instanceId);

    // Assess
    expect(blocks).toEqual([0, 2, 3, 4, 5, 7, 40, 127]);
    expect(started).toMatchObject({
      Status: 'pending',
      VolumeSize: 1,
      BlockSize: EBS_BLOCK,
      OwnerId: '123456789012',
      Description: 'offload j-1',
    });
    expect(started.StartTime).toBeInstanceOf(Date);
    expect(pending).toMatchObject({ State: 'pending', VolumeId: 'vol-ffffffff', VolumeSize: 1 });
    expect([['pending', 'completed'], ['completed']]).toContainEqual(seen); // a slow poll may miss 'pending'
    expect(listed.blocks.map((b) => b.BlockIndex)).toEqual(blocks);
    expect(image).toMatchObject({
      State: 'available',
      RootDeviceName: '/dev/xvda',
      BootMode: 'uefi',
      EnaSupport: true,
      VirtualizationType: 'hvm',
      Architecture: 'x86_64',
    });
    expect(image.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId).toBe(id);
    expect(instance).toMatchObject({ State: { Name: 'running' }, BootMode: 'uefi', ImageId: imageId });
    expect(await diskMismatch(await env.sim.readDisk('snapshot', id), disk, GiB)).toBeUndefined();
    expect(await diskMismatch(await env.sim.readDisk('instance', instanceId), disk, GiB)).toBeUndefined();
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  });

  it('writes an incremental child with ParentSnapshotId: only its changed blocks, inheriting the rest', async () => {
    // Prepare: block 3 rewritten, block 40 zeroed (written as zeros), block 60 new
    const next = Buffer.from(source);
    randomBytes(EBS_BLOCK).copy(next, 3 * EBS_BLOCK);
    next.fill(0, 40 * EBS_BLOCK, 41 * EBS_BLOCK);
    randomBytes(1000).copy(next, 60 * EBS_BLOCK + 5000);

    // Act
    const child = await uploadSnapshot(ebs, next, {
      volumeSize: 1,
      blocks: [3, 40, 60],
      parentSnapshotId: baseId,
    });
    await waitSnapshot(env.ec2, child);
    const forward = await listChangedBlocks(ebs, baseId, child);
    const backward = await listChangedBlocks(ebs, child, baseId);
    const childBlocks = await listSnapshotBlocks(ebs, child);
    const b40 = forward.blocks.find((b) => b.BlockIndex === 40)!;
    const zeroed = await getBlock(ebs, child, 40, b40.SecondBlockToken!);
    const original = await getBlock(ebs, baseId, 40, b40.FirstBlockToken!);

    // Assess
    expect(forward.blocks.map((b) => b.BlockIndex)).toEqual([3, 40, 60]);
    expect(
      forward.blocks.map((b) => [b.FirstBlockToken !== undefined, b.SecondBlockToken !== undefined]),
    ).toEqual([
      [true, true],
      [true, true],
      [false, true],
    ]);
    expect(backward.blocks.map((b) => b.BlockIndex)).toEqual([3, 40, 60]);
    expect(childBlocks.blocks.map((b) => b.BlockIndex)).toEqual([0, 2, 3, 4, 5, 7, 40, 60, 127]);
    expect(zeroed.data.equals(Buffer.alloc(EBS_BLOCK))).toBe(true);
    expect(original.data.equals(blockOf(source, 40))).toBe(true);
    expect(await diskMismatch(await env.sim.readDisk('snapshot', child), next, GiB)).toBeUndefined();
    expect(await diskMismatch(await env.sim.readDisk('snapshot', baseId), source, GiB)).toBeUndefined();
  });

  it('lists exactly the blocks the guest wrote between the uploaded snapshot and a CreateSnapshot of the root volume', async () => {
    // Prepare: boot the uploaded snapshot; the guest writes inside block 3, across blocks 19/20 and all of block 90
    const { instanceId } = await registerAndRun(env.ec2, baseId, 'burst-return-1');
    const expected = Buffer.from(source);
    const writes: [number, Buffer][] = [
      [3 * EBS_BLOCK + 100, randomBytes(5000)],
      [20 * EBS_BLOCK - 10, randomBytes(20)],
      [90 * EBS_BLOCK, randomBytes(EBS_BLOCK)],
    ];
    for (const [offset, data] of writes) {
      await env.sim.writeDisk(instanceId, offset, data);
      data.copy(expected, offset);
    }
    await env.ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    const stopped = (await waitInstanceState(env.ec2, instanceId, 'stopped')).value;
    const volumeId = stopped.BlockDeviceMappings![0]!.Ebs!.VolumeId!;

    // Act
    const created = await env.ec2.send(
      new CreateSnapshotCommand({
        VolumeId: volumeId,
        Description: 'return j-1',
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'job', Value: 'j-1' }] }],
      }),
    );
    const returned = created.SnapshotId!;
    const { value: done, seen } = await waitSnapshot(env.ec2, returned);
    const changed = await listChangedBlocks(ebs, baseId, returned);
    const fetched = await Promise.all(
      changed.blocks.map((b) => getBlock(ebs, returned, b.BlockIndex!, b.SecondBlockToken!)),
    );
    const again = await env.ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
    await waitSnapshot(env.ec2, again.SnapshotId!);
    const nothingNew = await listChangedBlocks(ebs, returned, again.SnapshotId!);
    const sinceUpload = await listChangedBlocks(ebs, baseId, again.SnapshotId!);

    // Assess
    expect(created).toMatchObject({
      State: 'pending',
      VolumeId: volumeId,
      VolumeSize: 1,
      Description: 'return j-1',
    });
    expect([['pending', 'completed'], ['completed']]).toContainEqual(seen); // a slow poll may miss 'pending'
    expect(done).toMatchObject({
      State: 'completed',
      Progress: '100%',
      Tags: [{ Key: 'job', Value: 'j-1' }],
    });
    expect(changed.blocks.map((b) => b.BlockIndex)).toEqual([3, 19, 20, 90]);
    for (const [n, b] of changed.blocks.entries()) {
      const got = fetched[n]!;
      expect(got.data.equals(blockOf(expected, b.BlockIndex!))).toBe(true);
      expect(got.checksum).toBe(sha256Base64(got.data));
      expect(got.out.ChecksumAlgorithm).toBe('SHA256');
      expect(got.out.DataLength).toBe(EBS_BLOCK);
    }
    expect(nothingNew.blocks).toEqual([]);
    expect(sinceUpload.blocks.map((b) => b.BlockIndex)).toEqual([3, 19, 20, 90]);
    expect(await diskMismatch(await env.sim.readDisk('snapshot', returned), expected, GiB)).toBeUndefined();
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  });

  it('keeps lineage from a VM Import AMI too: the return snapshot differs from the AMI snapshot only where the guest wrote', async () => {
    // Prepare
    const disk = gptDisk();
    const task = await importRawDisk(env, 'lineage.raw', disk);
    const amiSnapshot = task.SnapshotDetails![0]!.SnapshotId!;
    const run = await env.ec2.send(
      new RunInstancesCommand({ ImageId: task.ImageId!, MinCount: 1, MaxCount: 1 }),
    );
    const instanceId = run.Instances![0]!.InstanceId!;
    await waitInstanceState(env.ec2, instanceId, 'running');
    await env.sim.writeDisk(instanceId, 6 * EBS_BLOCK + 7, randomBytes(300));
    const volumeId = (await describeInstance(env.ec2, instanceId)).BlockDeviceMappings![0]!.Ebs!.VolumeId!;

    // Act
    const snap = await env.ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
    await waitSnapshot(env.ec2, snap.SnapshotId!);
    const changed = await listChangedBlocks(ebs, amiSnapshot, snap.SnapshotId!);
    const amiBlocks = await listSnapshotBlocks(ebs, amiSnapshot);

    // Assess: gptDisk holds data in blocks 0, 2 and 10
    expect(amiBlocks.blocks.map((b) => b.BlockIndex)).toEqual([0, 2, 10]);
    expect(changed.blocks.map((b) => [b.BlockIndex, b.FirstBlockToken !== undefined])).toEqual([[6, false]]);
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  });

  it('pages ListSnapshotBlocks and ListChangedBlocks with NextToken (MaxResults under 100 still returns 100)', async () => {
    // Prepare: 128 written blocks (one byte each), and a child rewriting 110 of them
    const dense = Buffer.alloc(128 * EBS_BLOCK);
    for (let i = 0; i < 128; i++) dense[i * EBS_BLOCK + 1] = i + 1;
    const all = Array.from({ length: 128 }, (_, i) => i);
    const parent = await uploadSnapshot(ebs, dense, { volumeSize: 1, blocks: all });
    await waitSnapshot(env.ec2, parent);
    const rewritten = all.slice(10, 120);
    for (const i of rewritten) dense[i * EBS_BLOCK + 2] = 0xee;
    const child = await uploadSnapshot(ebs, dense, {
      volumeSize: 1,
      blocks: rewritten,
      parentSnapshotId: parent,
    });
    await waitSnapshot(env.ec2, child);

    // Act
    const blocks = await listSnapshotBlocks(ebs, parent, 100);
    const small = await listSnapshotBlocks(ebs, parent, 10);
    const changed = await listChangedBlocks(ebs, parent, child, 100);

    // Assess
    expect(blocks.pages).toBe(2);
    expect(blocks.blocks.map((b) => b.BlockIndex)).toEqual(all);
    expect(small.pages).toBe(2);
    expect(changed.pages).toBe(2);
    expect(changed.blocks.map((b) => b.BlockIndex)).toEqual(rewritten);
  });

  it('answers a repeated StartSnapshot ClientToken with the same snapshot, and a changed one with ConflictException', async () => {
    // Prepare
    const before = env.sim.resources().snapshots.length;
    const input = { VolumeSize: 2, ClientToken: 'offload-j-7', Tags: [{ Key: 'job', Value: 'j-7' }] };

    // Act
    const first = await ebs.send(new StartSnapshotCommand(input));
    const second = await ebs.send(new StartSnapshotCommand(input));
    const conflict = await ebs
      .send(new StartSnapshotCommand({ ...input, VolumeSize: 3 }))
      .catch((e: unknown) => e);

    // Assess
    expect(second.SnapshotId).toBe(first.SnapshotId);
    expect(first.Tags).toEqual([{ Key: 'job', Value: 'j-7' }]);
    expect(conflict).toMatchObject({ name: 'ConflictException', $metadata: { httpStatusCode: 409 } });
    expect(env.sim.resources().snapshots.length).toBe(before + 1);
    expect(env.sim.resources().snapshots).toContainEqual({ id: first.SnapshotId, state: 'pending' });
  });

  it('shows every snapshot, AMI and instance in resources(), and removing them through the API leaves no files', async () => {
    // Prepare
    const live = env.sim.resources();
    const running = live.instances.filter((i) => i.state !== 'shutting-down').map((i) => i.id);
    if (running.length) await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: running }));
    for (const i of live.instances) await waitInstanceState(env.ec2, i.id, 'terminated');

    // Act
    for (const img of live.images) await env.ec2.send(new DeregisterImageCommand({ ImageId: img.id }));
    for (const s of live.snapshots) await env.ec2.send(new DeleteSnapshotCommand({ SnapshotId: s.id }));

    // Assess
    expect(live.snapshots.length).toBe(10);
    expect(live.images.length).toBe(3);
    expect(env.sim.resources()).toEqual(NO_RESOURCES);
    expect(await readdir(join(env.stateDir, 'disks'))).toEqual([]);
  });
});
