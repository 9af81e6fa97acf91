/**
 * The PriceBook port: what one unit of something costs in a region, with where the figure comes
 * from. Quotes, budgets and actuals read prices only through it. Adapters:
 * - the AWS Price List Query API (`shared/clouds/aws/price-list.ts`, `GetProducts`);
 * - the Azure Retail Prices API (`shared/clouds/azure/retail-prices.ts`, OData `$filter`,
 *   `NextPageLink` paging);
 * - the shipped list-price snapshot (`snapshot-book.ts`), for a gateway that may not call out.
 *
 * Every price is normalized to one unit (one hour, one GB-month, one request), keeps the
 * provider's identifiers (AWS SKU and rate code, Azure meter and SKU ids) and effective date, and
 * the time it was fetched, so a quote can say how old its prices are. `CachedPriceBook` keeps
 * answers (also "no such price") for a while: price lists change monthly, not per request.
 */

import { PromiseCache } from './promise-cache';

export type PriceCloud = 'aws' | 'azure';

/** Usage the gateway itself causes, billed per request, GB-second or transition. */
export type ServiceMeter =
  /** S3 PUT, COPY, POST, LIST (per request). */
  | 's3-write-requests'
  /** S3 GET and the like (per request). */
  | 's3-read-requests'
  /** EBS direct APIs (per request / block). */
  | 'ebs-put-block'
  | 'ebs-get-block'
  | 'ebs-list-blocks'
  /** Lambda (x86): invocations, and duration in GB-seconds. */
  | 'lambda-requests'
  | 'lambda-gb-seconds'
  /** Step Functions standard workflows (per state transition). */
  | 'sfn-state-transitions';

export type PriceItem =
  /** A running instance or VM, per hour. */
  | { kind: 'compute'; size: string; os: 'linux' | 'windows' }
  /** AWS: an EBS volume type (`gp3`), per GB-month. Azure: a managed-disk tier (`E10`), per month. */
  | { kind: 'block-storage'; volume: string }
  /** Disk snapshots (EBS snapshots; Azure incremental snapshots), per GB-month of data. */
  | { kind: 'snapshot-storage' }
  /** Object storage (S3 Standard), per GB-month. */
  | { kind: 'object-storage' }
  /** Data leaving the cloud for the internet (on-prem, or the other cloud), per GB. */
  | { kind: 'internet-egress' }
  | { kind: 'service'; meter: ServiceMeter };

export interface PriceKey {
  cloud: PriceCloud;
  /** AWS region (`us-east-1`) or Azure location (`westeurope`). */
  region: string;
  item: PriceItem;
}

export type PriceUnit = 'hour' | 'month' | 'GB-month' | 'GB' | 'request' | 'GB-second' | 'transition';

export interface PriceSource {
  book: 'aws-price-list' | 'azure-retail-prices' | 'snapshot';
  /** AWS product SKU; Azure `skuId`. */
  sku: string;
  /** AWS rate code (`<sku>.<offerTermCode>.<rateCode>`); Azure `meterId`. */
  rate: string;
  /** The provider's own words for it (price dimension description; Azure product and meter name). */
  description: string;
  /** When the price took effect (ISO 8601). */
  effectiveDate: string;
  /** Where a tiered price's paid tier starts, in its unit (the first tier is often free). */
  tierStartsAt?: number;
}

export interface Price {
  key: PriceKey;
  unit: PriceUnit;
  /** USD per one unit. */
  unitPrice: number;
  currency: 'USD';
  source: PriceSource;
  /** When this figure was read from its source (ISO 8601); for the snapshot, the day it was taken. */
  fetchedAt: string;
}

export interface PriceBook {
  /** The price, or undefined when the source lists none for the key (not offered there). */
  price(key: PriceKey): Promise<Price | undefined>;
}

export type PriceBookErrorCode =
  /** The source could not be read (network, throttling, a malformed answer). */
  | 'PRICES_UNAVAILABLE'
  /** The source lists several different prices where one was expected. */
  | 'PRICES_AMBIGUOUS';

export class PriceBookError extends Error {
  override readonly name = 'PriceBookError';
  constructor(
    readonly code: PriceBookErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A stable text form of a key (cache key, and how quotes and errors name a price). */
export function priceKeyId(key: PriceKey): string {
  const item = key.item;
  const what =
    item.kind === 'compute'
      ? `compute:${item.size}:${item.os}`
      : item.kind === 'block-storage'
        ? `block-storage:${item.volume}`
        : item.kind === 'service'
          ? `service:${item.meter}`
          : item.kind;
  return `${key.cloud}:${key.region}:${what}`;
}

export interface CachedPriceBookOptions {
  /** How long an answer is kept (default 24 h). */
  ttlMs?: number;
  /** At most this many keys are kept; the oldest go first (default 2000). */
  maxEntries?: number;
  now?: () => Date;
}

/**
 * Keeps each answer, including "not listed", for `ttlMs`. Concurrent asks for one key share one
 * lookup; a failed lookup is not kept, so the next ask tries again.
 */
export class CachedPriceBook implements PriceBook {
  private readonly cache: PromiseCache<Price | undefined>;

  constructor(
    private readonly inner: PriceBook,
    opts: CachedPriceBookOptions = {},
  ) {
    this.cache = new PromiseCache({
      ttlMs: opts.ttlMs ?? 24 * 3600 * 1000,
      maxEntries: opts.maxEntries ?? 2000,
      now: opts.now ?? (() => new Date()),
    });
  }

  price(key: PriceKey): Promise<Price | undefined> {
    return this.cache.get(priceKeyId(key), () => this.inner.price(key));
  }
}
