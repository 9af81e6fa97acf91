/**
 * Burst-window tests on the embedded deployment: the API called as JSON, the clock moved to an
 * instant with the Scheduler's firings awaited, and waits on a schedule's or a job's progress.
 */
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import type { JobView } from '../../shared/client/types';
import { callApi, type TestGateway } from './embedded';

export type Answer = Awaited<ReturnType<typeof callApi<Record<string, any>>>>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const call = (gw: TestGateway, method: string, path: string, body?: unknown): Promise<Answer> =>
  callApi(gw, method, path, body);

/** Follows the job until `done` holds (polling every 10 ms). */
export const until = (gw: TestGateway, jobId: string, done: (j: JobView) => boolean) =>
  followJob(new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey }), jobId, {
    until: done,
    intervalMs: 10,
  });

/** Moves the clock to `iso` (+ a second) and lets the Scheduler fire what came due. */
export async function advanceTo(gw: TestGateway, iso: string): Promise<void> {
  const ms = Date.parse(iso) + 1000 - gw.clock.now().getTime();
  if (ms > 0) gw.clock.advance(ms);
  await gw.scheduler.idle();
}

/** Polls GET /schedules/{id} until `done` holds (the timer workflow runs after the Scheduler started it). */
export async function untilSchedule(
  gw: TestGateway,
  id: string,
  done: (s: Answer['body']) => boolean,
): Promise<Answer['body']> {
  for (let i = 0; i < 1000; i++) {
    const { body } = await call(gw, 'GET', `/schedules/${id}`);
    if (done(body)) return body;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`schedule ${id} did not get there`);
}

/** `untilSchedule`'s condition: the window opening at `opensAt` is in the schedule's history. */
export const handled = (opensAt: string) => (s: Answer['body']) =>
  (s.occurrences as Array<{ opensAt: string }>).some((o) => o.opensAt === opensAt);

/** The details of a schedule's window events of one detail-type, as EventBridge got them. */
export const windowEvents = (gw: TestGateway, detailType: string, scheduleId: string) =>
  gw.events
    .list({ detailType })
    .map((e) => JSON.parse(String(e.Detail)) as Record<string, unknown>)
    .filter((d) => d.scheduleId === scheduleId);
