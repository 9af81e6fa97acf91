/** The answers of POST /quotes and the budget routes as the OpenAPI document describes them. */
import { z } from 'zod';
import { QuoteRequest } from './quotes';

const Target = z.union([
  z.object({ cloud: z.literal('aws'), region: z.string(), mode: z.enum(['direct', 'import']) }),
  z.object({ cloud: z.literal('azure'), region: z.string() }),
]);

const QuoteLineSchema = z
  .object({
    item: z.string().meta({
      description:
        'compute, disk, snapshot, staging, upload-egress, return-egress-cloud, return-egress-home, or a service meter (lambda-gb-seconds, sfn-state-transitions, s3-write-requests, ebs-put-block, …)',
    }),
    cloud: z.enum(['aws', 'azure']),
    region: z.string(),
    description: z.string(),
    quantity: z.number(),
    unit: z.enum(['hour', 'month', 'GB-month', 'GB', 'request', 'GB-second', 'transition']),
    unitPrice: z.number().meta({ description: 'USD per unit' }),
    amount: z.number().meta({ description: 'USD: quantity × unitPrice, to a millionth' }),
    source: z.object({
      book: z.enum(['aws-price-list', 'azure-retail-prices', 'snapshot']),
      sku: z.string().meta({ description: 'AWS product SKU; Azure skuId' }),
      rate: z.string().meta({ description: 'AWS rate code; Azure meterId' }),
      description: z.string(),
      effectiveDate: z.string(),
      tierStartsAt: z.number().optional(),
    }),
    fetchedAt: z.string(),
  })
  .meta({ id: 'QuoteLine' });

const QuoteOptionSchema = z
  .object({
    target: Target,
    size: z.string().meta({ description: 'The right-sized instance type or VM size' }),
    rightSizing: z.object({
      reason: z.string(),
      needs: z.object({
        vCPUs: z.number(),
        memoryMiB: z.number(),
        architecture: z.enum(['x86_64', 'arm64']),
        firmware: z.enum(['bios', 'efi']),
      }),
      rejected: z.array(
        z.object({ name: z.string(), hourlyPrice: z.number().optional(), reasons: z.array(z.string()) }),
      ),
    }),
    secondsToRunning: z.number(),
    lines: z.array(QuoteLineSchema),
    total: z.number(),
    currency: z.literal('USD'),
    pricesFetchedAt: z.string(),
    notQuoted: z.array(z.string()),
  })
  .meta({ id: 'QuoteOption' });

export const QuoteSchema = z
  .object({
    vm: z.object({
      vCPUs: z.number(),
      memoryBytes: z.number(),
      architecture: z.enum(['x86_64', 'arm64']),
      firmware: z.enum(['bios', 'efi']),
      os: z.enum(['linux', 'windows']),
      disks: z.array(z.object({ capacityBytes: z.number(), allocatedBytes: z.number().optional() })),
      imageBytes: z.number().optional(),
      basis: z.string(),
    }),
    hours: z.number(),
    options: z.array(QuoteOptionSchema).meta({ description: 'Cheapest first' }),
    unavailable: z.array(z.object({ target: Target, code: z.string(), detail: z.string() })),
    currency: z.literal('USD'),
    pricesFetchedAt: z.string().optional(),
    quotedAt: z.string(),
  })
  .meta({ id: 'Quote' });

export const BudgetViewSchema = z
  .object({
    tenant: z.string(),
    monthlyUsd: z.number(),
    mode: z.enum(['hard', 'soft']),
    thresholds: z.array(z.number()),
    month: z.string().meta({ description: 'The calendar month (UTC) of the figures, e.g. 2026-12' }),
    committedUsd: z
      .number()
      .meta({ description: "The estimates of the month's jobs that did not fail or get cancelled" }),
    remainingUsd: z.number(),
    jobs: z.number(),
    updatedAt: z.string(),
  })
  .meta({ id: 'BudgetView' });

export { QuoteRequest };
export { BudgetPath, BudgetRequest } from './budgets';
