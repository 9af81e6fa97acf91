/**
 * Burst windows through the HTTP API, on the embedded deployment with its clock moved forward: a
 * weekly window in Europe/Berlin across the end of daylight saving time, pre-staged by the
 * on-prem side (POST /schedules/{id}/prestage), launched at the opening, home before the closing;
 * a window missed while the deployment was stopped; and the refusals (overlap, bad cron or zone).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../shared/client/api-client';
import { uploadImage } from '../../shared/client/upload';
import type { JobView } from '../../shared/client/types';
import { SAMPLE_OVA } from '../../infra/local/demo';
import { LocalClock } from '../../infra/local/clock';
import { AWS_TARGET, liveSimResources, startTestGateway, type TestGateway } from '../helpers/embedded';
import {
  advanceTo,
  call,
  handled,
  until,
  untilSchedule,
  windowEvents,
  type Answer,
} from '../helpers/windows';

const SEC = 1000;
const MIN = 60 * SEC;
const IMPORT_TARGET = { ...AWS_TARGET, mode: 'import' } as const;

/** What `burstgate schedule prestage` does for one VM: ask for the window's job, upload, complete. */
async function prestage(gw: TestGateway, scheduleId: string, vmName: string): Promise<Answer> {
  const asked = await call(gw, 'POST', `/schedules/${scheduleId}/prestage`, {
    vmName,
    imageFormat: 'ova',
    imageSizeBytes: (await stat(SAMPLE_OVA)).size,
  });
  if (asked.status !== 202) return asked;
  const client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
  await client.completeUpload(asked.body.jobId, await uploadImage(SAMPLE_OVA, asked.body.upload));
  return asked;
}

describe('a weekly window in Europe/Berlin', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ clock: new LocalClock({ start: new Date('2027-10-20T08:00:00Z') }) });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('opens three Fridays at 18:00 local across the end of summer time: staged before, launched at the opening, home before the closing', async () => {
    // Prepare
    const created = await call(gw, 'POST', '/schedules', {
      name: 'friday-batch',
      vms: [{ vmName: 'batch-node', target: IMPORT_TARGET, source: 'upload' }],
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
      duration: 'PT60H',
      prestage: { lead: 'PT2H', margin: 'PT15M' },
    });
    expect(created.status).toBe(201);
    const id = created.body.scheduleId as string;
    const shown = await call(gw, 'GET', `/schedules/${id}?count=3`);
    expect(
      shown.body.next.map((w: Record<string, string>) => [w.opensAt, w.opensAtLocal, w.closesAt]),
    ).toEqual([
      ['2027-10-22T16:00:00.000Z', '2027-10-22T18:00:00+02:00', '2027-10-25T04:00:00.000Z'],
      ['2027-10-29T16:00:00.000Z', '2027-10-29T18:00:00+02:00', '2027-11-01T04:00:00.000Z'],
      ['2027-11-05T17:00:00.000Z', '2027-11-05T18:00:00+01:00', '2027-11-08T05:00:00.000Z'],
    ]);
    const again = await call(gw, 'POST', '/schedules', {
      name: 'friday-batch',
      vms: [{ vmName: 'batch-node', target: IMPORT_TARGET, source: 'upload' }],
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
      duration: 'PT60H',
      prestage: { lead: 'PT2H', margin: 'PT15M' },
    });
    expect([again.status, again.body.scheduleId]).toEqual([200, id]);

    const seen: Array<Record<string, unknown>> = [];
    for (const window of shown.body.next as Array<Record<string, string>>) {
      // Act: the prestage opens (the Scheduler fires it), the on-prem side uploads, the window opens
      await advanceTo(gw, window.prestageAt!);
      await untilSchedule(gw, id, handled(window.opensAt!));
      const told = windowEvents(gw, 'Window Prestage', id).filter((e) => e.opensAt === window.opensAt);
      const asked = await prestage(gw, id, 'batch-node');
      const jobId = asked.body.jobId as string;
      const staged = await until(gw, jobId, (j) => j.state === 'staged');
      const stagedAt = gw.clock.now().toISOString();
      await advanceTo(gw, window.opensAt!);
      const running = await until(gw, jobId, (j) => j.state === 'running');
      await advanceTo(gw, running.returnPlan!.startAt);
      const home = await until(gw, jobId, (j) => j.state === 'returned' && j.deadline !== undefined);
      seen.push({ window, told, asked, staged, stagedAt, running, home });
    }

    // Assess
    for (const { window, told, asked, staged, stagedAt, running, home } of seen as Array<{
      window: Record<string, string>;
      told: unknown[];
      asked: Answer;
      staged: JobView;
      stagedAt: string;
      running: JobView;
      home: JobView;
    }>) {
      expect(told).toHaveLength(1);
      expect(asked.status).toBe(202);
      expect(asked.body.window).toEqual({ opensAt: window.opensAt, closesAt: window.closesAt });
      expect(staged.window).toMatchObject({
        scheduleId: id,
        opensAt: window.opensAt,
        closesAt: window.closesAt,
      });
      expect(Date.parse(stagedAt)).toBeLessThan(Date.parse(window.opensAt!));
      expect(running.launch).toMatchObject({ mode: 'at', at: window.opensAt, releasedBy: 'timer' });
      expect(Date.parse(running.launch!.releasedAt!)).toBeGreaterThanOrEqual(Date.parse(window.opensAt!));
      expect(Date.parse(running.launch!.releasedAt!) - Date.parse(window.opensAt!)).toBeLessThan(MIN);
      expect(running.lease).toMatchObject({ returnBy: window.closesAt, expiresAt: window.closesAt });
      expect(running.returnPlan).toMatchObject({ reason: 'return-by', action: 'return' });
      expect(home.deadline).toMatchObject({ returnBy: window.closesAt, met: true });
      expect(Date.parse(home.returnedAt!)).toBeLessThan(Date.parse(window.closesAt!));
      expect(home.download?.matchesOriginal).toBe(true);
    }
    const after = await call(gw, 'GET', `/schedules/${id}`);
    expect(after.body.occurrences.map((o: Record<string, unknown>) => [o.opensAt, o.status])).toEqual([
      ['2027-11-05T17:00:00.000Z', 'prestaged'],
      ['2027-10-29T16:00:00.000Z', 'prestaged'],
      ['2027-10-22T16:00:00.000Z', 'prestaged'],
    ]);
    expect(after.body.next[0].opensAt).toBe('2027-11-12T17:00:00.000Z');
    expect(gw.scheduler.schedules().map((s) => s.name)).toEqual([`${id}.window-prestage`]);
    expect(await liveSimResources(gw)).toEqual([]);
  });

  it('refuses an overlapping window of the same VM with 409 naming the other schedule, and a bad cron or zone with 400 naming the field', async () => {
    // Prepare
    const base = {
      vms: [{ vmName: 'overlap-node', target: IMPORT_TARGET, source: 'upload' }],
      duration: 'PT60H',
    };
    const first = await call(gw, 'POST', '/schedules', {
      ...base,
      name: 'weekend',
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
    });

    // Act
    const overlapping = await call(gw, 'POST', '/schedules', {
      ...base,
      name: 'saturday',
      window: { cron: 'cron(0 9 ? * 7 *)', timeZone: 'Europe/Berlin' },
      duration: 'PT4H',
    });
    const badCron = await call(gw, 'POST', '/schedules', {
      ...base,
      name: 'bad-cron',
      window: { cron: 'cron(0 18 * * 6 *)', timeZone: 'Europe/Berlin' },
    });
    const badField = await call(gw, 'POST', '/schedules', {
      ...base,
      name: 'bad-field',
      window: { cron: 'cron(0 25 ? * 6 *)', timeZone: 'Europe/Berlin' },
    });
    const badZone = await call(gw, 'POST', '/schedules', {
      ...base,
      name: 'bad-zone',
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlinn' },
    });
    const tooLong = await call(gw, 'POST', '/schedules', {
      ...base,
      name: 'too-long',
      window: { cron: 'cron(0 18 ? * * *)', timeZone: 'Europe/Berlin' },
    });

    // Assess
    expect(first.status).toBe(201);
    expect(overlapping.status).toBe(409);
    expect(overlapping.body.type).toMatch(/window-overlap$/);
    expect(overlapping.body.detail).toContain(`"weekend" (${first.body.scheduleId})`);
    expect(badCron.status).toBe(400);
    expect(badCron.body.errors).toEqual([
      expect.objectContaining({
        path: 'window.cron',
        message: expect.stringMatching(/^BG_SCHEDULE_DAY_CONFLICT/),
      }),
    ]);
    expect(badField.body.errors[0]).toMatchObject({ path: 'window.cron' });
    expect(badField.body.errors[0].message).toMatch(/at field 2 \(hours\), character \d+/);
    expect(badZone.status).toBe(400);
    expect(badZone.body.errors[0]).toMatchObject({ path: 'window.timeZone' });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.errors[0]).toMatchObject({ path: 'duration' });
    const names = (await call(gw, 'GET', '/schedules')).body.items.map(
      (s: Record<string, unknown>) => s.name,
    );
    expect(names).not.toContain('saturday');
    expect(names).not.toContain('bad-cron');
  });

  it('previews a cron across a daylight saving change, and pauses, resumes and deletes a schedule', async () => {
    // Act
    const preview = await call(
      gw,
      'GET',
      `/schedules/preview?cron=${encodeURIComponent('cron(30 2 * * ? *)')}&timeZone=Europe/Berlin&after=2027-03-26T00:00:00Z&count=3&closesAfter=PT1H`,
    );
    const created = await call(gw, 'POST', '/schedules', {
      name: 'pausable',
      vms: [{ vmName: 'pause-node', target: IMPORT_TARGET, source: 'upload' }],
      window: { at: '2027-12-24T18:00:00+01:00', timeZone: 'Europe/Berlin' },
      closesAfter: 'PT12H',
    });
    const id = created.body.scheduleId as string;
    const paused = await call(gw, 'PATCH', `/schedules/pausable`, { state: 'paused' });
    const timersWhilePaused = gw.scheduler.schedules().filter((s) => s.name.startsWith(id));
    const resumed = await call(gw, 'PATCH', `/schedules/${id}`, { state: 'active' });
    const timersResumed = gw.scheduler.schedules().filter((s) => s.name.startsWith(id));
    const deleted = await call(gw, 'DELETE', `/schedules/${id}`);
    const gone = await call(gw, 'GET', `/schedules/${id}`);

    // Assess: 02:30 does not exist on 2027-03-28 in Berlin (clocks jump 02:00 → 03:00)
    expect(preview.status).toBe(200);
    expect(preview.body.windows.map((w: Record<string, string>) => w.opensAtLocal)).toEqual([
      '2027-03-26T02:30:00+01:00',
      '2027-03-27T02:30:00+01:00',
      '2027-03-29T02:30:00+02:00',
    ]);
    expect(created.body.next).toEqual([
      expect.objectContaining({
        opensAt: '2027-12-24T17:00:00.000Z',
        closesAtLocal: '2027-12-25T06:00:00+01:00',
        prestageAt: '2027-12-24T15:00:00.000Z',
      }),
    ]);
    expect([paused.status, paused.body.state, paused.body.next]).toEqual([200, 'paused', []]);
    expect(timersWhilePaused).toEqual([]);
    expect([resumed.body.state, resumed.body.next[0].opensAt]).toEqual([
      'active',
      '2027-12-24T17:00:00.000Z',
    ]);
    expect(timersResumed.map((s) => s.name)).toEqual([`${id}.window-prestage`]);
    expect(gw.scheduler.schedules().filter((s) => s.name.startsWith(id))).toEqual([]);
    expect(deleted.body).toMatchObject({ scheduleId: id, deleted: true, cancelledJobs: [] });
    expect(gone.status).toBe(404);
  });
});

describe('a window missed while the deployment was stopped', () => {
  let stateDir: string;
  afterAll(async () => {
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('opens late with onMissed "open-late" and is recorded as missed with "skip"', async () => {
    // Prepare: two one-off windows at 12:00 UTC, the deployment stopped at 10:00 and started at 12:30
    stateDir = await mkdtemp(join(tmpdir(), 'burstgate-windows-'));
    const opens = '2027-06-01T12:00:00.000Z';
    let gw = await startTestGateway({
      stateDir,
      clock: new LocalClock({ start: new Date('2027-06-01T09:00:00Z') }),
    });
    const late = await call(gw, 'POST', '/schedules', {
      name: 'open-late',
      vms: [{ vmName: 'late-node', target: IMPORT_TARGET, source: 'upload' }],
      window: { at: opens },
      duration: 'PT6H',
      prestage: { lead: 'PT1H' },
      onMissed: 'open-late',
    });
    const skip = await call(gw, 'POST', '/schedules', {
      name: 'skip',
      vms: [{ vmName: 'skip-node', target: IMPORT_TARGET, source: 'upload' }],
      window: { at: opens },
      duration: 'PT6H',
      prestage: { lead: 'PT1H' },
      onMissed: 'skip',
    });
    await gw.close();

    // Act
    gw = await startTestGateway({
      stateDir,
      clock: new LocalClock({ start: new Date('2027-06-01T12:30:00Z') }),
    });
    try {
      await gw.scheduler.idle();
      const lateView = { body: await untilSchedule(gw, late.body.scheduleId, handled(opens)) };
      const skipView = { body: await untilSchedule(gw, skip.body.scheduleId, handled(opens)) };
      const asked = await prestage(gw, late.body.scheduleId, 'late-node');
      const refused = await prestage(gw, skip.body.scheduleId, 'skip-node');
      expect(asked.body).toMatchObject({ state: 'awaiting-upload' });
      const running = await until(gw, asked.body.jobId, (j) => j.state === 'running');
      await advanceTo(gw, running.returnPlan!.startAt);
      const home = await until(
        gw,
        asked.body.jobId,
        (j) => j.state === 'returned' && j.deadline !== undefined,
      );

      // Assess
      expect(lateView.body.occurrences).toEqual([
        expect.objectContaining({ opensAt: opens, status: 'opened-late', lateBySeconds: expect.any(Number) }),
      ]);
      expect(lateView.body.occurrences[0].lateBySeconds).toBeGreaterThanOrEqual(1800);
      expect(lateView.body.state).toBe('ended');
      expect(windowEvents(gw, 'Window Opened Late', late.body.scheduleId)).toHaveLength(1);
      expect(skipView.body.occurrences).toEqual([
        expect.objectContaining({ opensAt: opens, status: 'missed' }),
      ]);
      expect(windowEvents(gw, 'Window Missed', skip.body.scheduleId)).toEqual([
        expect.objectContaining({ opensAt: opens, reason: expect.stringContaining('"skip"') }),
      ]);
      expect(asked.status).toBe(202);
      expect(running.launch).toBeUndefined();
      expect(refused.status).toBe(409);
      expect(refused.body.type).toMatch(/no-open-prestage$/);
      expect(home.deadline).toMatchObject({ returnBy: '2027-06-01T18:00:00.000Z', met: true });
      expect(await liveSimResources(gw)).toEqual([]);
    } finally {
      await gw.close();
    }
  });
});
