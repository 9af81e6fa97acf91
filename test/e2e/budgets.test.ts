/**
 * Budgets over HTTP on the embedded deployment: an admin sets a tenant's monthly budget; the tenant
 * reads its own; every accepted offload carries its estimate (list prices from the simulators' price
 * list, the lease's hours) and the month commits it; a hard budget refuses an offload whose estimate
 * would pass what is left before anything is created, naming the estimate, what is left and the
 * lease that fits; a soft one lets it through; scopes hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueApiKey } from '../../shared/domain/api-keys';
import { ApiKeyStore } from '../../shared/store/api-key-store';
import { runCli } from '../helpers/cli';
import { callApi, liveSimResources, startTestGateway, type TestGateway } from '../helpers/embedded';

const MiB = 1024 * 1024;
let gw: TestGateway;
const keys = { a: '', b: '', admin: '' };

async function keyFor(tenant: string, scopes: string[]): Promise<string> {
  const store = new ApiKeyStore(gw.deps.ddb, gw.deps.config.jobsTable);
  return (await issueApiKey(store, { tenant, scopes, label: `e2e-${tenant}` }, gw.clock.now())).key;
}
const as = (apiKey: string, method: string, path: string, body?: unknown) =>
  callApi(gw, method, path, body, { apiKey });

/** An offload of a 64 MiB image to t3.medium (us-east-1) whose lease ends `hours` from now. */
function offload(hours: number, instanceType = 't3.medium') {
  return {
    vmName: `budget-vm-${hours}-${instanceType}`,
    imageFormat: 'ova',
    imageSizeBytes: 64 * MiB,
    target: { cloud: 'aws', region: 'us-east-1', instanceType, mode: 'direct' },
    lease: { expiresAt: new Date(gw.clock.now().getTime() + hours * 3_600_000).toISOString() },
  };
}

beforeAll(async () => {
  gw = await startTestGateway({ azure: false });
  keys.a = await keyFor('team-a', ['read', 'offload', 'cancel']);
  keys.b = await keyFor('team-b', ['read', 'offload']);
  keys.admin = await keyFor('ops', ['admin']);
});
afterAll(async () => {
  await gw?.close();
});

describe('budgets', () => {
  it('are set by an admin only, and read by the tenant (its own) or an admin', async () => {
    // Act
    const refused = await as(keys.a, 'PUT', '/budgets/team-a', { monthlyUsd: 5 });
    const missing = await as(keys.a, 'GET', '/budget');
    const set = await as(keys.admin, 'PUT', '/budgets/team-a', { monthlyUsd: 5, mode: 'hard' });
    const again = await as(keys.admin, 'PUT', '/budgets/team-a', { monthlyUsd: 5, mode: 'hard' });
    const own = await as(keys.a, 'GET', '/budget');
    const other = await as(keys.b, 'GET', '/budgets/team-a');
    const bad = await as(keys.admin, 'PUT', '/budgets/team-a', { monthlyUsd: 5, thresholds: [80, 50] });

    // Assess
    expect(refused.status).toBe(403);
    expect(refused.body.type).toMatch(/scope-missing$/);
    expect(missing.status).toBe(404);
    expect(missing.body.type).toMatch(/budget-not-found$/);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      tenant: 'team-a',
      monthlyUsd: 5,
      mode: 'hard',
      thresholds: [50, 80, 100],
      committedUsd: 0,
      remainingUsd: 5,
      jobs: 0,
      month: gw.clock.now().toISOString().slice(0, 7),
    });
    expect(again.body).toEqual(set.body);
    expect(own.body).toEqual(set.body);
    expect(other.status).toBe(403);
    expect(bad.status).toBe(400);
  });

  it('keeps each accepted offload’s estimate on the job and commits it to the month', async () => {
    // Act: 8 hours of t3.medium
    const created = await as(keys.a, 'POST', '/offloads', offload(8));
    const job = await as(keys.a, 'GET', `/offloads/${created.body.jobId}`);
    const budget = await as(keys.a, 'GET', '/budget');

    // Assess: the estimate is the trip at list prices ($0.0416/h of t3.medium for 8 h and the rest)
    expect(created.status).toBe(202);
    const cost = job.body.cost;
    expect(cost).toMatchObject({ currency: 'USD', hours: 8 });
    expect(cost.estimated).toBeGreaterThan(8 * 0.0416 - 0.01);
    expect(cost.estimated).toBeLessThan(1);
    expect(cost.basis).toMatch(/^t3\.medium \(linux, assumed\) for 8\.0 h/);
    expect(budget.body).toMatchObject({ jobs: 1, committedUsd: cost.estimated });
    expect(budget.body.remainingUsd).toBeCloseTo(5 - cost.estimated, 2);
  });

  it('refuses an offload past a hard budget before anything is created, naming the lease that fits', async () => {
    // Prepare
    const before = await liveSimResources(gw);
    const listed = (await as(keys.a, 'GET', '/offloads')).body.items.length;

    // Act: 300 hours of m5.2xlarge ($0.384/h) is far past the $5
    const refused = await as(keys.a, 'POST', '/offloads', offload(300, 'm5.2xlarge'));

    // Assess
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      type: 'https://burstgate.dev/problems/budget-exceeded',
      status: 409,
    });
    expect(refused.body.detail).toMatch(
      /^the offload is estimated at \d+\.\d\d USD \(m5\.2xlarge .*\); tenant team-a has \d\.\d\d USD left of 5 USD for \d{4}-\d\d .*; a lease of at most \d+ h would fit\. Nothing was created\.$/,
    );
    expect((await as(keys.a, 'GET', '/offloads')).body.items).toHaveLength(listed);
    expect(await liveSimResources(gw)).toEqual(before);
    // the lease it names fits
    const hours = Number(/at most (\d+) h/.exec(refused.body.detail)?.[1]);
    const fits = await as(keys.a, 'POST', '/offloads', offload(hours, 'm5.2xlarge'));
    expect(fits.status).toBe(202);
  });

  it('lets a soft budget be passed, and a tenant without a budget offload freely', async () => {
    await as(keys.admin, 'PUT', '/budgets/team-a', { monthlyUsd: 1, mode: 'soft' });
    const over = await as(keys.a, 'POST', '/offloads', offload(300, 'm5.2xlarge'));
    const free = await as(keys.b, 'POST', '/offloads', offload(300, 'm5.2xlarge'));
    expect(over.status).toBe(202);
    expect(free.status).toBe(202);
    const budget = await as(keys.a, 'GET', '/budget');
    expect(budget.body.remainingUsd).toBeLessThan(0);
  });
});

describe('burstgate budget', () => {
  const cli = (key: string, args: string[]) =>
    runCli(['budget', ...args, '--gateway', gw.apiUrl, '--api-key', key]);

  it('sets a budget with an admin key and shows the tenant its own', async () => {
    // Act
    const set = await cli(keys.admin, ['set', 'team-c', '--monthly-usd', '250', '--thresholds', '75,100']);
    const refused = await cli(keys.a, ['set', 'team-a', '--monthly-usd', '1']);
    const shown = await cli(keys.admin, ['show', '--tenant', 'team-c', '--json']);
    const own = await cli(keys.a, ['show']);

    // Assess
    expect(set.code).toBe(0);
    expect(set.stdout).toContain('250.00 USD a month (hard; alerts at 75, 100 %)');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/admin/);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      tenant: 'team-c',
      monthlyUsd: 250,
      thresholds: [75, 100],
    });
    expect(own.code).toBe(0);
    expect(own.stdout).toMatch(/^tenant {6}team-a\n/);
  });

  it('refuses a budget that is not a positive amount (exit 2)', async () => {
    const run = await cli(keys.admin, ['set', 'team-c', '--monthly-usd', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--monthly-usd must be a positive number/);
  });
});
