/**
 * PriceBook adapter for the AWS Price List Query API: `GetProducts` (FormatVersion `aws_v1`) with
 * the TERM_MATCH filters of `awsProductQuery`, every page read, each PriceList entry parsed as the
 * JSON document it is. The API answers from us-east-1 (also eu-central-1, ap-south-1) for every
 * region; the client is created once, pointed at one of those endpoints.
 */
import { GetProductsCommand, type PricingClient } from '@aws-sdk/client-pricing';
import { awsProductQuery, pickAwsPrice, type AwsPriceListItem } from '../../pricing/aws-products';
import {
  PriceBookError,
  priceKeyId,
  type Price,
  type PriceBook,
  type PriceKey,
} from '../../pricing/price-book';
import { classifyCloudError } from '../errors';

export interface AwsPriceListOptions {
  /** Products per page (GetProducts allows 1–100; default 100). */
  pageSize?: number;
  /** A key whose filters match more pages than this is refused as ambiguous (default 10). */
  maxPages?: number;
  /** One PriceList document longer than this is refused (default 1 MiB; real ones are a few KiB). */
  maxDocumentChars?: number;
  now?: () => Date;
}

export class AwsPriceListBook implements PriceBook {
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly maxDocumentChars: number;
  private readonly now: () => Date;

  constructor(
    private readonly pricing: PricingClient,
    opts: AwsPriceListOptions = {},
  ) {
    this.pageSize = opts.pageSize ?? 100;
    this.maxPages = opts.maxPages ?? 10;
    this.maxDocumentChars = opts.maxDocumentChars ?? 1024 * 1024;
    this.now = opts.now ?? (() => new Date());
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize < 1 || this.pageSize > 100) {
      throw new RangeError(`AwsPriceListBook: pageSize must be 1 to 100, got ${this.pageSize}`);
    }
  }

  async price(key: PriceKey): Promise<Price | undefined> {
    const query = awsProductQuery(key);
    const fetchedAt = this.now().toISOString();
    const items: AwsPriceListItem[] = [];
    let token: string | undefined;
    for (let page = 0; ; page++) {
      if (page === this.maxPages) {
        throw new PriceBookError(
          'PRICES_AMBIGUOUS',
          `GetProducts for ${priceKeyId(key)} still had more after ${this.maxPages} pages: its filters match too many products`,
        );
      }
      let out;
      try {
        out = await this.pricing.send(
          new GetProductsCommand({
            ServiceCode: query.serviceCode,
            Filters: query.filters.map((f) => ({ Type: 'TERM_MATCH', Field: f.field, Value: f.value })),
            FormatVersion: 'aws_v1',
            MaxResults: this.pageSize,
            ...(token ? { NextToken: token } : {}),
          }),
        );
      } catch (err) {
        const cloud = classifyCloudError(err, 'GetProducts');
        throw new PriceBookError(
          'PRICES_UNAVAILABLE',
          `AWS prices for ${priceKeyId(key)}: ${cloud.message}`,
          {
            cause: cloud,
          },
        );
      }
      for (const doc of out.PriceList ?? []) items.push(this.parse(doc, key));
      token = out.NextToken;
      if (!token) break;
    }
    return pickAwsPrice(key, query, items, 'aws-price-list', fetchedAt);
  }

  private parse(doc: unknown, key: PriceKey): AwsPriceListItem {
    // each entry is a JSON document sent as a string; the SDK hands it over as a String object
    const text = typeof doc === 'string' || doc instanceof String ? String(doc) : JSON.stringify(doc);
    if (text.length > this.maxDocumentChars) {
      throw new PriceBookError(
        'PRICES_UNAVAILABLE',
        `GetProducts for ${priceKeyId(key)} returned a product of ${text.length} characters (limit ${this.maxDocumentChars})`,
      );
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new PriceBookError(
        'PRICES_UNAVAILABLE',
        `GetProducts for ${priceKeyId(key)} returned a product that is not JSON`,
      );
    }
    const item = v as Partial<AwsPriceListItem>;
    if (
      typeof item?.serviceCode !== 'string' ||
      typeof item.product?.sku !== 'string' ||
      typeof item.product.attributes !== 'object' ||
      typeof item.terms !== 'object'
    ) {
      throw new PriceBookError(
        'PRICES_UNAVAILABLE',
        `GetProducts for ${priceKeyId(key)} returned a product without serviceCode, product.sku, attributes or terms`,
      );
    }
    return item as AwsPriceListItem;
  }
}
