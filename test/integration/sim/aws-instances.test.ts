import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeAll, describe, expect, it } from 'vitest';

import { diskFromBuffer, hashDisk } from '../../../shared/images/extents';
import { importRawDisk, runInstance, useSimEnv } from '../../helpers/aws-sim';
import { describeInstance, gptDisk, waitInstanceState } from '../../helpers/aws-sim-env';

// a slower boot leaves room to act on a pending instance
const env = useSimEnv({ timing: { phaseMs: 20, instanceStartMs: 250, terminatedVisibleMs: 60_000 } });
let imageId: string;
let source: Buffer;

beforeAll(async () => {
  source = gptDisk();
  imageId = (await importRawDisk(env, 'boot.raw', source)).ImageId!;
});

describe('AWS simulator: instances', () => {
  it('runs an instance from an imported AMI on its own copy of the disk, stops it and terminates it', async () => {
    // Act
    const run = await env.ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'burst-1' }] }],
      }),
    );
    const id = run.Instances![0]!.InstanceId!;
    const running = await waitInstanceState(env.ec2, id, 'running');
    const stop = await env.ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    const stopped = await waitInstanceState(env.ec2, id, 'stopped');
    const disk = await hashDisk(await env.sim.readDisk('instance', id));
    const terminate = await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    const terminated = await waitInstanceState(env.ec2, id, 'terminated');

    // Assess
    expect(run.ReservationId).toMatch(/^r-[0-9a-f]{17}$/);
    expect(id).toMatch(/^i-[0-9a-f]{17}$/);
    expect(run.Instances![0]!.State).toEqual({ Code: 0, Name: 'pending' });
    expect(run.Instances![0]!.Tags).toEqual([{ Key: 'Name', Value: 'burst-1' }]);
    expect(running.seen[running.seen.length - 1]).toBe('running');
    expect(running.value.ImageId).toBe(imageId);
    expect(running.value.InstanceType).toBe('t3.micro');
    expect(running.value.LaunchTime).toBeInstanceOf(Date);
    expect(running.value.BlockDeviceMappings?.[0]?.Ebs?.VolumeId).toMatch(/^vol-[0-9a-f]{17}$/);
    expect(stop.StoppingInstances?.[0]).toMatchObject({
      InstanceId: id,
      PreviousState: { Code: 16, Name: 'running' },
      CurrentState: { Code: 64, Name: 'stopping' },
    });
    expect(stopped.value.StateReason?.Code).toBe('Client.UserInitiatedShutdown');
    expect(disk).toEqual(await hashDisk(diskFromBuffer(source)));
    expect(terminate.TerminatingInstances?.[0]?.CurrentState?.Name).toBe('shutting-down');
    expect(terminated.value.State).toEqual({ Code: 48, Name: 'terminated' });
    expect(env.sim.resources().instances.find((i) => i.id === id)).toBeUndefined();
    await expect(env.sim.readDisk('instance', id)).rejects.toThrow(/no live instance/);
  });

  it('answers unknown and malformed instance ids like EC2', async () => {
    const missing = 'i-0123456789abcdef0';
    await expect(
      env.ec2.send(new DescribeInstancesCommand({ InstanceIds: [missing] })),
    ).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      message: `The instance ID '${missing}' does not exist`,
    });
    await expect(env.ec2.send(new StopInstancesCommand({ InstanceIds: ['i-xyz'] }))).rejects.toMatchObject({
      name: 'InvalidInstanceID.Malformed',
    });
    await expect(
      env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [missing] })),
    ).rejects.toMatchObject({
      name: 'InvalidInstanceID.NotFound',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('refuses transitions from the wrong state', async () => {
    // Prepare
    const id = await runInstance(env.ec2, imageId);

    // Act
    const stopWhilePending = await env.ec2
      .send(new StopInstancesCommand({ InstanceIds: [id] }))
      .catch((e: unknown) => e);
    await waitInstanceState(env.ec2, id, 'running');
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    const startWhileTerminating = await env.ec2
      .send(new StartInstancesCommand({ InstanceIds: [id] }))
      .catch((e: unknown) => e);
    await waitInstanceState(env.ec2, id, 'terminated');
    const stopTerminated = await env.ec2
      .send(new StopInstancesCommand({ InstanceIds: [id] }))
      .catch((e: unknown) => e);

    // Assess
    expect(stopWhilePending).toMatchObject({
      name: 'IncorrectInstanceState',
      message: `The instance '${id}' is not in a state from which it can be stopped.`,
    });
    expect(startWhileTerminating).toMatchObject({ name: 'IncorrectInstanceState' });
    expect(stopTerminated).toMatchObject({ name: 'IncorrectInstanceState' });
    expect((await describeInstance(env.ec2, id)).InstanceType).toBe('m1.small');
  });

  it('validates the AMI and the instance type', async () => {
    await expect(
      env.ec2.send(new RunInstancesCommand({ ImageId: 'ami-0123456789abcdef0', MinCount: 1, MaxCount: 1 })),
    ).rejects.toMatchObject({ name: 'InvalidAMIID.NotFound' });
    await expect(
      env.ec2.send(new RunInstancesCommand({ ImageId: 'ami-bogus', MinCount: 1, MaxCount: 1 })),
    ).rejects.toMatchObject({ name: 'InvalidAMIID.Malformed' });
    await expect(
      env.ec2.send(
        new RunInstancesCommand({
          ImageId: imageId,
          InstanceType: 'x9.huge' as never,
          MinCount: 1,
          MaxCount: 1,
        }),
      ),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValue',
      message: 'The following supplied instance types do not exist: [x9.huge]',
    });
    await expect(
      env.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 2, MaxCount: 1 })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' });
  });

  it('launches MaxCount instances and honours ClientToken idempotency', async () => {
    // Act
    const input = { ImageId: imageId, MinCount: 1, MaxCount: 2, ClientToken: 'launch-1' };
    const first = await env.ec2.send(new RunInstancesCommand(input));
    const second = await env.ec2.send(new RunInstancesCommand(input));
    const mismatch = env.ec2.send(new RunInstancesCommand({ ...input, MaxCount: 3 }));

    // Assess
    expect(first.Instances).toHaveLength(2);
    expect(first.Instances!.map((i) => i.AmiLaunchIndex)).toEqual([0, 1]);
    expect(second.ReservationId).toBe(first.ReservationId);
    expect(second.Instances!.map((i) => i.InstanceId)).toEqual(first.Instances!.map((i) => i.InstanceId));
    await expect(mismatch).rejects.toMatchObject({ name: 'IdempotentParameterMismatch' });
    const ids = first.Instances!.map((i) => i.InstanceId!);
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  });

  it('tags instances and filters on tags and state', async () => {
    // Prepare
    const id = await runInstance(env.ec2, imageId);

    // Act
    await env.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'job', Value: 'j-42' }] }));
    const byTag = await env.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:job', Values: ['j-42'] }] }),
    );
    const byOtherTag = await env.ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'tag:job', Values: ['j-43'] }] }),
    );
    await env.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitInstanceState(env.ec2, id, 'terminated');
    const live = await env.ec2.send(
      new DescribeInstancesCommand({
        Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }],
      }),
    );

    // Assess
    expect(byTag.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId))).toEqual([id]);
    expect(byOtherTag.Reservations).toEqual([]);
    expect(live.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId)).not.toContain(id);
    expect(env.sim.resources().instances).toEqual([]);
  });
});
