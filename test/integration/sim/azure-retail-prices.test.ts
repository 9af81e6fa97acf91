/**
 * The Retail Prices API on the ARM simulator through the gateway's adapter (HTTPS, the
 * simulator's certificate trusted, no credentials): every Azure key a quote needs priced as the
 * snapshot lists it, NextPageLink followed, the OData filter Azure takes and refuses, a next page
 * on another origin not followed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { AzureRetailPriceBook } from '../../../shared/clouds/azure/retail-prices';
import type { AzureRetailPriceItem } from '../../../shared/pricing/azure-meters';
import { LIST_PRICE_SNAPSHOT } from '../../../shared/pricing/list-price-snapshot';
import type { PriceKey } from '../../../shared/pricing/price-book';
import { SnapshotPriceBook } from '../../../shared/pricing/snapshot-book';
import { FAST_TIMING, useAzureSim } from '../../helpers/azure-sim';

const env = useAzureSim({ timing: FAST_TIMING });
const book = (now = new Date()) =>
  new AzureRetailPriceBook({ endpoint: env.sim.url, caPem: env.sim.ca, now: () => now });

const KEYS: PriceKey[] = [
  { cloud: 'azure', region: 'eastus', item: { kind: 'compute', size: 'Standard_D2s_v5', os: 'linux' } },
  { cloud: 'azure', region: 'eastus', item: { kind: 'compute', size: 'Standard_D2s_v5', os: 'windows' } },
  { cloud: 'azure', region: 'westeurope', item: { kind: 'compute', size: 'Standard_D2s_v5', os: 'windows' } },
  { cloud: 'azure', region: 'eastus', item: { kind: 'block-storage', volume: 'E15' } },
  { cloud: 'azure', region: 'eastus', item: { kind: 'snapshot-storage' } },
  { cloud: 'azure', region: 'westeurope', item: { kind: 'internet-egress' } },
];

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    request(url, { ca: env.sim.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('ARM simulator: Retail Prices', () => {
  it('prices every Azure key a quote needs as the snapshot lists it, following NextPageLink', async () => {
    // Prepare
    const now = new Date('2026-12-08T10:00:00Z');
    const snapshot = new SnapshotPriceBook(LIST_PRICE_SNAPSHOT);

    // Act
    const prices = await Promise.all(KEYS.map((k) => book(now).price(k)));

    // Assess
    for (const [i, key] of KEYS.entries()) {
      const expected = await snapshot.price(key);
      expect(expected, JSON.stringify(key)).toBeDefined();
      expect(prices[i]).toEqual({
        ...expected,
        source: { ...expected!.source, book: 'azure-retail-prices' },
        fetchedAt: now.toISOString(),
      });
    }
    // Standard SSD E15 per disk-month; egress at its first paid tier (100 GB free)
    expect(prices[3]).toMatchObject({ unit: 'month', unitPrice: 19.2 });
    expect(prices[5]).toMatchObject({ unit: 'GB', unitPrice: 0.087, source: { tierStartsAt: 100 } });
  });

  it('answers the envelope Azure does, five items a page, until NextPageLink is null', async () => {
    // Act: every item, page by page
    const seen: unknown[] = [];
    let next: string | null =
      `${env.sim.url}/api/retail/prices?$filter=${encodeURIComponent("armRegionName eq 'eastus'")}`;
    let pages = 0;
    while (next) {
      const { status, body } = await getJson(next);
      expect(status).toBe(200);
      expect(body).toMatchObject({
        BillingCurrency: 'USD',
        CustomerEntityId: 'Default',
        CustomerEntityType: 'Retail',
      });
      seen.push(...(body.Items as unknown[]));
      expect(body.Count).toBe((body.Items as unknown[]).length);
      next = body.NextPageLink as string | null;
      pages++;
    }

    // Assess
    const eastus = LIST_PRICE_SNAPSHOT.azure.filter((i) => i.armRegionName === 'eastus');
    expect(seen).toEqual(eastus);
    expect(pages).toBe(Math.ceil(eastus.length / 5));
  });

  it.each([
    ["a function Azure's filter does not take here", "contains(skuName, 'Spot')"],
    ['a field that is not filterable', "retailPrice eq '0.1'"],
    ['an operator other than eq', "armRegionName ne 'eastus'"],
  ])('refuses %s with InvalidFilter', async (_what, filter) => {
    const { status, body } = await getJson(
      `${env.sim.url}/api/retail/prices?$filter=${encodeURIComponent(filter)}`,
    );
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { code: 'InvalidFilter' } });
  });

  it('reads a key across several pages of one meter', async () => {
    // Prepare: a simulator whose egress meter has twelve tiers (three pages)
    const tiers: AzureRetailPriceItem[] = Array.from({ length: 12 }, (_, i) => ({
      ...LIST_PRICE_SNAPSHOT.azure.find(
        (x) => x.serviceName === 'Bandwidth' && x.armRegionName === 'eastus',
      )!,
      tierMinimumUnits: i * 100,
      retailPrice: i === 0 ? 0 : 0.1 - i * 0.001,
      unitPrice: i === 0 ? 0 : 0.1 - i * 0.001,
    }));
    const { startAzureSimulator } = await import('../../../infra/local/sim/azure');
    const sim = await startAzureSimulator({ retailPrices: tiers });
    try {
      // Act
      const p = await new AzureRetailPriceBook({ endpoint: sim.url, caPem: sim.ca }).price({
        cloud: 'azure',
        region: 'eastus',
        item: { kind: 'internet-egress' },
      });

      // Assess: the first paid tier, though the free one and the others came on other pages
      expect(p).toMatchObject({ unitPrice: 0.099, source: { tierStartsAt: 100 } });
      expect(sim.calls.filter((c) => c.action === 'RetailPrices')).toHaveLength(3);
    } finally {
      await sim.close();
    }
  });
});

describe('AzureRetailPriceBook against a hostile endpoint', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });
  async function serve(handler: (url: string) => { status: number; body: string }): Promise<string> {
    const server = createServer((req, res) => {
      const out = handler(req.url ?? '/');
      res.writeHead(out.status, { 'content-type': 'application/json' }).end(out.body);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  const key = KEYS[0]!;

  it('does not follow a next page on another origin', async () => {
    const other = await serve(() => ({ status: 500, body: '{}' }));
    const url = await serve(() => ({
      status: 200,
      body: JSON.stringify({ Items: [], NextPageLink: `${other}/api/retail/prices?$skip=100` }),
    }));
    await expect(new AzureRetailPriceBook({ endpoint: url }).price(key)).rejects.toMatchObject({
      code: 'PRICES_UNAVAILABLE',
      message: expect.stringContaining('not followed'),
    });
  });

  it('refuses an answer that is not JSON, has no Items, or is larger than the page limit', async () => {
    const notJson = await serve(() => ({ status: 200, body: '<html>' }));
    const noItems = await serve(() => ({ status: 200, body: '{"Count":0}' }));
    const huge = await serve(() => ({
      status: 200,
      body: JSON.stringify({ Items: [], pad: 'x'.repeat(5000) }),
    }));
    const failing = await serve(() => ({ status: 503, body: '{"error":"busy"}' }));
    await expect(new AzureRetailPriceBook({ endpoint: notJson }).price(key)).rejects.toMatchObject({
      message: expect.stringContaining('not JSON'),
    });
    await expect(new AzureRetailPriceBook({ endpoint: noItems }).price(key)).rejects.toMatchObject({
      message: expect.stringContaining('no Items'),
    });
    await expect(
      new AzureRetailPriceBook({ endpoint: huge, maxPageBytes: 1000 }).price(key),
    ).rejects.toMatchObject({ message: expect.stringContaining('larger than 1000') });
    await expect(new AzureRetailPriceBook({ endpoint: failing }).price(key)).rejects.toMatchObject({
      code: 'PRICES_UNAVAILABLE',
      message: expect.stringContaining('HTTP 503'),
    });
  });

  it('stops after maxPages of a filter that matches too much', async () => {
    let n = 0;
    const url = await serve(() => ({
      status: 200,
      body: JSON.stringify({ Items: [], NextPageLink: `${base}/api/retail/prices?$skip=${++n * 100}` }),
    }));
    const base = url;
    await expect(new AzureRetailPriceBook({ endpoint: url, maxPages: 3 }).price(key)).rejects.toMatchObject({
      code: 'PRICES_AMBIGUOUS',
    });
    expect(n).toBe(3);
  });
});
