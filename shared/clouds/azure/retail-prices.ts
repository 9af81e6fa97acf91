/**
 * PriceBook adapter for the Azure Retail Prices API: an unauthenticated
 * `GET {endpoint}/api/retail/prices?api-version=2023-01-01-preview&$filter=…`, answered with
 * `{BillingCurrency, CustomerEntityId, CustomerEntityType, Items, NextPageLink, Count}`, following
 * `NextPageLink` until it is null. A next link to any other origin than the endpoint's is refused:
 * the adapter talks to one host only. Bodies are read up to a limit, requests time out.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  azureFilterText,
  azureMeterQuery,
  pickAzurePrice,
  type AzureRetailPriceItem,
} from '../../pricing/azure-meters';
import {
  PriceBookError,
  priceKeyId,
  type Price,
  type PriceBook,
  type PriceKey,
} from '../../pricing/price-book';

export const AZURE_RETAIL_PRICES_ENDPOINT = 'https://prices.azure.com';
const API_VERSION = '2023-01-01-preview';

export interface AzureRetailPricesOptions {
  /** Default https://prices.azure.com (the embedded deployment: the ARM simulator's URL). */
  endpoint?: string;
  /** PEM certificate(s) to trust besides the system's (the simulator's self-signed one). */
  caPem?: string;
  /** Per request (default 15 s). */
  timeoutMs?: number;
  /** Pages followed for one key before it is refused as ambiguous (default 10). */
  maxPages?: number;
  /** Bytes of one page (default 8 MiB; Azure's pages of 1000 items are about 1 MiB). */
  maxPageBytes?: number;
  now?: () => Date;
}

interface RetailPage {
  Items?: unknown;
  NextPageLink?: unknown;
}

export class AzureRetailPriceBook implements PriceBook {
  private readonly origin: string;
  private readonly timeoutMs: number;
  private readonly maxPages: number;
  private readonly maxPageBytes: number;
  private readonly now: () => Date;

  constructor(private readonly opts: AzureRetailPricesOptions = {}) {
    const url = new URL(opts.endpoint ?? AZURE_RETAIL_PRICES_ENDPOINT);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TypeError(`AzureRetailPriceBook: the endpoint must be an http(s) URL, got ${url.protocol}`);
    }
    this.origin = url.origin;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.maxPages = opts.maxPages ?? 10;
    this.maxPageBytes = opts.maxPageBytes ?? 8 * 1024 * 1024;
    this.now = opts.now ?? (() => new Date());
  }

  async price(key: PriceKey): Promise<Price | undefined> {
    const query = azureMeterQuery(key);
    if (!query) return undefined;
    const fetchedAt = this.now().toISOString();
    const first = new URL('/api/retail/prices', this.origin);
    first.searchParams.set('api-version', API_VERSION);
    first.searchParams.set('$filter', azureFilterText(query));
    const items: AzureRetailPriceItem[] = [];
    let next: string | undefined = first.toString();
    for (let page = 0; next; page++) {
      if (page === this.maxPages) {
        throw new PriceBookError(
          'PRICES_AMBIGUOUS',
          `Azure retail prices for ${priceKeyId(key)} still had more after ${this.maxPages} pages: the filter matches too much`,
        );
      }
      const body = (await this.getJson(next, key)) as RetailPage;
      if (!Array.isArray(body.Items)) {
        throw new PriceBookError(
          'PRICES_UNAVAILABLE',
          `Azure retail prices for ${priceKeyId(key)}: the answer has no Items list`,
        );
      }
      items.push(...(body.Items as AzureRetailPriceItem[]));
      next =
        typeof body.NextPageLink === 'string' && body.NextPageLink !== '' ? body.NextPageLink : undefined;
      if (next && new URL(next).origin !== this.origin) {
        throw new PriceBookError(
          'PRICES_UNAVAILABLE',
          `Azure retail prices for ${priceKeyId(key)}: the next page is at ${new URL(next).origin}, not ${this.origin}; not followed`,
        );
      }
    }
    return pickAzurePrice(key, query, items, 'azure-retail-prices', fetchedAt);
  }

  private getJson(url: string, key: PriceKey): Promise<unknown> {
    const fail = (why: string, cause?: unknown) =>
      new PriceBookError('PRICES_UNAVAILABLE', `Azure retail prices for ${priceKeyId(key)}: ${why}`, {
        cause,
      });
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: PriceBookError | undefined, value?: unknown) => {
        if (settled) return;
        settled = true;
        if (err) reject(err);
        else resolve(value);
      };
      const target = new URL(url);
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        target,
        {
          method: 'GET',
          headers: { accept: 'application/json' },
          timeout: this.timeoutMs,
          ...(this.opts.caPem && target.protocol === 'https:' ? { ca: this.opts.caPem } : {}),
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > this.maxPageBytes) {
              settle(fail(`a page is larger than ${this.maxPageBytes} bytes`));
              req.destroy();
              return;
            }
            chunks.push(c);
          });
          res.on('error', (err) => settle(fail(err.message, err)));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if ((res.statusCode ?? 0) >= 400) {
              settle(fail(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
              return;
            }
            try {
              settle(undefined, JSON.parse(text));
            } catch {
              settle(fail('the answer is not JSON'));
            }
          });
        },
      );
      req.on('timeout', () => {
        settle(fail(`no answer within ${this.timeoutMs} ms`));
        req.destroy();
      });
      req.on('error', (err) => settle(fail(err.message, err)));
      req.end();
    });
  }
}
