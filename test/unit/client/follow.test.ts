import { describe, expect, it } from 'vitest';
import { GatewayClientError } from '../../../shared/client/errors';
import { followJob, type JobSource } from '../../../shared/client/follow';
import type { JobState, JobView } from '../../../shared/client/types';
import { jobView } from '../../helpers/job-view';

/** Answers each poll with the next item: a state, or an error to throw. */
function script(items: Array<JobState | Error>): JobSource & { polls: number } {
  const src = {
    polls: 0,
    async getOffload(): Promise<JobView> {
      const item = items[Math.min(src.polls, items.length - 1)]!;
      src.polls++;
      if (item instanceof Error) throw item;
      return jobView({ state: item, updatedAt: `t${items.indexOf(item)}` });
    },
  };
  return src;
}

describe('followJob', () => {
  it('polls until the condition holds, reporting each change once', async () => {
    const src = script(['inspecting', 'inspecting', 'importing', 'launching', 'running', 'running']);
    const seen: string[] = [];
    const job = await followJob(src, 'job-1', {
      until: (j) => j.state === 'running',
      intervalMs: 1,
      onUpdate: (j, prev) => seen.push(`${prev?.state ?? '-'}>${j.state}`),
    });
    expect(job.state).toBe('running');
    expect(src.polls).toBe(5);
    expect(seen).toEqual([
      '->inspecting',
      'inspecting>importing',
      'importing>launching',
      'launching>running',
    ]);
  });

  it('stops at a terminal state even if the condition never holds', async () => {
    const src = script(['inspecting', 'failed']);
    const job = await followJob(src, 'job-1', { until: (j) => j.state === 'running', intervalMs: 1 });
    expect(job.state).toBe('failed');
  });

  it('tolerates a few transient failures, then gives up', async () => {
    const down = new GatewayClientError('unreachable', 'down');
    const src = script(['inspecting', down, down, 'running']);
    const retries: number[] = [];
    const job = await followJob(src, 'job-1', {
      until: (j) => j.state === 'running',
      intervalMs: 1,
      onRetry: (_e, n) => retries.push(n),
    });
    expect(job.state).toBe('running');
    expect(retries).toEqual([1, 2]);

    const always = script(['inspecting', down]);
    await expect(
      followJob(always, 'job-1', { until: () => false, intervalMs: 1, maxConsecutiveErrors: 3 }),
    ).rejects.toBe(down);
    expect(always.polls).toBe(5); // 1 good + 3 tolerated + the one that gives up
  });

  it('does not retry errors that will not go away', async () => {
    const forbidden = new GatewayClientError('forbidden', 'bad key', { status: 403 });
    await expect(followJob(script([forbidden]), 'job-1', { until: () => false, intervalMs: 1 })).rejects.toBe(
      forbidden,
    );
  });

  it('stops when aborted, and when the timeout passes', async () => {
    const ac = new AbortController();
    const src = script(['importing']);
    const p = followJob(src, 'job-1', { until: () => false, intervalMs: 10, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user stop')), 30);
    await expect(p).rejects.toThrow();
    const err = (await followJob(script(['importing']), 'job-9', {
      until: () => false,
      intervalMs: 10,
      timeoutMs: 30,
    }).catch((e: unknown) => e)) as GatewayClientError;
    expect(err.kind).toBe('timeout');
    expect(err.message).toContain("job job-9 is still 'importing'");
  });
});
