/**
 * POST /quotes over HTTP on the embedded deployment: the gateway lists the regions' instance types
 * and VM sizes (DescribeInstanceTypes, Resource SKUs) and reads prices from the simulators' Price
 * List and Retail Prices (the shipped snapshot), right-sizes and prices each target, and ranks
 * them. A profile, a VM it has offloaded, an OVF; hours or a window; clear refusals; nothing created.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { readOvfDescriptor } from '../../shared/client/ovf-descriptor';
import type { Quote, QuoteRequest } from '../../shared/client/types';
import { SAMPLE_OVA } from '../../infra/local/demo';
import {
  callApi,
  liveSimResources,
  offloadSample,
  startTestGateway,
  type TestGateway,
} from '../helpers/embedded';

const GiB = 1024 ** 3;
let gw: TestGateway;
let client: GatewayClient;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new GatewayClient({ baseUrl: gw.apiUrl, apiKey: gw.apiKey });
});
afterAll(async () => {
  await gw?.close();
});

const PROFILE = {
  vCPUs: 2,
  memoryBytes: 4 * GiB,
  disks: [{ capacityBytes: 20 * GiB }],
  osType: 'linux' as const,
  firmware: 'bios' as const,
};
const CLOUDS: QuoteRequest['clouds'] = [
  { cloud: 'aws', regions: ['us-east-1'] },
  { cloud: 'azure', locations: ['eastus'] },
];

describe('POST /quotes', () => {
  it('ranks AWS direct, AWS import and Azure options for a profile, every line traceable to a price', async () => {
    // Act
    const q = await client.createQuote({ vm: PROFILE, hours: 72, clouds: CLOUDS });

    // Assess
    expect(q.options.map((o) => [o.target, o.size])).toEqual(
      expect.arrayContaining([
        [{ cloud: 'aws', region: 'us-east-1', mode: 'direct' }, 't3a.medium'],
        [{ cloud: 'aws', region: 'us-east-1', mode: 'import' }, 't3a.medium'],
        [{ cloud: 'azure', region: 'eastus' }, 'Standard_B2s'],
      ]),
    );
    expect(q.options).toHaveLength(3);
    const totals = q.options.map((o) => o.total);
    expect(totals).toEqual([...totals].sort((a, b) => a - b));
    expect(q.unavailable).toEqual([]);
    for (const o of q.options) {
      expect(o.total).toBeCloseTo(
        o.lines.reduce((s, l) => s + l.amount, 0),
        6,
      );
      for (const l of o.lines) {
        expect(l.source.book).toBe(l.cloud === 'aws' ? 'aws-price-list' : 'azure-retail-prices');
        expect(l.amount).toBeCloseTo(l.quantity * l.unitPrice, 6);
      }
      expect(o.lines.find((l) => l.item === 'compute')).toMatchObject({ quantity: 72, unit: 'hour' });
    }
    // the t3a.medium's hour is the price list's (us-east-1 Linux, $0.0376)
    const direct = q.options.find((o) => o.target.cloud === 'aws' && o.target.mode === 'direct')!;
    expect(direct.lines.find((l) => l.item === 'compute')?.unitPrice).toBe(0.0376);
    expect(q.vm).toMatchObject({ os: 'linux', basis: 'the hardware profile in the request' });
    expect(Date.parse(q.pricesFetchedAt!)).toBeLessThanOrEqual(Date.parse(q.quotedAt));
  });

  it('quotes a VM the gateway has offloaded from its OVF profile and uploaded bytes, and one from an OVF', async () => {
    // Prepare: the sample VM goes to AWS once
    const { created } = await offloadSample(gw, 'quote-me');
    const job = await followJob(client, created.jobId, {
      until: (j) => j.state === 'running',
      intervalMs: 50,
    });
    expect(job.state).toBe('running');
    const { ovf, imageBytes } = await readOvfDescriptor(SAMPLE_OVA);

    // Act
    const seen = await client.createQuote({
      vm: { vmName: 'quote-me' },
      window: { start: '2026-12-11T17:00:00Z', end: '2026-12-14T05:00:00Z' },
      clouds: [{ cloud: 'aws', regions: ['us-east-1'], modes: ['direct'] }],
    });
    const fromOvf = await client.createQuote({
      vm: { ovf, imageBytes },
      hours: 60,
      clouds: [{ cloud: 'aws', regions: ['us-east-1'], modes: ['direct'] }],
    });

    // Assess: the window is 60 hours; the job's profile and the OVF's agree
    expect(seen.hours).toBe(60);
    expect(seen.vm.basis).toMatch(new RegExp(`^job ${created.jobId} of quote-me`));
    expect(seen.vm.imageBytes).toBe(imageBytes);
    expect(fromOvf.vm).toMatchObject({
      vCPUs: seen.vm.vCPUs,
      memoryBytes: seen.vm.memoryBytes,
      firmware: seen.vm.firmware,
    });
    expect(fromOvf.vm.disks.map((d) => d.capacityBytes)).toEqual(seen.vm.disks.map((d) => d.capacityBytes));
    expect(fromOvf.options[0]?.lines.find((l) => l.item === 'staging')?.quantity).toBeCloseTo(
      (imageBytes / GiB) * (60 / 730),
      9,
    );
  });

  it("quotes a schedule's window length, by the schedule's name, and 404s one it does not have", async () => {
    // Prepare: a Friday 18:00 Berlin window of 60 h
    const made = await callApi(gw, 'POST', '/schedules', {
      name: 'quote-window',
      vms: [
        {
          vmName: 'node-1',
          target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
          source: 'upload',
        },
      ],
      window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
      duration: 'PT60H',
    });
    expect(made.status).toBe(201);

    // Act
    const q = await client.createQuote({
      vm: PROFILE,
      scheduleId: 'quote-window',
      clouds: [{ cloud: 'aws', regions: ['us-east-1'], modes: ['direct'] }],
    });
    const missing = await callApi(gw, 'POST', '/quotes', {
      vm: PROFILE,
      scheduleId: 'no-such-schedule',
      clouds: CLOUDS,
    });

    // Assess
    expect(q.hours).toBe(60);
    expect(q.options[0]?.lines.find((l) => l.item === 'compute')?.quantity).toBe(60);
    expect(missing.status).toBe(404);
    expect(missing.body.type).toMatch(/schedule-not-found$/);
  });

  it('answers 422 no-quote naming every target when the VM fits nothing, and creates nothing', async () => {
    // Prepare
    const before = await liveSimResources(gw);

    // Act
    const { status, body } = await callApi(gw, 'POST', '/quotes', {
      vm: { ...PROFILE, vCPUs: 96, memoryBytes: 768 * GiB },
      hours: 8,
      clouds: CLOUDS,
    });

    // Assess
    expect(status).toBe(422);
    expect(body).toMatchObject({ type: 'https://burstgate.dev/problems/no-quote', status: 422 });
    expect((body.errors as Array<{ path: string; message: string }>).map((e) => e.path)).toEqual([
      'aws us-east-1 direct',
      'aws us-east-1 import',
      'azure eastus',
    ]);
    expect(body.errors[0].message).toMatch(/^RIGHTSIZE_NOTHING_FITS: .*the largest is m5\.4xlarge/);
    expect(await liveSimResources(gw)).toEqual(before);
  });

  it.each([
    [
      'both hours and a window',
      { hours: 5, window: { start: '2026-12-11T17:00:00Z', end: '2026-12-12T05:00:00Z' } },
      'hours',
    ],
    [
      'a region the gateway does not allow',
      { hours: 5, clouds: [{ cloud: 'aws', regions: ['us-gov-west-1'] }] },
      'clouds[0].regions[0].region',
    ],
    ['a VM it has never seen', { hours: 5, vm: { vmName: 'never-offloaded' } }, 'vm.vmName'],
    ['an OVF that is not one', { hours: 5, vm: { ovf: '<html></html>' } }, 'vm.ovf'],
  ])('refuses %s with 400 naming the field', async (_what, over, path) => {
    const { status, body } = await callApi(gw, 'POST', '/quotes', { vm: PROFILE, clouds: CLOUDS, ...over });
    expect(status).toBe(400);
    expect(body).toMatchObject({ type: 'https://burstgate.dev/problems/validation-failed' });
    expect(JSON.stringify(body.errors)).toContain(path);
  });

  it('quotes a Windows VM on AWS through VM Import only, unless direct is asked for', async () => {
    const windows = { ...PROFILE, osType: 'windows' as const };
    const picked = await client.createQuote({
      vm: windows,
      hours: 10,
      clouds: [{ cloud: 'aws', regions: ['us-east-1'] }],
    });
    const asked = await client.createQuote({
      vm: windows,
      hours: 10,
      clouds: [{ cloud: 'aws', regions: ['us-east-1'], modes: ['direct'] }],
    });
    expect(picked.options.map((o) => o.target)).toEqual([
      { cloud: 'aws', region: 'us-east-1', mode: 'import' },
    ]);
    expect(asked.options.map((o) => o.target)).toEqual([
      { cloud: 'aws', region: 'us-east-1', mode: 'direct' },
    ]);
  });

  it('reports a target it cannot quote beside those it can', async () => {
    // Act: Windows 4 vCPU / 16 GiB; the snapshot has Windows prices for eastus, for westeurope only D2s v5
    const q: Quote = await client.createQuote({
      vm: { ...PROFILE, vCPUs: 4, memoryBytes: 16 * GiB, osType: 'windows', firmware: 'efi' },
      hours: 10,
      clouds: [{ cloud: 'azure', locations: ['westeurope', 'eastus'] }],
    });

    // Assess
    expect(q.options.map((o) => [o.target.region, o.size])).toEqual([['eastus', 'Standard_B4ms']]);
    expect(q.unavailable).toEqual([
      {
        target: { cloud: 'azure', region: 'westeurope' },
        code: 'QUOTE_PRICE_MISSING',
        detail: expect.stringContaining('azure:westeurope:compute:Standard_B4ms:windows'),
      },
    ]);
  });
});

describe('burstgate quote', () => {
  const cli = (args: string[]) => runCli(['quote', ...args, '--gateway', gw.apiUrl, '--api-key', gw.apiKey]);

  it('prints the options cheapest first, each with its rejections and price lines', async () => {
    // Act
    const run = await cli([
      SAMPLE_OVA,
      '--hours',
      '72',
      '--aws',
      'us-east-1',
      '--mode',
      'direct',
      '--azure',
      'eastus',
    ]);

    // Assess
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(/^Quote for 72 h of \d+ vCPUs/);
    expect(out).toMatch(/\n#\s+target\s+size\s+total\s+to running\n1\s+/);
    expect(out).toContain('aws us-east-1 direct');
    expect(out).toContain('azure eastus');
    expect(out).toMatch(/\n\s+compute\s+72\s+hour\s/);
    expect(out).toMatch(/\n\s+disk\s+/);
    expect(out).toMatch(/JG3KUJMBRGHV3N8G \(2026-08-31\)/);
  });

  it('answers the gateway JSON with --json, from a profile given by flags', async () => {
    const run = await cli([
      ...['--vcpus', '2', '--memory-gib', '4', '--disk-gib', '20', '--os', 'linux'],
      ...['--hours', '72', '--aws', 'us-east-1', '--json'],
    ]);
    expect(run.code).toBe(0);
    const q = JSON.parse(run.stdout) as Quote;
    expect(q.options.map((o) => o.size)).toEqual(['t3a.medium', 't3a.medium']);
  });

  it.each([
    [['--hours', '5', '--vm-name', 'x'], /at least one --aws region or --azure location/],
    [['--vm-name', 'x', '--aws', 'us-east-1'], /--hours, --from\/--until, or --schedule/],
    [
      ['--vm-name', 'x', '--hours', '5', '--schedule', 's', '--aws', 'us-east-1'],
      /--hours, --from\/--until, or --schedule/,
    ],
    [['--hours', '5', '--aws', 'us-east-1'], /give the VM once/],
    [['--vm-name', 'x', '--hours', '0', '--aws', 'us-east-1'], /--hours must be a positive number/],
  ])('refuses %j with a usage error (exit 2) and calls nothing', async (args, message) => {
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('exits 1 with the problem when nothing can be quoted', async () => {
    const run = await cli([
      '--vcpus',
      '96',
      '--memory-gib',
      '768',
      '--disk-gib',
      '20',
      '--os',
      'linux',
      '--hours',
      '5',
      '--aws',
      'us-east-1',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no-quote|No target could be quoted/);
  });
});
