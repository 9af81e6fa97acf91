/** A restart of the embedded deployment continues the jobs whose workflow it cut off. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { GatewayClient } from '../../../shared/client/api-client';
import { uploadImage } from '../../../shared/client/upload';
import { followJob } from '../../../shared/client/follow';
import { SAMPLE_OVA } from '../../../infra/local/demo';
import { startTestGateway, type TestGateway } from '../../helpers/embedded';

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
    const client1 = new GatewayClient({ baseUrl: first.apiUrl, apiKey: first.apiKey });
    const size = (await stat(SAMPLE_OVA)).size;
    const created = await client1.createOffload(
      {
        vmName: 'resume-me',
        imageFormat: 'ova',
        imageSizeBytes: size,
        target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
      },
      randomUUID(),
    );
    await client1.completeUpload(created.jobId, await uploadImage(SAMPLE_OVA, created.upload));
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
});
