/**
 * `burstgate schedule ...`, `offload --hold | --launch-at` and `burstgate launch`, in process
 * (bin/burstgate.ts main) against the embedded deployment with its clock moved forward: a weekly
 * Friday-evening window in Europe/Berlin created from flags and shown in UTC and Berlin time across
 * the end of summer time, previewed, paused and resumed; pre-staged by `schedule prestage` as an
 * on-prem cron job would run it (nothing to do before the prestage opens, the upload once it is
 * open, nothing again after); deleted with the window's job cancelled; and a held offload
 * released by `burstgate launch`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_OVA } from '../../../infra/local/demo';
import { LocalClock } from '../../../infra/local/clock';
import { runCli, type CliRun } from '../../helpers/cli';
import { callApi, liveSimResources, startTestGateway, type TestGateway } from '../../helpers/embedded';
import { advanceTo, handled, untilSchedule } from '../../helpers/windows';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ clock: new LocalClock({ start: new Date('2027-10-20T08:00:00Z') }) });
}, 120_000);
afterAll(() => gw?.close());

const cli = (...args: string[]): Promise<CliRun> =>
  runCli([...args, '--gateway', gw.apiUrl, '--api-key', gw.apiKey]);
const FAST = ['--interval', '0.02'];

/** `schedule create x --vm a <flags>`: a schedule the refusal tests never get made. */
const createX = (...flags: string[]): Promise<CliRun> =>
  cli('schedule', 'create', 'x', '--vm', 'a', ...flags);

const CREATE = [
  'schedule',
  'create',
  'friday-batch',
  '--vm',
  'batch-node',
  '--cron',
  '0 18 ? * 6 *',
  '--tz',
  'Europe/Berlin',
  '--duration',
  '60h',
  '--prestage-lead',
  '2h',
  '--prestage-margin',
  '15m',
  '--mode',
  'import',
];

describe('burstgate schedule', () => {
  it('creates a weekly Berlin window from flags and shows its windows in UTC and Berlin time across the end of summer time', async () => {
    // Act
    const created = await cli(...CREATE);
    const again = await cli(...CREATE);
    const shown = await cli('schedule', 'show', 'friday-batch', '--count', '3');
    const listed = await cli('schedule', 'list');
    const json = await cli('schedule', 'show', 'friday-batch', '--json');
    // Assess
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(
      /^schedule friday-batch created\nsch-[0-9a-z]{26} {2}friday-batch {2}active\n/,
    );
    expect(created.stdout).toContain(
      '  window     cron(0 18 ? * 6 *) in Europe/Berlin, open 2d 12h (elapsed time)\n' +
        '  prestage   2h before the opening; staged 15m before it, or window-at-risk\n' +
        '  on missed  open late (launch at once)\n' +
        '  vm         batch-node → aws us-east-1 t3.medium, uploaded before each window',
    );
    expect(again.code, again.stderr).toBe(0); // the same request again is a replay
    expect(shown.stdout).toContain('    2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), in ');
    expect(shown.stdout).toContain(
      '      closes   2027-10-25 04:00 UTC (06:00 CEST Europe/Berlin)\n' +
        '      prestage 2027-10-22 14:00 UTC (16:00 CEST Europe/Berlin); staged by 2027-10-22 15:45 UTC (17:45 CEST Europe/Berlin)\n',
    );
    expect(shown.stdout).toContain('    2027-10-29 16:00 UTC (18:00 CEST Europe/Berlin), in ');
    expect(shown.stdout).toContain('    2027-11-05 17:00 UTC (18:00 CET Europe/Berlin), in ');
    expect(listed.stdout).toMatch(
      /^sch-[0-9a-z]{26} {2}friday-batch {2}active {2}batch-node {2}next 2027-10-22 16:00 UTC \(18:00 CEST Europe\/Berlin\), in /,
    );
    expect(JSON.parse(json.stdout)).toMatchObject({
      name: 'friday-batch',
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
      duration: 'P2DT12H', // 60h, as the API writes it
      prestage: { lead: 'PT2H', margin: 'PT15M' },
      vms: [{ vmName: 'batch-node', source: 'upload', target: { cloud: 'aws', mode: 'import' } }],
    });
  });

  it('previews a cron expression with its closings, across the end of summer time', async () => {
    // Act
    const r = await cli(
      'schedule',
      'preview',
      '--cron',
      'cron(0 18 ? * 6 *)',
      '--tz',
      'Europe/Berlin',
      '--count',
      '2',
      '--after',
      '2027-10-25T00:00Z',
      '--closes-after',
      '60h',
    );
    // Assess
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      'cron(0 18 ? * 6 *) in Europe/Berlin:\n' +
        '  2027-10-29 16:00 UTC (18:00 CEST Europe/Berlin) → 2027-11-01 05:00 UTC (06:00 CET Europe/Berlin)\n' +
        '  2027-11-05 17:00 UTC (18:00 CET Europe/Berlin) → 2027-11-08 05:00 UTC (06:00 CET Europe/Berlin)\n',
    );
  });

  it('refuses what is wrong before asking (usage, exit 2) and says what the gateway refused (exit 1), creating nothing', async () => {
    // Act
    const noZone = await createX('--cron', '0 18 ? * 6 *', '--duration', '1h');
    const both = await createX('--at', '2027-12-01T10:00Z', '--cron', '0 1 * * ? *', '--duration', '1h');
    const badLength = await createX('--at', '2027-12-01T10:00Z', '--duration', '60 hours');
    const badCron = await createX('--cron', '0 18 * * 6 *', '--tz', 'Europe/Berlin', '--duration', '1h');
    const badZone = await createX('--cron', '0 18 ? * 6 *', '--tz', 'Europe/Berlinn', '--duration', '1h');
    const unknown = await cli('schedule', 'show', 'no-such-schedule');
    const listed = await callApi(gw, 'GET', '/schedules');
    // Assess
    expect([noZone.code, noZone.stderr.split('\n')[0]]).toEqual([
      2,
      'burstgate schedule create: missing --tz ZONE: the time zone the cron expression is read in (Europe/Berlin)',
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--cron and --at both given');
    expect(badLength.code).toBe(2);
    expect(badLength.stderr).toContain("--duration: '60 hours' is not a duration");
    expect(badCron.code).toBe(1);
    expect(badCron.stderr).toMatch(/window\.cron/);
    expect(badZone.code).toBe(2); // the client's Intl knows no such zone either
    expect(badZone.stderr).toContain("'Europe/Berlinn' is not an IANA time zone");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no-such-schedule/);
    expect((listed.body.items as Array<{ name: string }>).map((s) => s.name)).toEqual(['friday-batch']);
  });

  it('pre-staged from an on-prem cron job: nothing until the prestage opens, then the upload and a staged VM launching at the opening, then nothing again', async () => {
    // Prepare
    const schedule = (await callApi(gw, 'GET', '/schedules/friday-batch')).body;
    const first = schedule.next[0] as { opensAt: string; prestageAt: string };
    // Act
    const early = await cli('schedule', 'prestage', 'friday-batch', SAMPLE_OVA, ...FAST);
    await advanceTo(gw, first.prestageAt);
    await untilSchedule(gw, 'friday-batch', handled(first.opensAt));
    const upload = await cli('schedule', 'prestage', 'friday-batch', SAMPLE_OVA, ...FAST);
    const late = await cli('schedule', 'prestage', 'friday-batch', SAMPLE_OVA, ...FAST);
    // Assess
    expect(early.code, early.stderr).toBe(0);
    expect(early.stdout).toBe(
      'nothing to upload until 2027-10-22 14:00 UTC (16:00 CEST Europe/Berlin): schedule friday-batch ' +
        'pre-stages its window opening 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin) from then\n',
    );
    expect(upload.code, upload.stderr).toBe(0);
    const jobId = /^(job-\S+): offloading batch-node/m.exec(upload.stdout)?.[1];
    expect(jobId).toBeDefined();
    expect(upload.stdout).toContain(
      `${jobId} is staged in aws us-east-1 t3.medium for the window opening 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin)\n`,
    );
    expect(upload.stdout).toContain('launch: at 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), in ');
    expect(upload.stdout).toContain(
      'window: friday-batch: opens 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), closes 2027-10-25 04:00 UTC (06:00 CEST Europe/Berlin)\n',
    );
    expect(upload.stdout).toContain('return by: 2027-10-25 04:00 UTC (06:00 CEST Europe/Berlin)');
    expect(late.code, late.stderr).toBe(0);
    expect(late.stdout).toBe(
      `batch-node's image for the window opening 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin) is in already: job ${jobId} is staged\n`,
    );
    const job = (await callApi(gw, 'GET', `/offloads/${jobId}`)).body;
    expect([job.state, job.launch, job.window.scheduleName]).toEqual([
      'staged',
      { mode: 'at', at: '2027-10-22T16:00:00.000Z' },
      'friday-batch',
    ]);
  });

  it('pauses and resumes; delete cancels the job of the window that has not opened', async () => {
    // Act
    const paused = await cli('schedule', 'pause', 'friday-batch');
    const resumed = await cli('schedule', 'resume', 'friday-batch');
    const deleted = await cli('schedule', 'delete', 'friday-batch');
    const after = await cli('schedule', 'list');
    // Assess
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toContain(
      'schedule friday-batch paused: no window opens until `burstgate schedule resume friday-batch`\n',
    );
    expect(paused.stdout).toContain('  next       none while paused (burstgate schedule resume)\n');
    expect(resumed.stdout).toMatch(/^schedule friday-batch resumed\n/);
    expect(resumed.stdout).toContain('  next\n    2027-10-29 16:00 UTC');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(
      /^schedule friday-batch \(sch-[0-9a-z]{26}\) deleted: no more windows\ncancelled the jobs of its window that had not opened: job-\S+\n/,
    );
    expect(after.stdout).toBe('no schedules (burstgate schedule create --help)\n');
  });
});

describe('burstgate offload --hold and burstgate launch', () => {
  it('stages a held VM, stops following there, and launches it on `burstgate launch`', async () => {
    // Act
    const held = await cli(
      'offload',
      SAMPLE_OVA,
      '--name',
      'held-node',
      '--mode',
      'import',
      '--hold',
      ...FAST,
    );
    const jobId = /^(job-\S+): offloading held-node/m.exec(held.stdout)?.[1] ?? '';
    const launched = await cli('launch', jobId, ...FAST);
    const twice = await cli('launch', jobId, ...FAST);
    const cancelled = await cli('cancel', jobId, '--wait', ...FAST);
    // Assess
    expect(held.code, held.stderr).toBe(0);
    expect(held.stdout).toContain(`${jobId} is staged in aws us-east-1 t3.medium: `);
    expect(held.stdout).toContain(`launch: held: \`burstgate launch ${jobId}\` releases it\n`);
    expect(launched.code, launched.stderr).toBe(0);
    expect(launched.stdout).toMatch(
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${jobId}: launch released \\((staged|launching)\\)\\n`),
    );
    expect(launched.stdout).toContain(`${jobId} is running in aws us-east-1`);
    expect(twice.code, twice.stderr).toBe(0); // released before: the same request again is fine
    expect(twice.stdout).toContain(`${jobId}: launch released (running)`);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(await liveSimResources(gw)).toEqual([]);
  });

  it('refuses --hold with --launch-at, and a --launch-at that is no instant', async () => {
    // Act
    const both = await cli('offload', SAMPLE_OVA, '--hold', '--launch-at', '2027-10-22T16:00Z');
    const bad = await cli('offload', SAMPLE_OVA, '--launch-at', 'friday');
    // Assess
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--launch-at and --hold both given');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--launch-at: 'friday'/);
  });
});
