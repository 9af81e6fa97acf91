/** A restart of the embedded deployment continues the jobs whose workflow it cut off. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayClient } from '../../../shared/client/api-client';
import { followJob } from '../../../shared/client/follow';
import { JobStore } from '../../../shared/store/job-store';
import { newJobId } from '../../../shared/domain/ids';
import { untilCancelEnded } from '../../helpers/cancel';
import { liveSimResources, offloadSample, startTestGateway, type TestGateway } from '../../helpers/embedded';

let gateways: TestGateway[] = [];
let stateDir: string | undefined;
afterEach(async () => {
  for (const g of gateways) await g.close();
  gateways = [];
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('restart', () => {
  it('resumes an offload that was importing when the deployment stopped', async () => {
    // Prepare: a slow import, stopped half-way
    stateDir = await mkdtemp(join(tmpdir(), 'bg-resume-'));
    const first = await startTestGateway({ stateDir, simTiming: { phaseMs: 5, importPhaseMs: 60_000 } });
    gateways.push(first);
    const { client: client1, created } = await offloadSample(first, 'resume-me');
    await followJob(client1, created.jobId, { until: (j) => j.state === 'importing', intervalMs: 10 });
    await first.close();
    gateways = [];

    // Act: start again on the same state, with a fast simulator
    const second = await startTestGateway({ stateDir });
    gateways.push(second);
    const client2 = new GatewayClient({ baseUrl: second.apiUrl, apiKey: second.apiKey });
    const job = await followJob(client2, created.jobId, {
      until: (j) => ['running', 'failed'].includes(j.state),
      intervalMs: 20,
    });

    // Assess: the same import task carried on (no second import), the VM runs
    expect(job.state, job.error?.detail).toBe('running');
    expect(job.resources.filter((r) => r.type === 'import-task')).toHaveLength(1);
    expect(second.apiKey).toBe(first.apiKey);
  });

  it('starts even when one interrupted job cannot be finished', async () => {
    // Prepare: a cancel cut off half-way, on a resource the cloud refuses to remove
    stateDir = await mkdtemp(join(tmpdir(), 'bg-resume-'));
    const first = await startTestGateway({ stateDir });
    const now = new Date().toISOString();
    const jobId = newJobId();
    await new JobStore(first.deps.ddb, first.deps.config.jobsTable).create({
      jobId,
      vmName: 'stuck',
      state: 'cancelling',
      target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
      createdAt: now,
      updatedAt: now,
      version: 1,
      image: {
        format: 'raw',
        bucket: first.deps.config.stagingBucket,
        key: `staging/${jobId}/x.img`,
        sizeBytes: 1,
      },
      resources: [{ type: 'instance', id: 'i-not-a-valid-id', location: 'us-east-1', createdAt: now }],
      steps: [],
      bytes: { uploaded: 0 },
      cloud: {},
    });
    await first.close();

    // Act
    const second = await startTestGateway({ stateDir });
    gateways.push(second);

    // Assess: the gateway serves; the resumed cancel gave up and the job says what is left to do
    const client = new GatewayClient({ baseUrl: second.apiUrl, apiKey: second.apiKey });
    const job = await untilCancelEnded(client, jobId);
    expect(job.state).toBe('cancelling');
    expect(job.error).toMatchObject({ type: 'cleanup-incomplete' });
    expect(job.error?.detail).toContain('instance i-not-a-valid-id');
  });

  it('finishes a cancel that the stop cut off', async () => {
    // Prepare: a running VM; the deployment stops after the DELETE marked the job, before its
    // cancel workflow ran
    stateDir = await mkdtemp(join(tmpdir(), 'bg-resume-'));
    const first = await startTestGateway({ stateDir });
    gateways.push(first);
    const { client: client1, created } = await offloadSample(first, 'cancel-cut-off');
    const running = await followJob(client1, created.jobId, {
      until: (j) => ['running', 'failed'].includes(j.state),
      intervalMs: 10,
    });
    expect(running.state, running.error?.detail).toBe('running');
    const store = new JobStore(first.deps.ddb, first.deps.config.jobsTable);
    await store.update(created.jobId, (j) => {
      j.state = 'cancelling';
      j.cancelledBy = 'api';
      j.execution = { ...j.execution, cancelAttempts: 1 };
    });
    await first.close();
    gateways = [];

    // Act
    const second = await startTestGateway({ stateDir });
    gateways.push(second);
    const client2 = new GatewayClient({ baseUrl: second.apiUrl, apiKey: second.apiKey });
    const ended = await untilCancelEnded(client2, created.jobId);

    // Assess: the cancel workflow ran after the restart and removed everything
    expect(ended.state, ended.error?.detail).toBe('cancelled');
    expect(ended.resources.filter((r) => !r.removedAt)).toEqual([]);
    expect(await liveSimResources(second)).toEqual([]);
  });
});
