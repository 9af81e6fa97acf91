/** DELETE while the cloud is still importing: the execution stops and the import task is cancelled. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilCancelEnded } from '../helpers/cancel';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { JobStore } from '../../shared/store/job-store';
import { offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';

let gw: TestGateway;
let client: GatewayClient;
beforeAll(async () => {
  // Imports take a minute per phase here, so the job is surely still importing when cancelled.
  gw = await startTestGateway({ simTiming: { phaseMs: 5, importPhaseMs: 60_000 } });
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
});
afterAll(async () => {
  await gw?.close();
});

describe('cancel during import', () => {
  it('stops the workflow, cancels the import task and leaves nothing behind', async () => {
    // Prepare
    const { created } = await offloadSample(gw, 'cancel-me');
    const importing = await followJob(client, created.jobId, {
      until: (j) => j.state === 'importing' && !!j.cloud.importTaskId,
      intervalMs: 10,
    });
    // Act
    const answer = await client.cancel(created.jobId);
    const job = await untilCancelEnded(client, created.jobId);
    // Assess
    expect(answer.state).toBe('cancelling');
    expect(job.state).toBe('cancelled');
    expect(job.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(gw.sim.calls.some((c) => c.action === 'CancelImportTask')).toBe(true);
    const stored = await new JobStore(gw.deps.ddb, gw.deps.config.jobsTable).get(importing.jobId);
    const execution = await gw.deps.sfn.send(
      new DescribeExecutionCommand({ executionArn: stored.execution!.offloadArn! }),
    );
    expect(execution.status).toBe('ABORTED');
    const cancel = await gw.deps.sfn.send(
      new DescribeExecutionCommand({ executionArn: stored.execution!.cancelArn! }),
    );
    expect(cancel).toMatchObject({ status: 'SUCCEEDED', name: `${created.jobId}-cancel-1` });
    // The cloud is still deleting the cancelled task (a phase lasts a minute here); nothing else is left.
    const left = gw.sim.resources();
    expect(left.importTasks.map((t) => t.state)).toEqual(['deleting']);
    expect([...left.images, ...left.snapshots, ...left.instances, ...left.exportTasks]).toEqual([]);
  });
});
