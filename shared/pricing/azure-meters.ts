/**
 * How a price key is found in the Azure Retail Prices API (`GET /api/retail/prices?$filter=…`,
 * items with `meterId`, `skuId`, `retailPrice`, `unitOfMeasure`, `effectiveStartDate`) and how a
 * price is read out of its items. Pure: the retail-prices adapter, the snapshot book and the ARM
 * simulator's filter evaluation share it.
 *
 * The gateway itself runs in AWS, so an Azure quote prices only what Azure bills: the VM, its
 * managed disk (by tier), incremental snapshots and data leaving Azure.
 */
import { PriceBookError, priceKeyId, type Price, type PriceKey, type PriceUnit } from './price-book';

/** One item of a Retail Prices answer (the fields read here; Azure sends a few more). */
export interface AzureRetailPriceItem {
  currencyCode: string;
  tierMinimumUnits: number;
  retailPrice: number;
  unitPrice: number;
  armRegionName: string;
  location: string;
  effectiveStartDate: string;
  meterId: string;
  meterName: string;
  productId: string;
  skuId: string;
  productName: string;
  skuName: string;
  serviceName: string;
  serviceId: string;
  serviceFamily: string;
  unitOfMeasure: string;
  type: string;
  isPrimaryMeterRegion: boolean;
  armSkuName: string;
}

/** The string fields `$filter` may compare (`field eq 'value'`). */
export type AzureFilterField =
  | 'serviceName'
  | 'serviceFamily'
  | 'armRegionName'
  | 'armSkuName'
  | 'productName'
  | 'skuName'
  | 'meterName'
  | 'priceType'
  | 'currencyCode';

export interface AzureMeterQuery {
  /** Joined with `and` into the OData filter. */
  filters: ReadonlyArray<{ field: AzureFilterField; value: string }>;
  accept?: (item: AzureRetailPriceItem) => boolean;
  /** Azure's unit of measure, and how many of our units one of it is (`10K` transactions: 10000). */
  listUnit: string;
  unit: PriceUnit;
  per?: number;
}

/** Tier names of managed disks by product (the first letter says which). */
const DISK_PRODUCTS: Readonly<Record<string, string>> = {
  E: 'Standard SSD Managed Disks',
  P: 'Premium SSD Managed Disks',
  S: 'Standard HDD Managed Disks',
};

/** The query that finds `key` in the retail prices; undefined for what Azure does not bill the gateway. */
export function azureMeterQuery(key: PriceKey): AzureMeterQuery | undefined {
  if (key.cloud !== 'azure') throw new TypeError(`azureMeterQuery: ${priceKeyId(key)} is not an Azure key`);
  const region = key.region;
  const item = key.item;
  switch (item.kind) {
    case 'compute':
      return {
        filters: [
          { field: 'serviceName', value: 'Virtual Machines' },
          { field: 'armRegionName', value: region },
          { field: 'armSkuName', value: item.size },
          { field: 'priceType', value: 'Consumption' },
        ],
        // pay-as-you-go, not Spot or Low Priority; Windows meters are the products named "… Windows"
        accept: (i) =>
          !/\b(Spot|Low Priority)\b/.test(i.skuName) &&
          /\bWindows$/.test(i.productName) === (item.os === 'windows'),
        listUnit: '1 Hour',
        unit: 'hour',
      };
    case 'block-storage': {
      const product = DISK_PRODUCTS[item.volume.charAt(0)];
      if (!product || !/^[EPS]\d{1,2}$/.test(item.volume)) return undefined;
      return {
        filters: [
          { field: 'serviceName', value: 'Storage' },
          { field: 'armRegionName', value: region },
          { field: 'productName', value: product },
          { field: 'skuName', value: `${item.volume} LRS` },
          { field: 'priceType', value: 'Consumption' },
        ],
        // the disk itself, not its transactions or bursting meters
        accept: (i) => i.meterName === `${item.volume} LRS Disk`,
        listUnit: '1/Month',
        unit: 'month',
      };
    }
    case 'snapshot-storage':
      return {
        filters: [
          { field: 'serviceName', value: 'Storage' },
          { field: 'armRegionName', value: region },
          // incremental snapshots are billed on standard HDD storage, whatever the disk's type
          { field: 'productName', value: 'Standard HDD Managed Disks' },
          { field: 'meterName', value: 'LRS Snapshots' },
          { field: 'priceType', value: 'Consumption' },
        ],
        listUnit: '1 GB/Month',
        unit: 'GB-month',
      };
    case 'internet-egress':
      return {
        filters: [
          { field: 'serviceName', value: 'Bandwidth' },
          { field: 'armRegionName', value: region },
          // the default routing (Microsoft global network), not the opt-in internet routing
          { field: 'productName', value: 'Rtn Preference: MGN' },
          { field: 'meterName', value: 'Standard Data Transfer Out' },
          { field: 'priceType', value: 'Consumption' },
        ],
        listUnit: '1 GB',
        unit: 'GB',
      };
    case 'object-storage':
    case 'service':
      return undefined;
  }
}

/** The OData `$filter` of a query (single quotes in values doubled, as OData escapes them). */
export function azureFilterText(query: Pick<AzureMeterQuery, 'filters'>): string {
  return query.filters.map(({ field, value }) => `${field} eq '${value.replace(/'/g, "''")}'`).join(' and ');
}

/** Whether an item passes the filters (`priceType` is Azure's name for the item's `type`). */
export function azureItemMatches(
  item: AzureRetailPriceItem,
  query: Pick<AzureMeterQuery, 'filters'>,
): boolean {
  return query.filters.every(({ field, value }) => azureItemField(item, field) === value);
}

/** An item's value of a `$filter` field (`priceType` is Azure's name for the item's `type`). */
export function azureItemField(item: AzureRetailPriceItem, field: string): unknown {
  return field === 'priceType' ? item.type : (item as unknown as Record<string, unknown>)[field];
}

/**
 * The USD price of `key` among `items` (a Retail Prices answer for its filter), at the first paid
 * tier (Azure's free egress allowance is the subscription's, not one VM's). Undefined when nothing
 * matches; throws PRICES_AMBIGUOUS when items disagree.
 */
export function pickAzurePrice(
  key: PriceKey,
  query: AzureMeterQuery,
  items: readonly AzureRetailPriceItem[],
  book: 'azure-retail-prices' | 'snapshot',
  fetchedAt: string,
): Price | undefined {
  const candidates = items.filter(
    (i) =>
      azureItemMatches(i, query) &&
      i.currencyCode === 'USD' &&
      i.unitOfMeasure === query.listUnit &&
      (query.accept?.(i) ?? true),
  );
  for (const i of candidates) {
    if (!Number.isFinite(i.retailPrice) || i.retailPrice < 0 || !Number.isFinite(i.tierMinimumUnits)) {
      throw new PriceBookError(
        'PRICES_UNAVAILABLE',
        `the Azure retail price of meter ${i.meterId} for ${priceKeyId(key)} is not a number`,
      );
    }
  }
  // One meter per (meter, tier); a paid tier of each meter, then one meter for the key.
  const paid = new Map<string, AzureRetailPriceItem>();
  for (const i of candidates.filter((c) => c.retailPrice > 0)) {
    const seen = paid.get(i.meterId);
    if (!seen || i.tierMinimumUnits < seen.tierMinimumUnits) paid.set(i.meterId, i);
  }
  const meters = [...paid.values()].sort((a, b) => a.meterId.localeCompare(b.meterId));
  const distinct = new Set(meters.map((m) => m.retailPrice));
  if (distinct.size > 1) {
    throw new PriceBookError(
      'PRICES_AMBIGUOUS',
      `the Azure retail prices have ${distinct.size} different prices for ${priceKeyId(key)} ` +
        `(${meters.map((m) => `${m.meterId} ${m.productName} / ${m.meterName}: ${m.retailPrice}`).join(', ')})`,
    );
  }
  const m = meters[0];
  if (!m) return undefined;
  const per = query.per ?? 1;
  return {
    key,
    unit: query.unit,
    unitPrice: m.retailPrice / per,
    currency: 'USD',
    source: {
      book,
      sku: m.skuId,
      rate: m.meterId,
      description: `${m.productName} / ${m.skuName} / ${m.meterName}`,
      effectiveDate: m.effectiveStartDate,
      ...(m.tierMinimumUnits > 0 ? { tierStartsAt: m.tierMinimumUnits } : {}),
    },
    fetchedAt,
  };
}
