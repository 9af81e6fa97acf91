/**
 * A burst window whose VM comes from the image cache (`source: "image-cache"`), on the embedded
 * deployment with its clock moved forward: a direct AWS offload of the VM runs and comes home,
 * leaving its snapshot and AMI in the cache; at the window's prestage time the gateway creates the
 * window's job itself, with an empty delta against the cached snapshot that it writes and
 * completes, so the on-prem side uploads nothing and no block goes into EBS; the job waits staged,
 * launches at the opening and is home before the closing; the simulator keeps only what the cache owns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalClock } from '../../infra/local/clock';
import { OFFLOAD_STATE_MACHINE_NAME } from '../../infra/constructs/names';
import { DELTA_HEADER_BYTES, DELTA_TRAILER_BYTES } from '../../shared/images/delta-format';
import { callsSince } from '../helpers/aws-sim';
import { AWS_TARGET, offloadSample, startTestGateway, type TestGateway } from '../helpers/embedded';
import { advanceTo, call, until, untilSchedule, windowEvents } from '../helpers/windows';

const SEC = 1000;
const MIN = 60 * SEC;
const DIRECT = { ...AWS_TARGET, mode: 'direct' } as const;
const REGION = AWS_TARGET.region;
const VM = 'cached-batch';
/** An empty delta is the format's header and trailer and nothing else. */
const EMPTY_DELTA_BYTES = DELTA_HEADER_BYTES + DELTA_TRAILER_BYTES;

/**
 * The job's offload execution, once it has ended. A job is `running` before its last step
 * (MarkRunning) has set the lease's timers again: moving the clock past them before that races the
 * Scheduler, which fires and deletes a timer the step is about to update.
 */
async function offloadFinished(gw: TestGateway, jobId: string) {
  const execution = gw.stepFunctions
    .listExecutions()
    .find((e) => e.stateMachineName === OFFLOAD_STATE_MACHINE_NAME && e.name.startsWith(jobId));
  if (!execution) throw new Error(`no offload execution of ${jobId}`);
  return gw.stepFunctions.waitForExecution(execution.executionArn);
}

/** The ids of every resource the simulator holds, once they are `expected` (bounded wait for deletions under way). */
async function simLeft(gw: TestGateway, expected: string[]): Promise<string[]> {
  const want = JSON.stringify([...expected].sort());
  let ids: string[] = [];
  for (let i = 0; i < 100; i++) {
    ids = Object.values(gw.sim.resources())
      .flat()
      .map((r) => r.id)
      .sort();
    if (JSON.stringify(ids) === want) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return ids;
}

describe('a window of an image-cache VM', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      azure: false,
      clock: new LocalClock({ start: new Date('2027-10-20T08:00:00Z') }),
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('is staged by the gateway from the cached snapshot with nothing uploaded, launches at the opening and is home before the closing', async () => {
    // Prepare: a direct offload of the VM runs and comes home; its snapshot and AMI stay cached
    const { client, created } = await offloadSample(gw, VM, undefined, DIRECT);
    const first = await until(gw, created.jobId, (j) => ['running', 'failed', 'cancelled'].includes(j.state));
    await client.startReturn(first.jobId);
    const firstHome = await until(gw, first.jobId, (j) => ['returned', 'return-failed'].includes(j.state));
    const cached = await call(gw, 'GET', `/image-cache/${REGION}/${VM}`);
    const scheduled = await call(gw, 'POST', '/schedules', {
      name: 'cached-friday',
      vms: [{ vmName: VM, target: DIRECT, source: 'image-cache' }],
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
      duration: 'PT12H',
      prestage: { lead: 'PT2H', margin: 'PT15M' },
    });
    const id = scheduled.body.scheduleId as string;
    const window = scheduled.body.next[0] as Record<string, string>;
    const callsBefore = gw.sim.calls.length;

    // Act: the prestage opens (the Scheduler fires it); nobody uploads
    await advanceTo(gw, window.prestageAt!);
    const prestaged = await untilSchedule(gw, id, (s) =>
      (s.occurrences as Array<{ opensAt: string; jobs: unknown[] }>).some(
        (o) => o.opensAt === window.opensAt && o.jobs.length > 0,
      ),
    );
    const jobId = prestaged.occurrences[0].jobs[0].jobId as string;
    const staged = await until(gw, jobId, (j) =>
      ['staged', 'running', 'failed', 'cancelled'].includes(j.state),
    );
    const stagedAt = gw.clock.now().toISOString();
    const stagingCalls = gw.sim.calls.slice(callsBefore).map((c) => c.action);
    const askedToUpload = await call(gw, 'POST', `/schedules/${id}/prestage`, {
      vmName: VM,
      imageFormat: 'ova',
      imageSizeBytes: 1024,
    });
    await advanceTo(gw, window.opensAt!);
    await until(gw, jobId, (j) => ['running', 'failed', 'cancelled'].includes(j.state));
    const offload = await offloadFinished(gw, jobId);
    const running = await client.getOffload(jobId); // its lease planned again now that it runs
    await advanceTo(gw, running.returnPlan!.startAt);
    const home = await until(
      gw,
      jobId,
      (j) => (j.state === 'returned' && j.deadline !== undefined) || j.state === 'return-failed',
    );
    const cachedAfter = await call(gw, 'GET', `/image-cache/${REGION}/${VM}`);
    const left = await simLeft(gw, [cached.body.snapshotId, cached.body.amiId]);
    const deleted = await call(gw, 'DELETE', `/schedules/${id}`);
    const gone = await call(gw, 'GET', `/schedules/${id}`);

    // Assess: the cache holds the first offload's image
    expect(first.state, first.error?.detail).toBe('running');
    expect(firstHome.state, firstHome.error?.detail).toBe('returned');
    expect(cached.status).toBe(200);
    expect(cached.body).toMatchObject({
      snapshotId: first.cloud.baseSnapshotId,
      amiId: first.cloud.amiId,
      diskSha256: first.image.diskSha256,
      capacityBytes: first.image.diskCapacityBytes,
      jobId: first.jobId,
    });
    expect(cached.body.snapshotId).toMatch(/^snap-/);
    expect(scheduled.status).toBe(201);
    expect(window).toMatchObject({
      opensAt: '2027-10-22T16:00:00.000Z',
      opensAtLocal: '2027-10-22T18:00:00+02:00',
      closesAt: '2027-10-23T04:00:00.000Z',
      prestageAt: '2027-10-22T14:00:00.000Z',
    });

    // Assess: the window's job, made and staged by the gateway from the cache before the opening
    expect(prestaged.occurrences[0]).toMatchObject({
      opensAt: window.opensAt,
      status: 'prestaged',
      jobs: [{ vmName: VM, jobId }],
    });
    expect(windowEvents(gw, 'Window Prestage', id)).toEqual([
      expect.objectContaining({ opensAt: window.opensAt, uploads: [] }),
    ]);
    expect(staged.state, staged.error?.detail).toBe('staged');
    expect(Date.parse(stagedAt)).toBeLessThan(Date.parse(window.opensAt!));
    expect(Date.parse(staged.updatedAt)).toBeLessThan(Date.parse(window.opensAt!));
    expect(staged.window).toMatchObject({
      scheduleId: id,
      scheduleName: 'cached-friday',
      opensAt: window.opensAt,
      closesAt: window.closesAt,
    });
    expect(staged.launch).toMatchObject({ mode: 'at', at: window.opensAt });
    expect(staged.launch?.releasedAt).toBeUndefined();
    expect(staged.lease).toMatchObject({ returnBy: window.closesAt, expiresAt: window.closesAt });
    // an empty delta against the cached disk, the gateway's own one-part upload
    expect(staged.image).toMatchObject({
      format: 'delta',
      sizeBytes: EMPTY_DELTA_BYTES,
      diskSha256: cached.body.diskSha256,
      diskCapacityBytes: cached.body.capacityBytes,
      delta: {
        baseSha256: cached.body.diskSha256,
        baseCapacity: cached.body.capacityBytes,
        extents: 0,
        dataBytes: 0,
        zeroBytes: 0,
      },
    });
    expect(staged.bytes).toMatchObject({
      uploaded: EMPTY_DELTA_BYTES,
      blocksUploaded: 0,
      ebsBytesWritten: 0,
      blocksSkipped: cached.body.blocks,
    });
    expect(staged.steps.find((s) => s.name === 'upload')?.detail).toBe(
      `${EMPTY_DELTA_BYTES} bytes in 1 part(s)`,
    );
    // the cached snapshot and AMI launched as they are: nothing put, registered or imported
    expect(staged.cloud).toMatchObject({
      imageCache: { outcome: 'reused', snapshotId: cached.body.snapshotId, fromJobId: first.jobId },
      baseSnapshotId: cached.body.snapshotId,
      amiId: cached.body.amiId,
    });
    expect(
      staged.resources
        .filter((r) => r.imageCache)
        .map((r) => r.id)
        .sort(),
    ).toEqual([cached.body.snapshotId, cached.body.amiId].sort());
    for (const action of [
      'StartSnapshot',
      'PutSnapshotBlock',
      'RegisterImage',
      'ImportImage',
      'RunInstances',
    ])
      expect(
        stagingCalls.filter((a) => a === action),
        action,
      ).toEqual([]);
    // and the on-prem side has nothing to upload for it
    expect(askedToUpload.status).toBe(400);
    expect(askedToUpload.body.errors).toEqual([expect.objectContaining({ path: 'vmName' })]);

    // Assess: launched at the opening (its timer), staged in time (no at-risk), home before the closing
    expect(running.state, running.error?.detail).toBe('running');
    expect(offload.status, offload.cause).toBe('SUCCEEDED');
    expect(running.launch).toMatchObject({ mode: 'at', at: window.opensAt, releasedBy: 'timer' });
    expect(Date.parse(running.launch!.releasedAt!)).toBeGreaterThanOrEqual(Date.parse(window.opensAt!));
    expect(Date.parse(running.launch!.releasedAt!) - Date.parse(window.opensAt!)).toBeLessThan(MIN);
    expect(running.cloud.instanceId).toMatch(/^i-/);
    expect(callsSince(gw.sim, callsBefore, 'RunInstances')).toBe(1);
    expect(running.returnPlan).toMatchObject({ reason: 'return-by', action: 'return' });
    expect(windowEvents(gw, 'Window At Risk', id)).toEqual([]);
    expect(home.state, home.error?.detail).toBe('returned');
    expect(home.returnStartedBy).toBe('lease');
    expect(home.deadline).toMatchObject({ returnBy: window.closesAt, met: true });
    expect(Date.parse(home.returnedAt!)).toBeLessThan(Date.parse(window.closesAt!));
    expect(home.download).toMatchObject({
      format: 'delta',
      baseDiskSha256: cached.body.diskSha256,
      diskSha256: cached.body.diskSha256,
      matchesOriginal: true,
    });

    // Assess: the cache entry is unchanged; the simulator keeps only its snapshot and AMI; the schedule goes
    expect(cachedAfter.body).toMatchObject({
      snapshotId: cached.body.snapshotId,
      amiId: cached.body.amiId,
      jobId: first.jobId,
    });
    expect(left).toEqual([cached.body.snapshotId, cached.body.amiId].sort());
    expect(home.resources.filter((r) => !r.removedAt && !r.retained)).toEqual([]);
    expect(deleted.body).toMatchObject({ scheduleId: id, deleted: true, cancelledJobs: [] });
    expect(gone.status).toBe(404);
    expect(gw.scheduler.schedules().filter((s) => s.name.startsWith(id))).toEqual([]);
  });
});
