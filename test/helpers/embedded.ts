/**
 * The embedded deployment for tests: a fresh temporary state directory, waits and retry pauses of
 * 5 ms, a fast AWS simulator, no logs. `close()` stops everything and removes the directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
