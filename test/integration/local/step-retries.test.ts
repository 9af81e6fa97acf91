/**
 * A step that dies after the cloud acted but before the job recorded it is retried by Step
 * Functions: the retry must find what the first try made, not fail or make a second one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { followJob } from '../../../shared/client/follow';
import { createGateway } from '../../../shared/domain/gateway';
import { startExport } from '../../../shared/domain/workflow/aws-import';
import { offloadSample, startTestGateway, type TestGateway } from '../../helpers/embedded';

let tg: TestGateway;
beforeAll(async () => {
  tg = await startTestGateway();
});
afterAll(async () => {
  await tg?.close();
});

describe('StartExport retried after the export task was created', () => {
  it('adopts the export task the first try created', async () => {
    // Prepare: a running VM, stopped outside the return workflow
    const { client: client, created } = await offloadSample(tg, 'export-retry');
    const running = await followJob(client, created.jobId, {
      until: (j) => ['running', 'failed'].includes(j.state),
      intervalMs: 10,
    });
    expect(running.state, running.error?.detail).toBe('running');
    const instanceId = running.cloud.instanceId!;
    const ec2 = tg.deps.ec2For('us-east-1');
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    for (let i = 0; i < 500; i++) {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      if (out.Reservations?.[0]?.Instances?.[0]?.State?.Name === 'stopped') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const gw = createGateway(tg.deps);
    const cloudFor = gw.cloudFor;
    let firstTaskId: string | undefined;
    gw.cloudFor = (target) => {
      const cloud = cloudFor(target);
      return {
        ...cloud,
        remove: (r) => cloud.remove(r),
        startExport: async (job, bucket, prefix) => {
          const made = await cloud.startExport(job, bucket, prefix);
          firstTaskId = made.id;
          throw Object.assign(new Error('Task timed out'), { name: 'Sandbox.Timedout' });
        },
      };
    };
    await expect(startExport(gw, created.jobId)).rejects.toThrow('Task timed out');
    gw.cloudFor = cloudFor;
    // Act: the retry
    const retried = await startExport(gw, created.jobId);
    // Assess
    expect(firstTaskId).toBeDefined();
    expect(retried.exportTaskId).toBe(firstTaskId);
  });
});
