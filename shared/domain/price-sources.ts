/**
 * Where the gateway's quotes get their prices and catalogs: a PriceBook (live — the AWS Price List
 * and the Azure Retail Prices — or the shipped snapshot), cached; and the instance types or VM
 * sizes a region offers that the deployment allows (EC2 DescribeInstanceTypes, Azure Resource
 * SKUs), cached for an hour. Created once per gateway.
 */
import { describeInstanceFacts } from '../clouds/aws/instance-facts';
import { AwsPriceListBook } from '../clouds/aws/price-list';
import { AzureRetailPriceBook } from '../clouds/azure/retail-prices';
import { listVmSizeFacts } from '../clouds/azure/size-facts';
import { CloudError } from '../clouds/errors';
import { LIST_PRICE_SNAPSHOT } from '../pricing/list-price-snapshot';
import { CachedPriceBook, PriceBookError, type PriceBook, type PriceKey } from '../pricing/price-book';
import { PromiseCache } from '../pricing/promise-cache';
import type { InstanceFacts } from '../pricing/right-size';
import { SnapshotPriceBook } from '../pricing/snapshot-book';
import type { GatewayDeps } from '../runtime/deps';
import { DEFAULT_TARGET_LIMITS, likePattern } from './target-limits';

const CATALOG_TTL_MS = 3600 * 1000;

export interface PriceSources {
  prices: PriceBook;
  /** The region's types (AWS) or sizes (Azure) that the deployment's target limits allow. */
  catalog(cloud: 'aws' | 'azure', region: string): Promise<InstanceFacts[]>;
}

/** A book that refuses every key: where no price endpoint may be called (see createPriceSources). */
const unavailable = (why: string): PriceBook => ({
  price: (key: PriceKey) =>
    Promise.reject(new PriceBookError('PRICES_UNAVAILABLE', `${key.cloud} prices: ${why}`)),
});

export function createPriceSources(deps: GatewayDeps): PriceSources {
  const config = deps.config;
  const limits = config.targetLimits ?? DEFAULT_TARGET_LIMITS;
  const now = deps.now;
  let prices: PriceBook;
  if (config.priceSource === 'snapshot') {
    prices = new SnapshotPriceBook(LIST_PRICE_SNAPSHOT);
  } else {
    const aws = deps.pricing
      ? new AwsPriceListBook(deps.pricing, { now })
      : unavailable('this deployment has no Price List endpoint (set one, or BURSTGATE_PRICES=snapshot)');
    const azure = azureBook(deps);
    prices = new CachedPriceBook(
      { price: (k) => (k.cloud === 'aws' ? aws.price(k) : azure.price(k)) },
      { now },
    );
  }
  const catalogs = new PromiseCache<InstanceFacts[]>({ ttlMs: CATALOG_TTL_MS, maxEntries: 200, now });
  const load = async (cloud: 'aws' | 'azure', region: string): Promise<InstanceFacts[]> => {
    if (cloud === 'aws') return describeInstanceFacts(deps.ec2For(region), limits.instanceTypes);
    if (!deps.azureClients) {
      throw new CloudError(
        'CloudRejected',
        'this gateway has no Azure configuration (service principal and default resource group), so it cannot list Azure VM sizes',
        'AzureNotConfigured',
      );
    }
    const { compute } = await deps.azureClients();
    return listVmSizeFacts(compute, region, (name) => limits.azureVmSizes.some((p) => likePattern(p, name)));
  };
  return {
    prices,
    catalog: (cloud, region) => catalogs.get(`${cloud}:${region}`, () => load(cloud, region)),
  };
}

/**
 * The Retail Prices endpoint the configuration names (a deployed gateway: Azure's public one, set
 * by configFromEnv; the embedded deployment: the simulator). None named: no Azure prices, and no
 * fallback to the public service from a test or a machine that must not call out.
 */
function azureBook(deps: GatewayDeps): PriceBook {
  const azure = deps.config.azure;
  if (!azure) return unavailable('this gateway has no Azure configuration');
  if (!azure.retailPricesEndpoint) return unavailable('no Azure retail-prices endpoint is configured');
  return new AzureRetailPriceBook({
    endpoint: azure.retailPricesEndpoint,
    ...(azure.caPem ? { caPem: azure.caPem } : {}),
    now: deps.now,
  });
}
