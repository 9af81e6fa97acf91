/**
 * Polls a job until a condition holds. Transient failures (gateway unreachable for a moment, 5xx)
 * are tolerated up to a limit; a job in a terminal state ends the wait even if `until` does not
 * accept it, since nothing will change any more.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TERMINAL_STATES } from '../domain/job';
import { GatewayClientError } from './errors';
import type { JobView } from './types';

/** What followJob needs of the client (GatewayClient has it). */
export interface JobSource {
  getOffload(jobId: string): Promise<JobView>;
}

export interface FollowOptions {
  /** Stop when this holds (a terminal state stops too). */
  until: (job: JobView) => boolean;
  /** Between polls (default 2 s). */
  intervalMs?: number;
  /** Called with the first view and then whenever the job changed (state, steps or updatedAt). */
  onUpdate?: (job: JobView, previous: JobView | undefined) => void;
  signal?: AbortSignal;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
  /** Consecutive transient failures tolerated before giving up (default 5). */
  maxConsecutiveErrors?: number;
  /** Called on each tolerated failure. */
  onRetry?: (err: GatewayClientError, consecutive: number) => void;
}

/**
 * A cancel has ended: the job is `cancelled`, or its cancel workflow gave up (`cleanup-incomplete`
 * names what is left; a new DELETE tries again).
 */
export const cancelEnded = (job: JobView): boolean =>
  job.state === 'cancelled' || job.error?.type === 'cleanup-incomplete';

export async function followJob(client: JobSource, jobId: string, opts: FollowOptions): Promise<JobView> {
  const interval = opts.intervalMs ?? 2000;
  const maxErrors = opts.maxConsecutiveErrors ?? 5;
  const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;
  let previous: JobView | undefined;
  let errors = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    let job: JobView | undefined;
    try {
      job = await client.getOffload(jobId);
      errors = 0;
    } catch (err) {
      if (!(err instanceof GatewayClientError) || !err.transient || ++errors > maxErrors) throw err;
      opts.onRetry?.(err, errors);
    }
    if (job) {
      if (!previous || changed(previous, job)) {
        opts.onUpdate?.(job, previous);
        previous = job;
      }
      if (opts.until(job) || TERMINAL_STATES.has(job.state)) return job;
    }
    if (Date.now() + interval > deadline) {
      throw new GatewayClientError(
        'timeout',
        `job ${jobId} is still '${previous?.state ?? 'unknown'}' after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s; ` +
          `it goes on without us: check it with \`burstgate status ${jobId}\``,
      );
    }
    await sleep(interval, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}

function changed(a: JobView, b: JobView): boolean {
  return (
    a.state !== b.state ||
    a.updatedAt !== b.updatedAt ||
    a.steps.length !== b.steps.length ||
    a.activeStep?.name !== b.activeStep?.name
  );
}
