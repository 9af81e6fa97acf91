/**
 * DELETE at the moments when the cloud has made something the job has not recorded yet: the
 * cancel must still leave nothing behind in the cloud.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { untilCancelEnded } from '../helpers/cancel';
import { followJob } from '../../shared/client/follow';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DeregisterImageCommand, RegisterImageCommand } from '@aws-sdk/client-ec2';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { JobStore } from '../../shared/store/job-store';
import {
  AWS_TARGET,
  liveSimResources,
  offloadSample,
  startTestGateway,
  type TestGateway,
} from '../helpers/embedded';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

describe('cancel leaves nothing behind', () => {
  it('removes the AMI and snapshots of an import that completed before CheckImport saw it', async () => {
    // Prepare: the import finishes quickly, but the workflow waits a minute before checking it
    gw = await startTestGateway({ waitTimeOverrides: { WaitForImport: 60_000 } });
    const { client: client, created } = await offloadSample(gw, 'cancel-after-import');
    await followJob(client, created.jobId, {
      until: (j) => j.state === 'importing' && !!j.cloud.importTaskId,
      intervalMs: 10,
    });
    const sim = gw.sim;
    for (let i = 0; i < 500 && sim.resources().images.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(sim.resources().images).toHaveLength(1);

    // Act
    const answer = await client.cancel(created.jobId);
    const ended = await untilCancelEnded(client, created.jobId);

    // Assess: the job never recorded the AMI, yet the cloud holds nothing of it
    expect(answer.state).toBe('cancelling');
    expect(ended.state).toBe('cancelled');
    expect(await liveSimResources(gw)).toEqual([]);
  });

  it('cancels an export under way, so no exported image lands in the bucket after the job is gone', async () => {
    // Prepare: a running VM whose export takes a minute
    gw = await startTestGateway({ simTiming: { phaseMs: 5, exportMs: 60_000 } });
    const { client: client, created } = await offloadSample(gw, 'cancel-during-export');
    const running = await followJob(client, created.jobId, {
      until: (j) => ['running', 'failed'].includes(j.state),
      intervalMs: 10,
    });
    expect(running.state, running.error?.detail).toBe('running');
    await client.startReturn(created.jobId);
    await followJob(client, created.jobId, {
      until: (j) => !!j.cloud.exportTaskId || j.state !== 'returning',
      intervalMs: 10,
    });

    // Act
    const answer = await client.cancel(created.jobId);
    const ended = await untilCancelEnded(client, created.jobId);

    // Assess: the export was cancelled (cancelling lasts a minute here); nothing else is left
    expect(answer.state).toBe('cancelling');
    expect(ended.state).toBe('cancelled');
    expect(gw.sim.calls.some((c) => c.action === 'CancelExportTask')).toBe(true);
    const left = gw.sim.resources();
    expect(left.exportTasks.map((t) => t.state)).toEqual(['cancelling']);
  });

  it('removes the image of an export that completed before CheckExport saw it', async () => {
    // Prepare: the export finishes quickly, but the workflow waits a minute before checking it
    gw = await startTestGateway({ waitTimeOverrides: { WaitForExport: 60_000 } });
    const g = gw;
    const { client: client, created } = await offloadSample(g, 'cancel-after-export');
    const running = await followJob(client, created.jobId, {
      until: (j) => ['running', 'failed'].includes(j.state),
      intervalMs: 10,
    });
    expect(running.state, running.error?.detail).toBe('running');
    await client.startReturn(created.jobId);
    const returned = async () =>
      (
        await g.deps.s3.send(
          new ListObjectsV2Command({
            Bucket: g.deps.config.stagingBucket,
            Prefix: `returns/${created.jobId}/`,
          }),
        )
      ).KeyCount ?? 0;
    for (let i = 0; i < 500 && (await returned()) === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await returned()).toBe(1);
    for (let i = 0; i < 500 && g.sim.resources().exportTasks.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }

    // Act
    const answer = await client.cancel(created.jobId);
    const ended = await untilCancelEnded(client, created.jobId);

    // Assess: the job never recorded the exported image, yet the bucket holds nothing of it
    expect(answer.state).toBe('cancelling');
    expect(ended.state).toBe('cancelled');
    expect(await returned()).toBe(0);
  });
});

describe('a cancel the cloud refuses for a while', () => {
  it('gives up with cleanup-incomplete naming what is left, and a second DELETE finishes the job', async () => {
    // Prepare: a running VM whose imported snapshot someone else registered an AMI from
    gw = await startTestGateway({});
    const { client, created } = await offloadSample(gw, 'cancel-snapshot-in-use');
    const running = await followJob(client, created.jobId, {
      until: (j) => ['running', 'failed'].includes(j.state),
      intervalMs: 10,
    });
    expect(running.state, running.error?.detail).toBe('running');
    const snapshotId = running.resources.find((r) => r.type === 'snapshot' && !r.removedAt)?.id;
    expect(snapshotId).toBeDefined();
    const ec2 = gw.deps.ec2For(AWS_TARGET.region);
    const foreign = await ec2.send(
      new RegisterImageCommand({
        Name: 'someone-elses-copy',
        Architecture: 'x86_64',
        VirtualizationType: 'hvm',
        RootDeviceName: '/dev/sda1',
        BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: snapshotId } }],
      }),
    );

    // Act: AWS refuses to delete a snapshot an AMI uses, through every retry of the cancel workflow
    const first = await client.cancel(created.jobId);
    const stuck = await untilCancelEnded(client, created.jobId);
    await ec2.send(new DeregisterImageCommand({ ImageId: foreign.ImageId }));
    const again = await client.cancel(created.jobId);
    const done = await untilCancelEnded(client, created.jobId);

    // Assess: the first attempt removed all it could and said what is left; the second the rest
    expect(first.state).toBe('cancelling');
    expect(stuck.state).toBe('cancelling');
    expect(stuck.error).toMatchObject({ type: 'cleanup-incomplete', step: 'cancel' });
    expect(stuck.error?.detail).toContain(`snapshot ${snapshotId}`);
    // the completed import task is removed with the snapshots it made, so it stays too
    const left = stuck.resources.filter((r) => !r.removedAt).map((r) => r.type);
    expect(left.sort()).toEqual(['import-task', 'snapshot']);
    expect(again.state).toBe('cancelling');
    expect(done.state).toBe('cancelled');
    expect(done.error).toBeUndefined();
    expect(await liveSimResources(gw)).toEqual([]);
    const stored = await new JobStore(gw.deps.ddb, gw.deps.config.jobsTable).get(created.jobId);
    expect(stored.execution).toMatchObject({ cancelAttempts: 2 });
    expect(stored.execution?.cancelArn).toMatch(new RegExp(`:${created.jobId}-cancel-2$`));
    const gaveUp = await gw.deps.sfn.send(
      new DescribeExecutionCommand({ executionArn: stored.execution!.cancelArn!.replace(/-2$/, '-1') }),
    );
    expect(gaveUp).toMatchObject({ status: 'FAILED', error: 'CancelIncomplete' });
  });
});
