/**
 * How a price key is found in the AWS price list, and how a price is read out of its products
 * (`GetProducts` with FormatVersion `aws_v1`: each product a JSON document with `product.sku`,
 * `product.attributes` and `terms.OnDemand.<sku>.<offerTermCode>.priceDimensions.<rateCode>`).
 * Pure: the Price List adapter and the snapshot book share it, and so does the AWS simulator's
 * matching of filters, so all three agree on what a key means.
 */
import {
  PriceBookError,
  priceKeyId,
  type Price,
  type PriceKey,
  type PriceUnit,
  type ServiceMeter,
} from './price-book';

/** One product of the price list, as `GetProducts` returns it (only the fields read here). */
export interface AwsPriceListItem {
  serviceCode: string;
  product: { sku: string; productFamily?: string; attributes: Record<string, string> };
  terms: { OnDemand?: Record<string, AwsOfferTerm> };
  publicationDate?: string;
}

export interface AwsOfferTerm {
  sku: string;
  offerTermCode: string;
  effectiveDate: string;
  priceDimensions: Record<string, AwsPriceDimension>;
}

export interface AwsPriceDimension {
  rateCode: string;
  description: string;
  unit: string;
  beginRange?: string;
  endRange?: string;
  pricePerUnit: Record<string, string>;
}

/** A GetProducts call: the service code and TERM_MATCH filters, then what of its answer is meant. */
export interface AwsProductQuery {
  serviceCode: string;
  filters: ReadonlyArray<{ field: string; value: string }>;
  /** Picks among the products the filters let through (several usage types share a family). */
  accept?: (attributes: Record<string, string>) => boolean;
  /** The price list's spellings of its unit; and the unit it is in ours (one listed unit is one of ours). */
  listUnits: readonly string[];
  unit: PriceUnit;
}

/** A usage type, with or without its region prefix (us-east-1 has none: `EUC1-Request`, `Request`). */
const usage = (type: string) => {
  const re = new RegExp(`^([A-Z]{2,4}\\d?-)?${type.replace(/[.]/g, '\\.')}$`);
  return (a: Record<string, string>) => re.test(a.usagetype ?? '');
};

const SERVICE_QUERIES: Readonly<Record<ServiceMeter, (region: string) => AwsProductQuery>> = {
  's3-write-requests': (region) => ({
    serviceCode: 'AmazonS3',
    filters: [
      { field: 'regionCode', value: region },
      { field: 'productFamily', value: 'API Request' },
      { field: 'group', value: 'S3-API-Tier1' },
    ],
    listUnits: ['Requests'],
    unit: 'request',
  }),
  's3-read-requests': (region) => ({
    serviceCode: 'AmazonS3',
    filters: [
      { field: 'regionCode', value: region },
      { field: 'productFamily', value: 'API Request' },
      { field: 'group', value: 'S3-API-Tier2' },
    ],
    listUnits: ['Requests'],
    unit: 'request',
  }),
  // Three products in the family; AWS prices Put and Get per 512 KiB block (SnapshotAPIUnits),
  // List per request. The usage types name the API.
  'ebs-put-block': (region) => ebsDirect(region, /put/i, 'SnapshotAPIUnits'),
  'ebs-get-block': (region) => ebsDirect(region, /get/i, 'SnapshotAPIUnits'),
  'ebs-list-blocks': (region) => ebsDirect(region, /list/i, 'Requests'),
  'lambda-requests': (region) => ({
    serviceCode: 'AWSLambda',
    filters: [
      { field: 'regionCode', value: region },
      { field: 'group', value: 'AWS-Lambda-Requests' },
    ],
    // x86 requests: not Lambda@Edge (`Lambda-Edge-Request`), not Arm (`Request-ARM`)
    accept: usage('Request'),
    listUnits: ['Requests'],
    unit: 'request',
  }),
  'lambda-gb-seconds': (region) => ({
    serviceCode: 'AWSLambda',
    filters: [
      { field: 'regionCode', value: region },
      { field: 'group', value: 'AWS-Lambda-Duration' },
    ],
    accept: usage('Lambda-GB-Second'),
    listUnits: ['Lambda-GB-Second'],
    unit: 'GB-second',
  }),
  'sfn-state-transitions': (region) => ({
    serviceCode: 'AmazonStates',
    filters: [{ field: 'regionCode', value: region }],
    // standard workflows; express ones bill requests and duration instead
    accept: usage('StateTransition'),
    listUnits: ['StateTransition', 'StateTransitions', 'Transitions'],
    unit: 'transition',
  }),
};

function ebsDirect(region: string, api: RegExp, listUnit: string): AwsProductQuery {
  return {
    serviceCode: 'AmazonEC2',
    filters: [
      { field: 'regionCode', value: region },
      { field: 'productFamily', value: 'EBS direct API Requests' },
    ],
    accept: (a) => api.test(a.usagetype ?? ''),
    listUnits: [listUnit],
    unit: 'request',
  };
}

/** The query that finds `key` in the AWS price list (only AWS keys). */
export function awsProductQuery(key: PriceKey): AwsProductQuery {
  if (key.cloud !== 'aws') throw new TypeError(`awsProductQuery: ${priceKeyId(key)} is not an AWS key`);
  const region = key.region;
  const item = key.item;
  switch (item.kind) {
    case 'compute':
      return {
        serviceCode: 'AmazonEC2',
        filters: [
          { field: 'regionCode', value: region },
          { field: 'instanceType', value: item.size },
          { field: 'operatingSystem', value: item.os === 'windows' ? 'Windows' : 'Linux' },
          { field: 'tenancy', value: 'Shared' },
          { field: 'preInstalledSw', value: 'NA' },
          { field: 'capacitystatus', value: 'Used' },
          // Windows with its licence in the price (a burst VM brings none): AWS lists it as
          // licenseModel "No License required" with operation RunInstances:0002 (BYOL is :0800)
          { field: 'licenseModel', value: 'No License required' },
          { field: 'operation', value: item.os === 'windows' ? 'RunInstances:0002' : 'RunInstances' },
        ],
        listUnits: ['Hrs'],
        unit: 'hour',
      };
    case 'block-storage':
      return {
        serviceCode: 'AmazonEC2',
        filters: [
          { field: 'regionCode', value: region },
          { field: 'productFamily', value: 'Storage' },
          { field: 'volumeApiName', value: item.volume },
        ],
        listUnits: ['GB-Mo'],
        unit: 'GB-month',
      };
    case 'snapshot-storage':
      return {
        serviceCode: 'AmazonEC2',
        filters: [
          { field: 'regionCode', value: region },
          { field: 'productFamily', value: 'Storage Snapshot' },
        ],
        // the standard tier, not the archive tier or Fast Snapshot Restore
        accept: usage('EBS:SnapshotUsage'),
        listUnits: ['GB-Mo'],
        unit: 'GB-month',
      };
    case 'object-storage':
      return {
        serviceCode: 'AmazonS3',
        filters: [
          { field: 'regionCode', value: region },
          { field: 'productFamily', value: 'Storage' },
          { field: 'volumeType', value: 'Standard' },
        ],
        listUnits: ['GB-Mo'],
        unit: 'GB-month',
      };
    case 'internet-egress':
      return {
        serviceCode: 'AWSDataTransfer',
        filters: [
          { field: 'fromRegionCode', value: region },
          { field: 'transferType', value: 'AWS Outbound' },
          { field: 'toLocation', value: 'External' },
        ],
        listUnits: ['GB'],
        unit: 'GB',
      };
    case 'service':
      return SERVICE_QUERIES[item.meter](region);
  }
}

/** Whether a product passes a query's filters (TERM_MATCH: the field equals the value). */
export function awsProductMatches(
  item: AwsPriceListItem,
  query: Pick<AwsProductQuery, 'serviceCode' | 'filters'>,
): boolean {
  if (item.serviceCode !== query.serviceCode) return false;
  return query.filters.every(({ field, value }) => awsProductField(item, field) === value);
}

/** A product's value of a filter field: `ServiceCode`, `productFamily`, `sku`, or an attribute. */
export function awsProductField(item: AwsPriceListItem, field: string): string | undefined {
  if (field === 'ServiceCode') return item.serviceCode;
  if (field === 'productFamily') return item.product.productFamily;
  if (field === 'sku') return item.product.sku;
  return item.product.attributes[field];
}

/**
 * The on-demand price of `key` among `items` (a GetProducts answer for its query). A tiered price
 * is read at its first paid tier: the free tier of S3, Lambda or egress is the account's, shared
 * by everything it runs, so a quote cannot count on it. Undefined when nothing matches; throws
 * PRICES_AMBIGUOUS when the products disagree, PRICES_UNAVAILABLE when a product is malformed.
 */
export function pickAwsPrice(
  key: PriceKey,
  query: AwsProductQuery,
  items: readonly AwsPriceListItem[],
  book: 'aws-price-list' | 'snapshot',
  fetchedAt: string,
): Price | undefined {
  const found: Price[] = [];
  for (const item of items) {
    if (!awsProductMatches(item, query)) continue;
    if (query.accept && !query.accept(item.product.attributes)) continue;
    for (const term of Object.values(item.terms.OnDemand ?? {})) {
      const dims = Object.values(term.priceDimensions ?? {})
        .map((d) => ({ d, usd: Number(d.pricePerUnit?.USD), from: Number(d.beginRange ?? '0') }))
        .filter((x) => query.listUnits.includes(x.d.unit));
      if (dims.some((x) => !Number.isFinite(x.usd) || x.usd < 0 || !Number.isFinite(x.from))) {
        throw new PriceBookError(
          'PRICES_UNAVAILABLE',
          `the AWS price list's product ${item.product.sku} for ${priceKeyId(key)} has a price that is not a number`,
        );
      }
      const paid = dims.filter((x) => x.usd > 0).sort((a, b) => a.from - b.from)[0];
      if (!paid) continue;
      found.push({
        key,
        unit: query.unit,
        unitPrice: paid.usd,
        currency: 'USD',
        source: {
          book,
          sku: item.product.sku,
          rate: paid.d.rateCode,
          description: paid.d.description,
          effectiveDate: term.effectiveDate,
          ...(paid.from > 0 ? { tierStartsAt: paid.from } : {}),
        },
        fetchedAt,
      });
    }
  }
  found.sort((a, b) => a.source.sku.localeCompare(b.source.sku));
  const distinct = new Set(found.map((p) => p.unitPrice));
  if (distinct.size > 1) {
    throw new PriceBookError(
      'PRICES_AMBIGUOUS',
      `the AWS price list has ${distinct.size} different on-demand prices for ${priceKeyId(key)} ` +
        `(${found.map((p) => `${p.source.sku}: ${p.unitPrice}`).join(', ')})`,
    );
  }
  return found[0];
}
