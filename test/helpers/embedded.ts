/**
 * The embedded deployment for tests: a fresh temporary state directory, waits and retry pauses of
 * 5 ms, a fast AWS simulator, no logs. `close()` stops everything and removes the directory.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayClient } from '../../shared/client/api-client';
import { uploadImage } from '../../shared/client/upload';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { startEmbedded, type Embedded, type EmbeddedOptions } from '../../infra/local/embedded';

export type TestGateway = Embedded;

export const FAST_SIM_TIMING = { phaseMs: 5, terminatedVisibleMs: 1_000 } as const;

export async function startTestGateway(opts: Partial<EmbeddedOptions> = {}): Promise<TestGateway> {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'burstgate-test-')));
  const owned = opts.stateDir === undefined;
  const gateway = await startEmbedded({
    waitTimeOverrides: 5,
    retryIntervalOverrides: 5,
    simTiming: FAST_SIM_TIMING,
    quiet: true,
    ...opts,
    stateDir,
  }).catch(async (err: unknown) => {
    if (owned) await rm(stateDir, { recursive: true, force: true });
    throw err;
  });
  const close = gateway.close;
  let closing: Promise<void> | undefined;
  gateway.close = () =>
    (closing ??= (async () => {
      await close();
      if (owned) await rm(stateDir, { recursive: true, force: true });
    })());
  return gateway;
}

/**
 * Creates an offload of `image` (default: the project's sample VM OVA) to simulated AWS and
 * uploads it; returns a client for the gateway and the created job's id.
 */
export async function offloadSample(
  gateway: TestGateway,
  vmName: string,
  image: string = SAMPLE_OVA,
): Promise<{ client: GatewayClient; created: { jobId: string } }> {
  const client = new GatewayClient({ baseUrl: gateway.apiUrl, apiKey: gateway.apiKey });
  const created = await client.createOffload(
    {
      vmName,
      imageFormat: 'ova',
      imageSizeBytes: (await stat(image)).size,
      target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
    },
    randomUUID(),
  );
  await client.completeUpload(created.jobId, await uploadImage(image, created.upload));
  return { client, created: { jobId: created.jobId } };
}
