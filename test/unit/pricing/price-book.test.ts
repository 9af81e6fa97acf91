import { describe, expect, it } from 'vitest';
import { awsProductQuery, pickAwsPrice, type AwsPriceListItem } from '../../../shared/pricing/aws-products';
import {
  azureFilterText,
  azureMeterQuery,
  pickAzurePrice,
  type AzureRetailPriceItem,
} from '../../../shared/pricing/azure-meters';
import {
  CachedPriceBook,
  PriceBookError,
  type Price,
  type PriceBook,
  type PriceKey,
} from '../../../shared/pricing/price-book';

const m5large: PriceKey = {
  cloud: 'aws',
  region: 'us-east-1',
  item: { kind: 'compute', size: 'm5.large', os: 'linux' },
};

function ec2(sku: string, usd: string, attrs: Record<string, string> = {}): AwsPriceListItem {
  return {
    serviceCode: 'AmazonEC2',
    product: {
      sku,
      productFamily: 'Compute Instance',
      attributes: {
        regionCode: 'us-east-1',
        instanceType: 'm5.large',
        operatingSystem: 'Linux',
        tenancy: 'Shared',
        preInstalledSw: 'NA',
        capacitystatus: 'Used',
        licenseModel: 'No License required',
        operation: 'RunInstances',
        ...attrs,
      },
    },
    terms: {
      OnDemand: {
        [`${sku}.JRTCKXETXF`]: {
          sku,
          offerTermCode: 'JRTCKXETXF',
          effectiveDate: '2026-09-01T00:00:00Z',
          priceDimensions: {
            [`${sku}.JRTCKXETXF.6YS6EN2CT7`]: {
              rateCode: `${sku}.JRTCKXETXF.6YS6EN2CT7`,
              description: `$${Number(usd)} per On Demand Linux m5.large Instance Hour`,
              unit: 'Hrs',
              beginRange: '0',
              endRange: 'Inf',
              pricePerUnit: { USD: usd },
            },
          },
        },
      },
    },
  };
}

describe('AWS price-list matching', () => {
  it('reads the on-demand hourly rate of the product the filters name, with its SKU and rate code', () => {
    // Prepare: the Linux product, a Windows one and a dedicated one of the same type
    const items = [
      ec2('6C86BEPQVG73ZGGR', '0.0960000000'),
      ec2('WINDOWS000000001', '0.1880000000', { operatingSystem: 'Windows', operation: 'RunInstances:0002' }),
      ec2('DEDICATED0000001', '0.1010000000', { tenancy: 'Dedicated' }),
    ];
    // Act
    const p = pickAwsPrice(
      m5large,
      awsProductQuery(m5large),
      items,
      'aws-price-list',
      '2026-12-08T00:00:00.000Z',
    );
    // Assess
    expect(p).toMatchObject({
      unit: 'hour',
      unitPrice: 0.096,
      currency: 'USD',
      source: {
        book: 'aws-price-list',
        sku: '6C86BEPQVG73ZGGR',
        rate: '6C86BEPQVG73ZGGR.JRTCKXETXF.6YS6EN2CT7',
        effectiveDate: '2026-09-01T00:00:00Z',
      },
      fetchedAt: '2026-12-08T00:00:00.000Z',
    });
  });

  it('tells Windows with its licence apart from Linux by operating system and operation', () => {
    const key: PriceKey = { ...m5large, item: { kind: 'compute', size: 'm5.large', os: 'windows' } };
    const items = [
      ec2('LINUX00000000001', '0.0960000000'),
      ec2('WINDOWS000000001', '0.1880000000', { operatingSystem: 'Windows', operation: 'RunInstances:0002' }),
      ec2('WINBYOL000000001', '0.0960000000', {
        operatingSystem: 'Windows',
        operation: 'RunInstances:0800',
        licenseModel: 'Bring your own license',
      }),
    ];
    expect(pickAwsPrice(key, awsProductQuery(key), items, 'snapshot', 'x')?.unitPrice).toBe(0.188);
  });

  it('reads a tiered price at its first paid tier and says where that tier starts', () => {
    const key: PriceKey = { cloud: 'aws', region: 'us-east-1', item: { kind: 'internet-egress' } };
    const item: AwsPriceListItem = {
      serviceCode: 'AWSDataTransfer',
      product: {
        sku: 'EGRESS0000000001',
        productFamily: 'Data Transfer',
        attributes: { fromRegionCode: 'us-east-1', transferType: 'AWS Outbound', toLocation: 'External' },
      },
      terms: {
        OnDemand: {
          t: {
            sku: 'EGRESS0000000001',
            offerTermCode: 'JRTCKXETXF',
            effectiveDate: '2026-08-01T00:00:00Z',
            priceDimensions: {
              a: {
                rateCode: 'a',
                description: 'next 40 TB',
                unit: 'GB',
                beginRange: '10240',
                endRange: '51200',
                pricePerUnit: { USD: '0.085' },
              },
              b: {
                rateCode: 'b',
                description: 'free',
                unit: 'GB',
                beginRange: '0',
                endRange: '100',
                pricePerUnit: { USD: '0' },
              },
              c: {
                rateCode: 'c',
                description: 'first paid',
                unit: 'GB',
                beginRange: '100',
                endRange: '10240',
                pricePerUnit: { USD: '0.09' },
              },
            },
          },
        },
      },
    };
    const p = pickAwsPrice(key, awsProductQuery(key), [item], 'aws-price-list', 'x');
    expect(p).toMatchObject({ unit: 'GB', unitPrice: 0.09, source: { rate: 'c', tierStartsAt: 100 } });
  });

  it('refuses products that disagree, and one whose price is not a number', () => {
    const q = awsProductQuery(m5large);
    expect(() => pickAwsPrice(m5large, q, [ec2('A', '0.096'), ec2('B', '0.1')], 'snapshot', 'x')).toThrow(
      expect.objectContaining({ code: 'PRICES_AMBIGUOUS' }),
    );
    expect(() => pickAwsPrice(m5large, q, [ec2('A', 'cheap')], 'snapshot', 'x')).toThrow(
      expect.objectContaining({ code: 'PRICES_UNAVAILABLE' }),
    );
    expect(pickAwsPrice(m5large, q, [], 'snapshot', 'x')).toBeUndefined();
  });
});

function meter(over: Partial<AzureRetailPriceItem>): AzureRetailPriceItem {
  return {
    currencyCode: 'USD',
    tierMinimumUnits: 0,
    retailPrice: 0.104,
    unitPrice: 0.104,
    armRegionName: 'westeurope',
    location: 'EU West',
    effectiveStartDate: '2026-05-01T00:00:00Z',
    meterId: 'meter-linux',
    meterName: 'D2s v5',
    productId: 'DZH318Z0BQ4L',
    skuId: 'DZH318Z0BQ4L/00CW',
    productName: 'Virtual Machines DSv5 Series',
    skuName: 'D2s v5',
    serviceName: 'Virtual Machines',
    serviceId: 'DZH313Z7MMC8',
    serviceFamily: 'Compute',
    unitOfMeasure: '1 Hour',
    type: 'Consumption',
    isPrimaryMeterRegion: true,
    armSkuName: 'Standard_D2s_v5',
    ...over,
  };
}

describe('Azure retail-price matching', () => {
  const key: PriceKey = {
    cloud: 'azure',
    region: 'westeurope',
    item: { kind: 'compute', size: 'Standard_D2s_v5', os: 'linux' },
  };

  it('builds the OData filter with quotes doubled', () => {
    const q = azureMeterQuery(key)!;
    expect(azureFilterText(q)).toBe(
      "serviceName eq 'Virtual Machines' and armRegionName eq 'westeurope' and armSkuName eq 'Standard_D2s_v5' and priceType eq 'Consumption'",
    );
    expect(azureFilterText({ filters: [{ field: 'productName', value: "it's" }] })).toBe(
      "productName eq 'it''s'",
    );
  });

  it('picks pay-as-you-go Linux over Spot, Low Priority and Windows meters', () => {
    const items = [
      meter({}),
      meter({ meterId: 'meter-spot', skuName: 'D2s v5 Spot', retailPrice: 0.02 }),
      meter({ meterId: 'meter-low', skuName: 'D2s v5 Low Priority', retailPrice: 0.02 }),
      meter({
        meterId: 'meter-win',
        productName: 'Virtual Machines DSv5 Series Windows',
        retailPrice: 0.196,
      }),
    ];
    const linux = pickAzurePrice(key, azureMeterQuery(key)!, items, 'azure-retail-prices', 'x');
    expect(linux).toMatchObject({
      unitPrice: 0.104,
      unit: 'hour',
      source: { rate: 'meter-linux', sku: 'DZH318Z0BQ4L/00CW' },
    });
    const winKey: PriceKey = { ...key, item: { kind: 'compute', size: 'Standard_D2s_v5', os: 'windows' } };
    expect(pickAzurePrice(winKey, azureMeterQuery(winKey)!, items, 'snapshot', 'x')?.unitPrice).toBe(0.196);
  });

  it('reads the first paid tier of a tiered meter', () => {
    const egress: PriceKey = { cloud: 'azure', region: 'westeurope', item: { kind: 'internet-egress' } };
    const base = {
      serviceName: 'Bandwidth',
      productName: 'Rtn Preference: MGN',
      meterName: 'Standard Data Transfer Out',
      unitOfMeasure: '1 GB',
      meterId: 'bw',
    };
    const items = [
      meter({ ...base, tierMinimumUnits: 0, retailPrice: 0 }),
      meter({ ...base, tierMinimumUnits: 10340, retailPrice: 0.083 }),
      meter({ ...base, tierMinimumUnits: 100, retailPrice: 0.087 }),
    ];
    expect(pickAzurePrice(egress, azureMeterQuery(egress)!, items, 'snapshot', 'x')).toMatchObject({
      unitPrice: 0.087,
      source: { tierStartsAt: 100 },
    });
  });

  it('has no Azure price for what Azure does not bill the gateway', () => {
    expect(
      azureMeterQuery({
        cloud: 'azure',
        region: 'westeurope',
        item: { kind: 'service', meter: 'lambda-requests' },
      }),
    ).toBeUndefined();
  });
});

describe('CachedPriceBook', () => {
  class CountingBook implements PriceBook {
    calls = 0;
    fail = false;
    async price(key: PriceKey): Promise<Price | undefined> {
      this.calls++;
      if (this.fail) throw new PriceBookError('PRICES_UNAVAILABLE', 'down');
      return key.region === 'nowhere'
        ? undefined
        : {
            key,
            unit: 'hour',
            unitPrice: 1,
            currency: 'USD',
            fetchedAt: 'x',
            source: { book: 'snapshot', sku: 's', rate: 'r', description: 'd', effectiveDate: 'e' },
          };
    }
  }

  it('keeps answers, "not listed" too, for the TTL; shares one lookup; forgets failures', async () => {
    // Prepare
    let now = 0;
    const inner = new CountingBook();
    const book = new CachedPriceBook(inner, { ttlMs: 1000, now: () => new Date(now) });
    const nowhere: PriceKey = { ...m5large, region: 'nowhere' };
    // Act / Assess: concurrent asks share one call
    await Promise.all([book.price(m5large), book.price(m5large)]);
    expect(inner.calls).toBe(1);
    expect(await book.price(nowhere)).toBeUndefined();
    expect(await book.price(nowhere)).toBeUndefined();
    expect(inner.calls).toBe(2);
    // past the TTL it asks again
    now = 1000;
    await book.price(m5large);
    expect(inner.calls).toBe(3);
    // a failure is not kept
    inner.fail = true;
    now = 5000;
    await expect(book.price(m5large)).rejects.toMatchObject({ code: 'PRICES_UNAVAILABLE' });
    inner.fail = false;
    expect((await book.price(m5large))?.unitPrice).toBe(1);
  });

  it('holds at most maxEntries keys', async () => {
    const inner = new CountingBook();
    const book = new CachedPriceBook(inner, { maxEntries: 1 });
    await book.price(m5large);
    await book.price({ ...m5large, region: 'eu-central-1' });
    await book.price(m5large);
    expect(inner.calls).toBe(3);
  });
});
