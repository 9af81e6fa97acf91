/**
 * The Price List Query API (`AWSPriceListService`, JSON 1.1 protocol: POST with
 * `X-Amz-Target: AWSPriceListService.GetProducts`), answered from the list-price snapshot the
 * project ships (shared/pricing/list-price-snapshot.ts), so `@aws-sdk/client-pricing` runs
 * unchanged. As strict as the real API about what it checks: a known ServiceCode, filter types
 * AWS defines, FormatVersion `aws_v1`, MaxResults 1–100, a NextToken only for the query that
 * issued it. PriceList entries are JSON strings, as AWS sends them.
 */
import { createHash } from 'node:crypto';
import { awsProductField, type AwsPriceListItem } from '../../../../shared/pricing/aws-products';
import { JsonServiceError } from './json-protocol';

interface GetProductsInput {
  ServiceCode?: unknown;
  Filters?: unknown;
  FormatVersion?: unknown;
  NextToken?: unknown;
  MaxResults?: unknown;
}

type FilterType = 'TERM_MATCH' | 'EQUALS' | 'CONTAINS' | 'ANY_OF' | 'NONE_OF';
const FILTER_TYPES: ReadonlySet<string> = new Set<FilterType>([
  'TERM_MATCH',
  'EQUALS',
  'CONTAINS',
  'ANY_OF',
  'NONE_OF',
]);

interface Filter {
  type: FilterType;
  field: string;
  value: string;
}

/** Products per page when the request says none (the API's default). */
const DEFAULT_PAGE = 100;

function parseFilters(raw: unknown): Filter[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new JsonServiceError('InvalidParameterException', 'Filters must be a list');
  return raw.map((f: { Type?: unknown; Field?: unknown; Value?: unknown }, i) => {
    if (typeof f?.Type !== 'string' || !FILTER_TYPES.has(f.Type)) {
      throw new JsonServiceError(
        'InvalidParameterException',
        `Filters[${i}].Type must be one of ${[...FILTER_TYPES].join(', ')}, got ${String(f?.Type)}`,
      );
    }
    if (typeof f.Field !== 'string' || f.Field === '' || typeof f.Value !== 'string') {
      throw new JsonServiceError('InvalidParameterException', `Filters[${i}] needs a Field and a Value`);
    }
    return { type: f.Type as FilterType, field: f.Field, value: f.Value };
  });
}

function passes(item: AwsPriceListItem, f: Filter): boolean {
  const actual = awsProductField(item, f.field);
  switch (f.type) {
    case 'TERM_MATCH':
    case 'EQUALS':
      return actual === f.value;
    case 'CONTAINS':
      return actual !== undefined && actual.includes(f.value);
    case 'ANY_OF':
      return actual !== undefined && f.value.split(',').includes(actual);
    case 'NONE_OF':
      return actual === undefined || !f.value.split(',').includes(actual);
  }
}

/** A token names the query it belongs to and the offset it continues at. */
function tokenFor(queryHash: string, offset: number): string {
  return Buffer.from(JSON.stringify({ q: queryHash, o: offset })).toString('base64url');
}

function offsetOf(token: unknown, queryHash: string): number {
  if (token === undefined) return 0;
  try {
    const t = JSON.parse(Buffer.from(String(token), 'base64url').toString('utf8')) as {
      q?: unknown;
      o?: unknown;
    };
    if (t.q === queryHash && typeof t.o === 'number' && Number.isSafeInteger(t.o) && t.o > 0) return t.o;
  } catch {
    // fall through
  }
  throw new JsonServiceError(
    'InvalidNextTokenException',
    'The pagination token is invalid. Try again without a pagination token.',
  );
}

export function getProducts(catalog: readonly AwsPriceListItem[], input: GetProductsInput) {
  if (typeof input.ServiceCode !== 'string' || input.ServiceCode === '') {
    throw new JsonServiceError('InvalidParameterException', 'ServiceCode is required');
  }
  const serviceCode = input.ServiceCode;
  if (!catalog.some((p) => p.serviceCode === serviceCode)) {
    throw new JsonServiceError('NotFoundException', `Service code ${serviceCode} was not found`);
  }
  if (input.FormatVersion !== undefined && input.FormatVersion !== 'aws_v1') {
    throw new JsonServiceError(
      'InvalidParameterException',
      `FormatVersion must be aws_v1, got ${String(input.FormatVersion)}`,
    );
  }
  const max = input.MaxResults ?? DEFAULT_PAGE;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100) {
    throw new JsonServiceError(
      'InvalidParameterException',
      `MaxResults must be 1 to 100, got ${String(max)}`,
    );
  }
  const filters = parseFilters(input.Filters);
  const queryHash = createHash('sha256')
    .update(JSON.stringify([serviceCode, filters]))
    .digest('hex')
    .slice(0, 16);
  const offset = offsetOf(input.NextToken, queryHash);
  const matching = catalog.filter((p) => p.serviceCode === serviceCode && filters.every((f) => passes(p, f)));
  const page = matching.slice(offset, offset + max);
  const next = offset + max < matching.length ? tokenFor(queryHash, offset + max) : undefined;
  return {
    FormatVersion: 'aws_v1',
    PriceList: page.map((p) => JSON.stringify(p)),
    ...(next ? { NextToken: next } : {}),
  };
}
