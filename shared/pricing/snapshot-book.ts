/**
 * PriceBook adapter over a list-price snapshot: AWS price-list products and Azure retail-price
 * items kept in a file, read with the same matching as the live adapters (aws-products.ts,
 * azure-meters.ts). For a gateway that must not call out for prices, and for checks that need
 * figures that do not move. Its prices are as old as the snapshot: `fetchedAt` is the day it was
 * taken, so a quote from it says so.
 */
import { awsProductQuery, pickAwsPrice, type AwsPriceListItem } from './aws-products';
import { azureMeterQuery, pickAzurePrice, type AzureRetailPriceItem } from './azure-meters';
import type { Price, PriceBook, PriceKey } from './price-book';

export interface ListPriceSnapshot {
  /** The day these were the providers' public list prices (ISO 8601 date). */
  takenOn: string;
  /** Where the figures were read, in words. */
  provenance: string;
  aws: readonly AwsPriceListItem[];
  azure: readonly AzureRetailPriceItem[];
}

export class SnapshotPriceBook implements PriceBook {
  constructor(private readonly snapshot: ListPriceSnapshot) {}

  async price(key: PriceKey): Promise<Price | undefined> {
    const fetchedAt = new Date(`${this.snapshot.takenOn}T00:00:00Z`).toISOString();
    if (key.cloud === 'aws') {
      return pickAwsPrice(key, awsProductQuery(key), this.snapshot.aws, 'snapshot', fetchedAt);
    }
    const query = azureMeterQuery(key);
    return query ? pickAzurePrice(key, query, this.snapshot.azure, 'snapshot', fetchedAt) : undefined;
  }
}
