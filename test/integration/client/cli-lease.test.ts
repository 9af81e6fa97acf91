/**
 * `burstgate lease show|extend|set`, `offload --lease...` and the lease lines of `status`, in
 * process (bin/burstgate.ts main) against the fake gateway, whose PATCH /offloads/{id} and POST
 * /offloads `lease` check as the real gateway does (its schema and leaseFor) on a fixed clock.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../../helpers/cli';
import { startFakeGateway, type FakeGateway, type FakeGatewayOptions } from '../../helpers/fake-gateway';
import type { JobLease } from '../../../shared/client/types';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SAMPLE = join(ROOT, 'test', 'fixtures', 'sample-vm', 'burstgate-sample.ova');
const KEY = 'lease-test-key';
const NOW = new Date('2027-10-20T12:00:00Z');
const AWS = { cloud: 'aws', region: 'eu-west-1', instanceType: 't3.medium' } as const;
const LEASE: JobLease = { expiresAt: '2027-10-22T16:00:00.000Z', onExpiry: 'return', source: 'request' };

let gw: FakeGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** A fake gateway whose clock stands at NOW (unless told otherwise). */
async function gateway(opts: Partial<FakeGatewayOptions> = {}): Promise<FakeGateway> {
  gw = await startFakeGateway({ apiKey: KEY, now: () => NOW, ...opts });
  return gw;
}

/** `burstgate <args> --gateway <fake> --api-key <key>`, with `env` (offloads poll fast: FAST). */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli([...args, '--gateway', gw!.url, '--api-key', KEY], env);
}

const FAST = ['--interval', '0.01'];

/** A running job with LEASE (or `lease`). */
function runningJob(lease: JobLease = LEASE): string {
  return gw!.addJob({ vmName: 'app01', target: AWS, lease });
}

/** A usage error: exit 2, the one-line reason, the pointer to --help. */
function expectUsage(r: CliRun, where: string, reason: string): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe(`burstgate ${where}: ${reason}\nrun \`burstgate ${where} --help\` for usage\n`);
}

describe('burstgate lease --help', () => {
  it('is listed by burstgate --help, and help lease shows its usage', async () => {
    // Act
    const main = await runCli(['--help']);
    const help = await runCli(['help', 'lease']);
    const sub = await runCli(['lease', 'extend', '--help']);
    // Assess
    expect(main.stdout).toMatch(
      /\n {2}lease +show a job's lease, planned return and deadline; extend or change them\n/,
    );
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: burstgate lease show <job-id>/);
    expect(sub.stdout).toBe(help.stdout);
  });
});

describe('burstgate lease show', () => {
  it('shows the lease and the plan in UTC and the --tz zone', async () => {
    // Prepare
    await gateway();
    const id = runningJob();
    // Act
    const r = await cli(['lease', 'show', id, '--tz', 'Europe/Berlin']);
    // Assess
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`${id}  app01  running`);
    expect(lines[1]).toMatch(
      /^ {2}lease {6}expires 2027-10-22 16:00 UTC \(18:00 CEST Europe\/Berlin\), (in|ago) .+; then return$/,
    );
    expect(lines[2]).toMatch(
      /^ {2}plan {7}return starts 2027-10-22 16:00 UTC \(18:00 CEST Europe\/Berlin\), .+: when the lease expires$/,
    );
  });

  it('shows times in $TZ without --tz, and the estimate of a return-by plan', async () => {
    // Prepare
    await gateway({ returnEstimateSeconds: 2700 });
    const id = runningJob({ ...LEASE, returnBy: '2027-10-22T08:00:00.000Z' });
    // Act
    const r = await cli(['lease', 'show', id], { TZ: 'America/New_York' });
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  return by  2027-10-22 08:00 UTC (04:00 EDT America/New_York), ');
    expect(r.stdout).toMatch(
      / {2}plan {7}return starts 2027-10-22 07:15 UTC \(03:15 EDT America\/New_York\), .+: the estimated return before the return-by\n/,
    );
    expect(r.stdout).toContain("  estimate   45m (the fake's fixed estimate: 2700 s)\n");
  });

  it("shows a returned job's return and whether it met its deadline", async () => {
    // Prepare
    await gateway();
    const returnBy = '2027-10-22T08:00:00.000Z';
    const id = gw!.addJob({
      vmName: 'app01',
      target: AWS,
      state: 'returned',
      lease: { ...LEASE, returnBy },
      view: {
        returnStartedAt: '2027-10-22T07:00:00.000Z',
        returnStartedBy: 'lease',
        returnedAt: '2027-10-22T07:40:00.000Z',
        deadline: { returnBy, returnedAt: '2027-10-22T07:40:00.000Z', met: true, marginSeconds: 1200 },
      },
    });
    // Act
    const r = await cli(['lease', 'show', id, '--tz', 'Europe/Berlin']);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '  return     started 2027-10-22 07:00 UTC (09:00 CEST Europe/Berlin) by the lease\n',
    );
    expect(r.stdout).toContain('  returned   2027-10-22 07:40 UTC (09:40 CEST Europe/Berlin)\n');
    expect(r.stdout).toContain('  deadline   met: home 20m before the return-by\n');
    expect(r.stdout).not.toContain('  plan');
  });
});

describe('burstgate lease extend', () => {
  it('--by: PATCHes the absolute new end, counted from the current one, and shows the moved plan', async () => {
    // Prepare
    await gateway();
    const id = runningJob();
    // Act
    const r = await cli(['lease', 'extend', id, '--by', '1h30m', '--tz', 'Europe/Berlin']);
    // Assess
    expect(r.code).toBe(0);
    expect(gw!.jobs.get(id)!.patches).toEqual([{ lease: { expiresAt: '2027-10-22T17:30:00.000Z' } }]);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(
      `${id}: lease extended by 1h 30m (it ended 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin))`,
    );
    expect(lines[1]).toMatch(/^ {2}lease {6}expires 2027-10-22 17:30 UTC \(19:30 CEST Europe\/Berlin\), /);
    expect(lines).toContain(
      '  change     the plan moved 1h 30m later (was: return starts 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin))',
    );
    expect(gw!.jobs.get(id)!.view.returnPlan?.startAt).toBe('2027-10-22T17:30:00.000Z');
  });

  it('--by: a plan set by the return-by does not move', async () => {
    // Prepare
    await gateway();
    const id = runningJob({ ...LEASE, returnBy: '2027-10-22T08:00:00.000Z' });
    // Act
    const r = await cli(['lease', 'extend', id, '--by', '1d']);
    // Assess
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('  change     the plan did not move (the return-by sets it)\n');
  });

  it('--until a local time in --tz: sends it in UTC; the same command again changes nothing', async () => {
    // Prepare
    await gateway();
    const id = runningJob();
    const args = ['lease', 'extend', id, '--until', '2027-10-23T18:00', '--tz', 'Europe/Berlin'];
    // Act
    const first = await cli(args);
    const again = await cli(args);
    // Assess
    expect(first.code).toBe(0);
    expect(again.code).toBe(0);
    expect(gw!.jobs.get(id)!.patches).toEqual([
      { lease: { expiresAt: '2027-10-23T16:00:00.000Z' } },
      { lease: { expiresAt: '2027-10-23T16:00:00.000Z' } },
    ]);
    expect(first.stdout.split('\n')[0]).toBe(
      `${id}: lease extended to 2027-10-23 16:00 UTC (18:00 CEST Europe/Berlin) (it ended 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin))`,
    );
    expect(again.stdout.split('\n')[0]).toBe(
      `${id}: the lease already ends 2027-10-23 16:00 UTC (18:00 CEST Europe/Berlin)`,
    );
    expect(again.stdout).toContain('  change     the plan did not move\n');
  });

  it('--until before the current end: exit 1 and the set command to use, nothing sent', async () => {
    // Prepare
    await gateway();
    const id = runningJob();
    // Act
    const r = await cli(['lease', 'extend', id, '--until', '2027-10-21T12:00Z']);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "burstgate: --until 2027-10-21 12:00 UTC is before the lease's end, 2027-10-22 16:00 UTC: extend moves it later\n" +
        `hint: to end it earlier, run \`burstgate lease set ${id} --expires 2027-10-21T12:00Z\`\n`,
    );
    expect(gw!.jobs.get(id)!.patches).toEqual([]);
  });

  it("a job past its lease: exit 1 with the gateway's 409", async () => {
    // Prepare
    await gateway();
    const id = gw!.addJob({ vmName: 'app01', target: AWS, state: 'returned', lease: LEASE });
    // Act
    const r = await cli(['lease', 'extend', id, '--by', '2h']);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `burstgate: The job is not in a state that allows this: Cannot change the lease of job ${id}: it is 'returned'; ` +
        "this is allowed only when it is 'awaiting-upload' or 'inspecting' or 'importing' or 'staged' or 'launching' or 'running' or 'return-failed'.\n",
    );
  });

  it('usage errors exit 2 naming the flag, before anything is sent', async () => {
    // Prepare
    await gateway();
    const id = runningJob();
    // Act
    const neither = await cli(['lease', 'extend', id]);
    const both = await cli(['lease', 'extend', id, '--by', '2h', '--until', '2027-10-23T16:00Z']);
    const badDuration = await cli(['lease', 'extend', id, '--by', '2 hours']);
    const noOffset = await cli(['lease', 'extend', id, '--until', '2027-10-23T18:00']);
    const gap = await cli(['lease', 'extend', id, '--until', '2027-03-28T02:30', '--tz', 'Europe/Berlin']);
    const badZone = await cli(['lease', 'extend', id, '--by', '2h', '--tz', 'Europe/Berln']);
    const noJob = await cli(['lease', 'extend', '--by', '2h']);
    // Assess
    expectUsage(
      neither,
      'lease extend',
      'missing --by DURATION or --until T: how much longer, or until when',
    );
    expectUsage(both, 'lease extend', '--by and --until both given: pass one (a duration, or an instant)');
    expectUsage(
      badDuration,
      'lease extend',
      "--by: '2 hours' is not a duration: use numbers with units w, d, h, m, largest first, e.g. 90m, 2h, 3d, 1h30m, 1w",
    );
    expectUsage(
      noOffset,
      'lease extend',
      "--until: '2027-10-23T18:00' has no offset: add one (2027-10-23T18:00+02:00, or 2027-10-23T18:00Z for UTC) " +
        'or name its zone with --tz, e.g. --tz Europe/Berlin',
    );
    expectUsage(
      gap,
      'lease extend',
      '--until: 2027-03-28T02:30 does not exist in Europe/Berlin: the clocks move forward 60 minutes that day, ' +
        'skipping it; pick a time outside the gap, e.g. 2027-03-28T03:30',
    );
    expectUsage(
      badZone,
      'lease extend',
      "--tz: 'Europe/Berln' is not an IANA time zone: use a name such as Europe/Berlin, America/New_York or UTC",
    );
    expectUsage(noJob, 'lease extend', 'missing the job id (burstgate lease extend <job-id> --by 2h)');
    expect(gw!.jobs.get(id)!.patches).toEqual([]);
  });
});

describe('burstgate lease set', () => {
  it('sets a return-by and on-expiry; the plan starts the estimate before the return-by', async () => {
    // Prepare
    await gateway({ returnEstimateSeconds: 1800 });
    const id = runningJob();
    // Act
    const r = await cli([
      'lease',
      'set',
      id,
      '--return-by',
      '2027-10-22T10:00',
      '--on-expiry',
      'cancel',
      '--tz',
      'Europe/Berlin',
    ]);
    // Assess
    expect(r.code).toBe(0);
    expect(gw!.jobs.get(id)!.patches).toEqual([
      { lease: { returnBy: '2027-10-22T08:00:00.000Z', onExpiry: 'cancel' } },
    ]);
    expect(r.stdout.split('\n')[0]).toBe(`${id}: lease set (new return-by, on expiry cancel)`);
    expect(r.stdout).toMatch(/ {2}lease {6}expires .+; then cancel \(removed, nothing comes home\)\n/);
    expect(r.stdout).toMatch(
      / {2}plan {7}return starts 2027-10-22 07:30 UTC \(09:30 CEST Europe\/Berlin\), /,
    );
    expect(r.stdout).toContain(
      '  change     the plan moved 8h 30m earlier (was: return starts 2027-10-22 16:00 UTC',
    );
  });

  it('--no-return-by removes the deadline (returnBy: null); --expires a time that happens twice says how it was taken', async () => {
    // Prepare
    await gateway();
    const id = runningJob({ ...LEASE, returnBy: '2027-10-22T08:00:00.000Z' });
    // Act
    const removed = await cli(['lease', 'set', id, '--no-return-by']);
    const ambiguous = await cli([
      'lease',
      'set',
      id,
      '--expires',
      '2027-10-31T02:30',
      '--tz',
      'Europe/Berlin',
    ]);
    // Assess
    expect(removed.code).toBe(0);
    expect(removed.stdout).not.toContain('return by');
    expect(gw!.jobs.get(id)!.view.lease?.returnBy).toBeUndefined();
    expect(ambiguous.code).toBe(0);
    expect(ambiguous.stderr).toBe(
      'note: --expires: 2027-10-31T02:30 happens twice in Europe/Berlin (the clocks go back that day): taken as the ' +
        'first, 2027-10-31 00:30 UTC (02:30 CEST Europe/Berlin); for the second pass 2027-10-31T02:30+01:00\n',
    );
    expect(gw!.jobs.get(id)!.patches).toEqual([
      { lease: { returnBy: null } },
      { lease: { expiresAt: '2027-10-31T00:30:00.000Z' } },
    ]);
  });

  it('an end the gateway refuses: exit 1 with its reason, naming lease.expiresAt', async () => {
    // Prepare
    await gateway();
    const id = runningJob();
    // Act
    const r = await cli(['lease', 'set', id, '--expires', '2027-10-20T12:01Z']);
    // Assess
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'burstgate: The request is not valid: lease.expiresAt: the lease must end between 5 minutes and 366 days ' +
        'from now (now is 2027-10-20T12:00:00.000Z), got 2027-10-20T12:01:00.000Z\n',
    );
    expect(gw!.jobs.get(id)!.view.lease).toEqual(LEASE);
  });

  it('usage errors exit 2: nothing to set, a return-by both set and removed, a wrong --on-expiry', async () => {
    // Prepare
    await gateway();
    const id = runningJob();
    // Act
    const nothing = await cli(['lease', 'set', id]);
    const both = await cli(['lease', 'set', id, '--return-by', '2027-10-22T08:00Z', '--no-return-by']);
    const onExpiry = await cli(['lease', 'set', id, '--on-expiry', 'delete']);
    const unknown = await cli(['lease', 'renew', id]);
    // Assess
    expectUsage(
      nothing,
      'lease set',
      'nothing to set: pass --expires, --return-by, --no-return-by or --on-expiry',
    );
    expectUsage(both, 'lease set', '--return-by and --no-return-by both given: pass one');
    expectUsage(onExpiry, 'lease set', "--on-expiry must be one of return, cancel, not 'delete'");
    expectUsage(unknown, 'lease', "unknown subcommand 'renew': use show, extend or set");
    expect(gw!.jobs.get(id)!.patches).toEqual([]);
  });
});

describe('burstgate offload with a lease', () => {
  it('--lease, --return-by and --on-expiry go into POST /offloads as absolute instants', async () => {
    // Prepare: the real clock, since --lease counts from now
    await gateway({ now: () => new Date() });
    const before = Date.now();
    // Act
    const r = await cli([
      'offload',
      SAMPLE,
      '--lease',
      '8h',
      '--return-by',
      '2027-10-22T10:00',
      '--tz',
      'Europe/Berlin',
      '--on-expiry',
      'cancel',
      '--no-hash',
      ...FAST,
    ]);
    // Assess
    expect(r.code).toBe(0);
    const [job] = [...gw!.jobs.values()];
    const sent = (job!.created as { lease: { expiresAt: string; returnBy: string; onExpiry: string } }).lease;
    expect(sent.returnBy).toBe('2027-10-22T08:00:00.000Z');
    expect(sent.onExpiry).toBe('cancel');
    const expires = Date.parse(sent.expiresAt) - 8 * 3600_000;
    expect(expires).toBeGreaterThanOrEqual(before);
    expect(expires).toBeLessThanOrEqual(Date.now());
    expect(r.stdout).toMatch(/\nlease: expires .+; then cancel \(removed, nothing comes home\)\n/);
    expect(r.stdout).toContain('\nreturn by: 2027-10-22 08:00 UTC (10:00 CEST Europe/Berlin), in ');
  });

  it('--lease-until a local time in --tz; no lease flags: the gateway default', async () => {
    // Prepare
    await gateway();
    // Act
    const until = await cli([
      'offload',
      SAMPLE,
      '--lease-until',
      '2027-10-25T09:00',
      '--tz',
      'Europe/Berlin',
      ...FAST,
    ]);
    const plain = await cli(['offload', SAMPLE, '--no-follow']);
    // Assess
    expect(until.code).toBe(0);
    expect(plain.code).toBe(0);
    const [first, second] = [...gw!.jobs.values()];
    expect((first!.created as { lease?: unknown }).lease).toEqual({ expiresAt: '2027-10-25T07:00:00.000Z' });
    expect((second!.created as { lease?: unknown }).lease).toBeUndefined();
    expect(second!.view.lease).toEqual({
      expiresAt: '2027-10-27T12:00:00.000Z',
      onExpiry: 'return',
      source: 'default',
    });
  });

  it('usage errors exit 2 before anything is created', async () => {
    // Prepare
    await gateway();
    // Act
    const both = await cli(['offload', SAMPLE, '--lease', '8h', '--lease-until', '2027-10-25T09:00Z']);
    const badLease = await cli(['offload', SAMPLE, '--lease', '8']);
    const badReturnBy = await cli(['offload', SAMPLE, '--return-by', 'friday']);
    const onExpiry = await cli(['offload', SAMPLE, '--on-expiry', 'keep']);
    // Assess
    expectUsage(
      both,
      'offload',
      '--lease and --lease-until both given: pass one (a duration, or an instant)',
    );
    expectUsage(
      badLease,
      'offload',
      "--lease: '8' is not a duration: use numbers with units w, d, h, m, largest first, e.g. 90m, 2h, 3d, 1h30m, 1w",
    );
    expect(badReturnBy.code).toBe(2);
    expect(badReturnBy.stderr).toMatch(/^burstgate offload: --return-by: 'friday' is not a date-time: /);
    expectUsage(onExpiry, 'offload', "--on-expiry must be one of return, cancel, not 'keep'");
    expect(gw!.jobs.size).toBe(0);
  });
});

describe('burstgate status with a lease', () => {
  it('shows the lease lines and, once home, the deadline outcome', async () => {
    // Prepare
    await gateway();
    const running = runningJob();
    const returnBy = '2027-10-22T08:00:00.000Z';
    const late = gw!.addJob({
      vmName: 'app02',
      target: AWS,
      state: 'returned',
      lease: { ...LEASE, returnBy },
      view: {
        returnStartedAt: '2027-10-22T07:30:00.000Z',
        returnStartedBy: 'api',
        returnedAt: '2027-10-22T08:05:00.000Z',
        deadline: { returnBy, returnedAt: '2027-10-22T08:05:00.000Z', met: false, marginSeconds: -300 },
      },
    });
    // Act
    const a = await cli(['status', running, '--tz', 'Europe/Berlin']);
    const b = await cli(['status', late, '--tz', 'Europe/Berlin']);
    // Assess
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(
      /\n {2}lease {6}expires 2027-10-22 16:00 UTC \(18:00 CEST Europe\/Berlin\), .+; then return\n/,
    );
    expect(a.stdout).toMatch(/\n {2}plan {7}return starts 2027-10-22 16:00 UTC/);
    expect(b.code).toBe(0);
    expect(b.stdout).toContain(
      '\n  return     started 2027-10-22 07:30 UTC (09:30 CEST Europe/Berlin) on request\n',
    );
    expect(b.stdout).toContain('\n  deadline   MISSED: home 5m after the return-by\n');
  });
});
