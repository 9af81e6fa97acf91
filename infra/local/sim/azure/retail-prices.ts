/**
 * The Azure Retail Prices API (`GET /api/retail/prices`, unauthenticated; Azure serves it from
 * prices.azure.com, the simulator from its ARM URL), answered from the list-price snapshot the
 * project ships. `$filter` is OData: `field eq 'value'` comparisons joined by `and` on the fields
 * Azure documents; anything else is refused, so a caller that relies on more learns it here.
 * Pages are small (5 items) and chained by `NextPageLink` with `$skip`, as Azure chains its pages
 * of 1000, so a client must follow them.
 */
import { azureItemField, type AzureRetailPriceItem } from '../../../../shared/pricing/azure-meters';
import { armError } from './errors';

/** The fields Azure's documentation lists as filterable (`priceType` is the items' `type`). */
const FIELDS: ReadonlySet<string> = new Set([
  'armRegionName',
  'location',
  'meterId',
  'meterName',
  'productId',
  'skuId',
  'productName',
  'skuName',
  'serviceName',
  'serviceId',
  'serviceFamily',
  'priceType',
  'armSkuName',
]);

const PAGE = 5;

interface Clause {
  field: string;
  value: string;
}

/** `a eq 'x' and b eq 'it''s'` → clauses; throws on anything else. */
export function parseRetailFilter(filter: string): Clause[] {
  const clauses: Clause[] = [];
  const re = /^\s*([A-Za-z]+)\s+eq\s+'((?:[^']|'')*)'\s*/;
  let rest = filter;
  for (;;) {
    const m = re.exec(rest);
    if (!m?.[1] || m[2] === undefined) break;
    if (!FIELDS.has(m[1])) {
      throw armError(
        'InvalidFilter',
        `The filter field '${m[1]}' is not supported by the retail prices API.`,
        400,
      );
    }
    clauses.push({ field: m[1], value: m[2].replace(/''/g, "'") });
    rest = rest.slice(m[0].length);
    if (rest === '') return clauses;
    const and = /^and\s+/i.exec(rest);
    if (!and) break;
    rest = rest.slice(and[0].length);
  }
  throw armError(
    'InvalidFilter',
    `The filter '${filter}' could not be parsed: use field eq 'value' joined by and.`,
    400,
  );
}

export function listRetailPrices(
  baseUrl: string,
  items: readonly AzureRetailPriceItem[],
  query: URLSearchParams,
): { status: number; body: unknown } {
  const currency = query.get('currencyCode');
  if (currency !== null && currency.replace(/'/g, '') !== 'USD') {
    throw armError('InvalidCurrency', `The simulator lists USD prices only, not ${currency}.`, 400);
  }
  const filter = query.get('$filter');
  const clauses = filter === null || filter.trim() === '' ? [] : parseRetailFilter(filter);
  const matching = items.filter((i) => clauses.every((c) => azureItemField(i, c.field) === c.value));
  const skip = Number(query.get('$skip') ?? '0');
  if (!Number.isSafeInteger(skip) || skip < 0) {
    throw armError('InvalidSkip', `The $skip '${query.get('$skip')}' is not a whole number.`, 400);
  }
  const page = matching.slice(skip, skip + PAGE);
  let next: string | null = null;
  if (skip + PAGE < matching.length) {
    const link = new URL('/api/retail/prices', baseUrl);
    for (const [k, v] of query) if (k !== '$skip') link.searchParams.set(k, v);
    link.searchParams.set('$skip', String(skip + PAGE));
    next = link.toString();
  }
  return {
    status: 200,
    body: {
      BillingCurrency: 'USD',
      CustomerEntityId: 'Default',
      CustomerEntityType: 'Retail',
      Items: page,
      NextPageLink: next,
      Count: page.length,
    },
  };
}
