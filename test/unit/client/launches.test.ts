/**
 * A staged job's launch as the client sees it: the launch and window lines of `status` and
 * `offload`, where following an offload stops, and the schedule calls' answers checked.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../../shared/client/api-client';
import { launchLines } from '../../../shared/client/leases';
import { settled } from '../../../shared/client/offload-workflow';
import { zoneNamed } from '../../../shared/client/times';
import { caught } from '../../helpers/client-errors';
import { sendJson, startServer, type TestServer } from '../../helpers/http-server';
import { jobView } from '../../helpers/job-view';

const BERLIN = zoneNamed('Europe/Berlin');
const NOW = new Date('2027-10-22T12:00:00Z');
const WINDOW = {
  scheduleId: 'sch-0123456789abcdefghijklmnop',
  scheduleName: 'friday-batch',
  opensAt: '2027-10-22T16:00:00.000Z',
  closesAt: '2027-10-25T04:00:00.000Z',
  onMissed: 'open-late',
} as const;

describe('launchLines', () => {
  it('says how a held launch is released', () => {
    // Act
    const lines = launchLines({ jobId: 'job-1', launch: { mode: 'hold' } }, BERLIN, NOW);
    // Assess
    expect(lines).toEqual([['launch', 'held: `burstgate launch job-1` releases it']]);
  });

  it('shows a timed launch and its window in UTC and the zone', () => {
    // Act
    const lines = launchLines(
      { jobId: 'job-1', launch: { mode: 'at', at: WINDOW.opensAt }, window: WINDOW },
      BERLIN,
      NOW,
    );
    // Assess
    expect(lines).toEqual([
      [
        'launch',
        'at 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), in 4h (`burstgate launch job-1` releases it now)',
      ],
      [
        'window',
        'friday-batch: opens 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin), closes 2027-10-25 04:00 UTC (06:00 CEST Europe/Berlin)',
      ],
    ]);
  });

  it('says when and by what a launch was released, and nothing for a job that launched at once', () => {
    // Act
    const released = launchLines(
      {
        jobId: 'job-1',
        launch: {
          mode: 'at',
          at: WINDOW.opensAt,
          releasedAt: '2027-10-22T16:00:01.000Z',
          releasedBy: 'timer',
        },
      },
      BERLIN,
      NOW,
    );
    const none = launchLines({ jobId: 'job-2' }, BERLIN, NOW);
    // Assess
    expect(released).toEqual([
      [
        'launch',
        'released 2027-10-22 16:00:01 UTC (18:00:01 CEST Europe/Berlin) by its timer (planned 2027-10-22 16:00 UTC (18:00 CEST Europe/Berlin))',
      ],
    ]);
    expect(none).toEqual([]);
  });
});

describe('settled: where following an offload stops', () => {
  it.each([
    ['running', undefined, true],
    ['failed', undefined, true],
    ['cancelled', undefined, true],
    ['importing', undefined, false],
    ['staged', { mode: 'hold' }, true],
    ['staged', { mode: 'at', at: WINDOW.opensAt }, true],
    ['staged', { mode: 'hold', releasedAt: WINDOW.opensAt, releasedBy: 'api' }, false],
    ['launching', { mode: 'hold', releasedAt: WINDOW.opensAt, releasedBy: 'api' }, false],
  ] as const)('%s with launch %j: %s', (state, launch, stops) => {
    // Prepare
    const job = jobView({ state, ...(launch ? { launch } : {}) });
    // Act / Assess
    expect(settled(job)).toBe(stops);
  });
});

describe('GatewayClient: launches and schedules', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('POSTs a launch, and previews with the query it was given', async () => {
    // Prepare
    server = await startServer((req, res) =>
      req.url?.startsWith('/schedules/preview')
        ? sendJson(res, 200, { expression: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin', windows: [] })
        : sendJson(res, 202, { jobId: 'job-1', state: 'staged', launch: { mode: 'hold' } }),
    );
    const client = new GatewayClient({ baseUrl: server.url, apiKey: 'k' });
    // Act
    const launched = await client.launchOffload('job-1');
    await client.previewSchedule({ cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin', count: 3 });
    // Assess
    expect(launched.state).toBe('staged');
    expect(server.requests.map((r) => [r.method, r.url])).toEqual([
      ['POST', '/offloads/job-1/launch'],
      ['GET', '/schedules/preview?cron=cron%280+18+%3F+*+6+*%29&timeZone=Europe%2FBerlin&count=3'],
    ]);
  });

  it('refuses a schedule answer without its windows as a protocol error', async () => {
    // Prepare
    server = await startServer((_req, res) => sendJson(res, 200, { scheduleId: 'sch-1', name: 'x' }));
    const client = new GatewayClient({ baseUrl: server.url, apiKey: 'k' });
    // Act
    const err = await caught(client.getSchedule('x'));
    // Assess
    expect(err.kind).toBe('protocol');
    expect(err.message).toContain('GET /schedules/{id}');
    expect(err.message).toContain('no window, next windows and occurrences');
  });
});
