import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { Readable } from 'node:stream';

import {
  CompleteSnapshotCommand,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
  type EBSClient,
} from '@aws-sdk/client-ebs';
import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  RegisterImageCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  blockOf,
  describeSnapshot,
  diskMismatch,
  EBS_BLOCK,
  ebsClient,
  listSnapshotBlocks,
  putBlock,
  sha256Base64,
  uploadSnapshot,
  useSimEnv,
  waitSnapshot,
} from '../../helpers/aws-sim';

const env = useSimEnv();
let ebs: EBSClient;
let once: EBSClient;
const GiB = 1024 ** 3;

beforeAll(() => {
  ebs = ebsClient(env.sim.url);
  once = ebsClient(env.sim.url, 1);
});

afterAll(() => {
  ebs.destroy();
  once.destroy();
});

/** A pending 1 GiB snapshot with blocks 0 and 5 of `disk` written. */
async function pendingSnapshot(disk: Buffer): Promise<string> {
  const id = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
  await putBlock(ebs, id, disk, 0);
  await putBlock(ebs, id, disk, 5);
  return id;
}

function diskWithData(): Buffer {
  const disk = Buffer.alloc(8 * EBS_BLOCK);
  randomBytes(EBS_BLOCK).copy(disk, 0);
  randomBytes(EBS_BLOCK).copy(disk, 5 * EBS_BLOCK);
  randomBytes(EBS_BLOCK).copy(disk, 6 * EBS_BLOCK);
  return disk;
}

function put(client: EBSClient, input: Partial<ConstructorParameters<typeof PutSnapshotBlockCommand>[0]>) {
  const data = (input.BlockData as Buffer | undefined) ?? randomBytes(EBS_BLOCK);
  return client
    .send(
      new PutSnapshotBlockCommand({
        SnapshotId: '',
        BlockIndex: 1,
        DataLength: EBS_BLOCK,
        Checksum: sha256Base64(data),
        ChecksumAlgorithm: 'SHA256',
        ...input,
        BlockData: input.BlockData ?? data,
      }),
    )
    .catch((e: unknown) => e);
}

describe('AWS simulator: EBS direct API errors', () => {
  it('refuses bad blocks with AWS errors and keeps only the good ones', async () => {
    // Prepare
    const disk = diskWithData();
    const id = await pendingSnapshot(disk);
    const block = randomBytes(EBS_BLOCK);

    // Act
    const wrongChecksum = await put(once, {
      SnapshotId: id,
      BlockIndex: 6,
      BlockData: block,
      Checksum: sha256Base64(randomBytes(10)),
    });
    const wrongDataLength = await put(once, {
      SnapshotId: id,
      BlockIndex: 6,
      BlockData: block.subarray(0, 4096),
      DataLength: 4096,
      Checksum: sha256Base64(block.subarray(0, 4096)),
    });
    const shortBody = await put(once, {
      SnapshotId: id,
      BlockIndex: 6,
      BlockData: block.subarray(0, 1000),
      Checksum: sha256Base64(block),
    });
    const longBody = await put(once, {
      SnapshotId: id,
      BlockIndex: 6,
      BlockData: Buffer.concat([block, Buffer.from([1])]),
      Checksum: sha256Base64(block),
    });
    const beyond = await put(once, { SnapshotId: id, BlockIndex: 2048 });
    const wrongAlgorithm = await put(once, {
      SnapshotId: id,
      BlockIndex: 6,
      ChecksumAlgorithm: 'MD5' as never,
    });
    const unknown = await put(once, { SnapshotId: 'snap-0123456789abcdef0', BlockIndex: 0 });
    const malformed = await put(once, { SnapshotId: 'snap-xyz', BlockIndex: 0 });
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 2 }));
    await waitSnapshot(env.ec2, id);
    const blocks = await listSnapshotBlocks(ebs, id);

    // Assess
    const validation = (reason: string) => ({
      name: 'ValidationException',
      Reason: reason,
      $metadata: { httpStatusCode: 400 },
    });
    expect(wrongChecksum).toMatchObject({
      ...validation('INVALID_PARAMETER_VALUE'),
      message: 'The checksum of the block data does not match the x-amz-Checksum header.',
    });
    expect(wrongDataLength).toMatchObject(validation('INVALID_PARAMETER_VALUE'));
    expect(shortBody).toMatchObject({
      ...validation('INVALID_PARAMETER_VALUE'),
      message: expect.stringMatching(/^Failed to read block data/) as unknown,
    });
    expect(longBody).toMatchObject(validation('INVALID_PARAMETER_VALUE'));
    expect(beyond).toMatchObject(validation('INVALID_BLOCK'));
    expect(wrongAlgorithm).toMatchObject(validation('INVALID_PARAMETER_VALUE'));
    expect(unknown).toMatchObject({
      name: 'ResourceNotFoundException',
      Reason: 'SNAPSHOT_NOT_FOUND',
      $metadata: { httpStatusCode: 404 },
    });
    expect(malformed).toMatchObject(validation('INVALID_SNAPSHOT_ID'));
    expect(blocks.blocks.map((b) => b.BlockIndex)).toEqual([0, 5]);
    const expected = Buffer.alloc(8 * EBS_BLOCK);
    disk.copy(expected, 0, 0, EBS_BLOCK);
    disk.copy(expected, 5 * EBS_BLOCK, 5 * EBS_BLOCK, 6 * EBS_BLOCK);
    expect(await diskMismatch(await env.sim.readDisk('snapshot', id), expected, GiB)).toBeUndefined();
  });

  it('refuses a block after CompleteSnapshot and leaves the completed snapshot as it was', async () => {
    // Prepare
    const disk = diskWithData();
    const id = await uploadSnapshot(ebs, disk, { volumeSize: 1, blocks: [0, 5] });
    const sealing = await put(once, { SnapshotId: id, BlockIndex: 6, BlockData: blockOf(disk, 6) });
    await waitSnapshot(env.ec2, id);

    // Act
    const late = await put(once, { SnapshotId: id, BlockIndex: 6, BlockData: blockOf(disk, 6) });
    const completeAgain = await ebs.send(
      new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 2 }),
    );

    // Assess
    expect(sealing).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_PARAMETER_VALUE' });
    expect(late).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect(completeAgain.Status).toBe('completed');
    expect((await listSnapshotBlocks(ebs, id)).blocks.map((b) => b.BlockIndex)).toEqual([0, 5]);
    expect((await describeSnapshot(env.ec2, id)).State).toBe('completed');
  });

  it('fails the snapshot (error state, no data) when ChangedBlocksCount or the aggregated checksum is wrong', async () => {
    // Prepare
    const disk = diskWithData();
    const wrongCount = await pendingSnapshot(disk);
    const wrongSum = await pendingSnapshot(disk);
    const rightSum = await pendingSnapshot(disk);
    const linear = sha256Base64([0, 5].map((i) => sha256Base64(blockOf(disk, i))).join(''));

    // Act
    const answered = await ebs.send(
      new CompleteSnapshotCommand({ SnapshotId: wrongCount, ChangedBlocksCount: 3 }),
    );
    await ebs.send(
      new CompleteSnapshotCommand({
        SnapshotId: wrongSum,
        ChangedBlocksCount: 2,
        Checksum: sha256Base64('not it'),
        ChecksumAlgorithm: 'SHA256',
        ChecksumAggregationMethod: 'LINEAR',
      }),
    );
    await ebs.send(
      new CompleteSnapshotCommand({
        SnapshotId: rightSum,
        ChangedBlocksCount: 2,
        Checksum: linear,
        ChecksumAlgorithm: 'SHA256',
        ChecksumAggregationMethod: 'LINEAR',
      }),
    );
    const a = await waitSnapshot(env.ec2, wrongCount);
    const b = await waitSnapshot(env.ec2, wrongSum);
    const c = await waitSnapshot(env.ec2, rightSum);
    const read = await once
      .send(new ListSnapshotBlocksCommand({ SnapshotId: wrongCount }))
      .catch((e: unknown) => e);
    const register = await env.ec2
      .send(
        new RegisterImageCommand({
          Name: 'from-a-failed-snapshot',
          RootDeviceName: '/dev/xvda',
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: wrongCount } }],
          VirtualizationType: 'hvm',
        }),
      )
      .catch((e: unknown) => e);

    // Assess
    expect(answered.Status).toBe('pending');
    // polls see 'pending' first unless the machine was slow enough to miss it; the end is what counts
    expect([['pending', 'error'], ['error']]).toContainEqual(a.seen);
    expect(a.value.StateMessage).toBe(
      'ChangedBlocksCount 3 does not match the 2 blocks written to the snapshot.',
    );
    expect(b.value.State).toBe('error');
    expect(c.value.State).toBe('completed');
    expect(read).toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
    expect(register).toMatchObject({ name: 'IncorrectState' });
    expect(env.sim.resources().snapshots).toContainEqual({ id: wrongCount, state: 'error' });
    await expect(env.sim.readDisk('snapshot', wrongCount)).rejects.toThrow();
    await env.ec2.send(new DeleteSnapshotCommand({ SnapshotId: wrongCount }));
    expect(env.sim.resources().snapshots.find((s) => s.id === wrongCount)).toBeUndefined();
  });

  it('answers reads with AWS errors: pending snapshot, bad block token, unrelated snapshots, missing FirstSnapshotId', async () => {
    // Prepare
    const disk = diskWithData();
    const pending = await pendingSnapshot(disk);
    const one = await uploadSnapshot(ebs, disk, { volumeSize: 1, blocks: [0] });
    const other = await uploadSnapshot(ebs, disk, { volumeSize: 1, blocks: [0] });
    await waitSnapshot(env.ec2, one);
    await waitSnapshot(env.ec2, other);
    const [block] = (await listSnapshotBlocks(ebs, one)).blocks;

    // Act
    const fromPending = await once
      .send(new ListSnapshotBlocksCommand({ SnapshotId: pending }))
      .catch((e) => e);
    const foreignToken = await once
      .send(new GetSnapshotBlockCommand({ SnapshotId: other, BlockIndex: 0, BlockToken: block!.BlockToken! }))
      .catch((e: unknown) => e);
    const forged = await once
      .send(new GetSnapshotBlockCommand({ SnapshotId: one, BlockIndex: 0, BlockToken: 'AAAA' }))
      .catch((e: unknown) => e);
    const unrelated = await once
      .send(new ListChangedBlocksCommand({ FirstSnapshotId: one, SecondSnapshotId: other }))
      .catch((e: unknown) => e);
    const noFirst = await once.send(new ListChangedBlocksCommand({ SecondSnapshotId: one })).catch((e) => e);
    const badPage = await once
      .send(new ListSnapshotBlocksCommand({ SnapshotId: one, NextToken: 'bm90LWEtdG9rZW4=' }))
      .catch((e: unknown) => e);
    const good = await ebs.send(
      new GetSnapshotBlockCommand({ SnapshotId: one, BlockIndex: 0, BlockToken: block!.BlockToken! }),
    );

    // Assess
    expect(fromPending).toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: { httpStatusCode: 404 },
    });
    expect(foreignToken).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_BLOCK_TOKEN' });
    expect(forged).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_BLOCK_TOKEN' });
    expect(unrelated).toMatchObject({ name: 'ValidationException', Reason: 'UNRELATED_SNAPSHOTS' });
    expect(noFirst).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_PARAMETER_VALUE' });
    expect(badPage).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_PAGE_TOKEN' });
    expect(Buffer.from(await good.BlockData!.transformToByteArray()).equals(blockOf(disk, 0))).toBe(true);
  });

  it('validates StartSnapshot: volume size, parent, encryption and Timeout', async () => {
    // Prepare
    const parent = await uploadSnapshot(ebs, diskWithData(), { volumeSize: 2, blocks: [0] });
    await waitSnapshot(env.ec2, parent);
    const before = env.sim.resources().snapshots.length;

    // Act
    const tooSmall = await once.send(new StartSnapshotCommand({ VolumeSize: 0 })).catch((e: unknown) => e);
    const smallerThanParent = await once
      .send(new StartSnapshotCommand({ VolumeSize: 1, ParentSnapshotId: parent }))
      .catch((e: unknown) => e);
    const noParent = await once
      .send(new StartSnapshotCommand({ VolumeSize: 2, ParentSnapshotId: 'snap-0123456789abcdef0' }))
      .catch((e: unknown) => e);
    const encrypted = await once
      .send(new StartSnapshotCommand({ VolumeSize: 1, Encrypted: true }))
      .catch((e) => e);
    const shortTimeout = await once
      .send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 5 }))
      .catch((e) => e);

    // Assess
    expect(tooSmall).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_VOLUME_SIZE' });
    expect(smallerThanParent).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_VOLUME_SIZE' });
    expect(noParent).toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 404 } });
    expect(encrypted).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_PARAMETER_VALUE' });
    expect(shortTimeout).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_PARAMETER_VALUE' });
    expect(env.sim.resources().snapshots.length).toBe(before);
  });

  it('validates RegisterImage and CreateSnapshot like EC2, and RunInstances needs ENA on Nitro types', async () => {
    // Prepare
    const disk = diskWithData();
    const snap = await uploadSnapshot(ebs, disk, { volumeSize: 1, blocks: [0] });
    const pending = await pendingSnapshot(disk);
    await waitSnapshot(env.ec2, snap);
    const mapping = (SnapshotId: string) => [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId } }];

    // Act
    const fromPending = await env.ec2
      .send(
        new RegisterImageCommand({
          Name: 'pending-root',
          RootDeviceName: '/dev/xvda',
          BlockDeviceMappings: mapping(pending),
          VirtualizationType: 'hvm',
        }),
      )
      .catch((e: unknown) => e);
    const noRoot = await env.ec2
      .send(
        new RegisterImageCommand({
          Name: 'no-root',
          BlockDeviceMappings: mapping(snap),
          VirtualizationType: 'hvm',
        }),
      )
      .catch((e: unknown) => e);
    const noEna = await env.ec2.send(
      new RegisterImageCommand({
        Name: 'no-ena',
        RootDeviceName: '/dev/xvda',
        BlockDeviceMappings: mapping(snap),
        VirtualizationType: 'hvm',
      }),
    );
    const nitro = await env.ec2
      .send(
        new RunInstancesCommand({
          ImageId: noEna.ImageId!,
          InstanceType: 't3.micro',
          MinCount: 1,
          MaxCount: 1,
        }),
      )
      .catch((e: unknown) => e);
    const duplicate = await env.ec2
      .send(
        new RegisterImageCommand({
          Name: 'no-ena',
          RootDeviceName: '/dev/xvda',
          BlockDeviceMappings: mapping(snap),
        }),
      )
      .catch((e: unknown) => e);
    const noVolume = await env.ec2
      .send(new CreateSnapshotCommand({ VolumeId: 'vol-0123456789abcdef0' }))
      .catch((e: unknown) => e);
    const badVolume = await env.ec2
      .send(new CreateSnapshotCommand({ VolumeId: 'vol-x' }))
      .catch((e: unknown) => e);

    // Assess
    expect(fromPending).toMatchObject({ name: 'IncorrectState' });
    expect(noRoot).toMatchObject({ name: 'MissingParameter' });
    expect(nitro).toMatchObject({
      name: 'InvalidParameterCombination',
      message: expect.stringContaining('Elastic Network Adapter (ENA) is required') as unknown,
    });
    expect(duplicate).toMatchObject({ name: 'InvalidAMIName.Duplicate' });
    expect(noVolume).toMatchObject({ name: 'InvalidVolume.NotFound' });
    expect(badVolume).toMatchObject({ name: 'InvalidVolumeID.Malformed' });
    expect(env.sim.resources().instances).toEqual([]);
  });

  it('lets the SDK retry throttled and failed EBS calls, and the call log shows them', async () => {
    // Prepare
    const disk = diskWithData();
    const id = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
    env.sim.setFaults({ throttle: { actions: ['PutSnapshotBlock'], count: 2 } });
    const from = env.sim.calls.length;

    // Act
    const retried = await putBlock(ebs, id, disk, 0);
    env.sim.setFaults({ throttle: { actions: ['CompleteSnapshot'], count: 1 } });
    const throttled = await once
      .send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }))
      .catch((e: unknown) => e);
    env.sim.setFaults({ serverError: { actions: ['CompleteSnapshot'], count: 1 } });
    const completed = await ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }));
    env.sim.setFaults({});
    await waitSnapshot(env.ec2, id);

    // Assess
    expect(retried.$metadata.attempts).toBe(3);
    expect(env.sim.calls.slice(from, from + 3).map((c) => `${c.action}:${c.error ?? 'ok'}`)).toEqual([
      'PutSnapshotBlock:RequestThrottledException',
      'PutSnapshotBlock:RequestThrottledException',
      'PutSnapshotBlock:ok',
    ]);
    expect(throttled).toMatchObject({
      name: 'RequestThrottledException',
      Reason: 'ACCOUNT_THROTTLED',
      $metadata: { httpStatusCode: 400 },
    });
    expect(completed.$metadata.attempts).toBe(2);
    expect((await listSnapshotBlocks(ebs, id)).blocks.map((b) => b.BlockIndex)).toEqual([0]);
  });

  it('reads streamed block bodies of any chunking, and refuses one cut short', async () => {
    // Prepare
    const disk = diskWithData();
    const id = (await ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }))).SnapshotId!;
    const data = blockOf(disk, 5);
    // 1-byte chunks, then odd sizes: the SDK sends a stream with chunked transfer encoding
    function* pieces(upTo = data.length) {
      let off = 0;
      for (; off < 2048 && off < upTo; off++) yield data.subarray(off, off + 1);
      for (; off < upTo; off += 33_333) yield data.subarray(off, Math.min(upTo, off + 33_333));
    }

    // Act
    await ebs.send(
      new PutSnapshotBlockCommand({
        SnapshotId: id,
        BlockIndex: 5,
        BlockData: Readable.from(pieces()),
        DataLength: EBS_BLOCK,
        Checksum: sha256Base64(data),
        ChecksumAlgorithm: 'SHA256',
      }),
    );
    const truncated = await once
      .send(
        new PutSnapshotBlockCommand({
          SnapshotId: id,
          BlockIndex: 6,
          BlockData: Readable.from(pieces(EBS_BLOCK - 1000)),
          DataLength: EBS_BLOCK,
          Checksum: sha256Base64(blockOf(disk, 6)),
          ChecksumAlgorithm: 'SHA256',
        }),
      )
      .catch((e: unknown) => e);
    const from = env.sim.calls.length;
    await cutShort(id, 7, blockOf(disk, 6));
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: 1 }));
    await waitSnapshot(env.ec2, id);

    // Assess
    expect(truncated).toMatchObject({ name: 'ValidationException', Reason: 'INVALID_PARAMETER_VALUE' });
    expect(env.sim.calls.slice(from)[0]).toMatchObject({
      action: 'PutSnapshotBlock',
      error: 'ValidationException',
    });
    expect((await listSnapshotBlocks(ebs, id)).blocks.map((b) => b.BlockIndex)).toEqual([5]);
    const expected = Buffer.alloc(6 * EBS_BLOCK);
    data.copy(expected, 5 * EBS_BLOCK);
    expect(await diskMismatch(await env.sim.readDisk('snapshot', id), expected, GiB)).toBeUndefined();
  });
});

/** A PUT announcing a whole block whose connection closes after half of it. */
function cutShort(snapshotId: string, index: number, block: Buffer): Promise<void> {
  const url = new URL(`/snapshots/${snapshotId}/blocks/${index}`, env.sim.url);
  const before = env.sim.calls.length;
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'PUT',
      headers: {
        'content-length': EBS_BLOCK,
        'x-amz-Data-Length': EBS_BLOCK,
        'x-amz-Checksum': sha256Base64(block),
        'x-amz-Checksum-Algorithm': 'SHA256',
      },
    });
    req.on('error', () => resolve());
    req.write(block.subarray(0, EBS_BLOCK / 2), () => {
      // give the server the half block, then drop the connection; it must record a failed call
      const poll = setInterval(() => {
        if (env.sim.calls.length > before) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
      setTimeout(() => req.destroy(), 20);
    });
  });
}
