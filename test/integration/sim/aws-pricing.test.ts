/**
 * The Price List Query API on the AWS simulator through the real @aws-sdk/client-pricing: the
 * PriceBook adapter reads every key the quotes need, page by page, to the same prices as the
 * snapshot book; the simulator refuses what AWS refuses; a throttled call is a typed error.
 */
import { GetProductsCommand, PricingClient, type GetProductsCommandInput } from '@aws-sdk/client-pricing';
import { afterAll, describe, expect, it } from 'vitest';
import { AwsPriceListBook } from '../../../shared/clouds/aws/price-list';
import { LIST_PRICE_SNAPSHOT } from '../../../shared/pricing/list-price-snapshot';
import type { PriceKey, ServiceMeter } from '../../../shared/pricing/price-book';
import { SnapshotPriceBook } from '../../../shared/pricing/snapshot-book';
import { useSimEnv } from '../../helpers/aws-sim';

const env = useSimEnv();
const clients: PricingClient[] = [];
function pricing(): PricingClient {
  const c = new PricingClient({
    endpoint: env.sim.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}
afterAll(() => clients.forEach((c) => c.destroy()));

const R = 'us-east-1';
const METERS: ServiceMeter[] = [
  's3-write-requests',
  's3-read-requests',
  'ebs-put-block',
  'ebs-get-block',
  'ebs-list-blocks',
  'lambda-requests',
  'lambda-gb-seconds',
  'sfn-state-transitions',
];
const KEYS: PriceKey[] = [
  { cloud: 'aws', region: R, item: { kind: 'compute', size: 'm5.large', os: 'linux' } },
  { cloud: 'aws', region: R, item: { kind: 'compute', size: 'm6i.2xlarge', os: 'windows' } },
  { cloud: 'aws', region: R, item: { kind: 'block-storage', volume: 'gp3' } },
  { cloud: 'aws', region: R, item: { kind: 'snapshot-storage' } },
  { cloud: 'aws', region: R, item: { kind: 'object-storage' } },
  { cloud: 'aws', region: R, item: { kind: 'internet-egress' } },
  ...METERS.map((meter): PriceKey => ({ cloud: 'aws', region: R, item: { kind: 'service', meter } })),
];

describe('AWS simulator: Price List GetProducts', () => {
  it('prices every key a quote needs as the snapshot lists it, with SKU, rate code and fetch time', async () => {
    // Prepare: one product per page, so every key is read across pages
    const now = new Date('2026-12-08T10:00:00Z');
    const live = new AwsPriceListBook(pricing(), { pageSize: 1, now: () => now });
    const snapshot = new SnapshotPriceBook(LIST_PRICE_SNAPSHOT);

    // Act
    const prices = await Promise.all(KEYS.map((k) => live.price(k)));

    // Assess
    for (const [i, key] of KEYS.entries()) {
      const expected = await snapshot.price(key);
      expect(prices[i], JSON.stringify(key.item)).toEqual({
        ...expected,
        source: { ...expected!.source, book: 'aws-price-list' },
        fetchedAt: now.toISOString(),
      });
    }
    expect(prices[0]).toMatchObject({
      unitPrice: 0.096,
      source: { sku: '6C86BEPQVG73ZGGR', rate: '6C86BEPQVG73ZGGR.JRTCKXETXF.6YS6EN2CT7' },
    });
    // Lambda's request group also holds Lambda@Edge; Windows has a BYOL product beside it
    expect(prices[KEYS.length - 3]?.unitPrice).toBe(0.0000002);
    expect(prices[1]?.unitPrice).toBe(0.752);
  });

  it('answers nothing for a type or region the list has no price for', async () => {
    const live = new AwsPriceListBook(pricing());
    await expect(
      live.price({ cloud: 'aws', region: R, item: { kind: 'compute', size: 'm5.4xlarge', os: 'windows' } }),
    ).resolves.toBeUndefined();
    await expect(
      live.price({ cloud: 'aws', region: 'ap-south-2', item: { kind: 'block-storage', volume: 'gp3' } }),
    ).resolves.toBeUndefined();
  });

  it('sends PriceList entries as JSON documents in strings and pages with a token bound to its query', async () => {
    // Act
    const client = pricing();
    const filters = [{ Type: 'TERM_MATCH' as const, Field: 'regionCode', Value: R }];
    const first = await client.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonS3',
        Filters: filters,
        FormatVersion: 'aws_v1',
        MaxResults: 2,
      }),
    );
    const second = await client.send(
      new GetProductsCommand({
        ServiceCode: 'AmazonS3',
        Filters: filters,
        MaxResults: 2,
        NextToken: first.NextToken,
      }),
    );

    // Assess
    expect(first.FormatVersion).toBe('aws_v1');
    expect(first.PriceList).toHaveLength(2);
    const skus = [...(first.PriceList ?? []), ...(second.PriceList ?? [])].map(
      (p) => (JSON.parse(String(p)) as { product: { sku: string } }).product.sku,
    );
    expect(new Set(skus)).toEqual(new Set(['WP9ANXZGBYYSGJEA', 'E9YHNFENF4XQBZR6', 'ZWQ6Q48CRJXX4FXE']));
    expect(second.NextToken).toBeUndefined();
  });

  it.each<[string, GetProductsCommandInput, string]>([
    ['an unknown service code', { ServiceCode: 'AmazonNothing' }, 'NotFoundException'],
    ['MaxResults above 100', { ServiceCode: 'AmazonEC2', MaxResults: 101 }, 'InvalidParameterException'],
    [
      'a FormatVersion other than aws_v1',
      { ServiceCode: 'AmazonEC2', FormatVersion: 'aws_v2' },
      'InvalidParameterException',
    ],
    [
      'a filter type AWS does not define',
      {
        ServiceCode: 'AmazonEC2',
        Filters: [{ Type: 'PREFIX' as never, Field: 'instanceType', Value: 'm5' }],
      },
      'InvalidParameterException',
    ],
    [
      'a NextToken of another query',
      { ServiceCode: 'AmazonEC2', NextToken: 'eyJxIjoieCIsIm8iOjF9' },
      'InvalidNextTokenException',
    ],
  ])('refuses %s', async (_what, input, code) => {
    await expect(pricing().send(new GetProductsCommand(input))).rejects.toMatchObject({ name: code });
  });

  it('turns a throttled GetProducts into PRICES_UNAVAILABLE naming the key', async () => {
    // Prepare
    env.sim.setFaults({ throttle: { actions: ['GetProducts'], count: 1 } });
    const live = new AwsPriceListBook(pricing());

    // Act / Assess
    await expect(live.price(KEYS[2]!)).rejects.toMatchObject({
      name: 'PriceBookError',
      code: 'PRICES_UNAVAILABLE',
      message: expect.stringContaining('aws:us-east-1:block-storage:gp3'),
    });
    env.sim.setFaults({});
    await expect(live.price(KEYS[2]!)).resolves.toMatchObject({ unitPrice: 0.08 });
  });
});
