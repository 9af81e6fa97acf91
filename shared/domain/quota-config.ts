/**
 * The quotas a deployment sets (shared/domain/quotas.ts checks them): defaults for every tenant
 * and members per tenant that replace them. Pure: the runtime's configuration reads it.
 */
import { z } from 'zod';
import { TENANT_NAME } from './job';

export interface TenantQuota {
  /** Jobs in any state but returned, failed and cancelled. */
  concurrentJobs: number;
  /** The sum of those jobs' declared image sizes (imageSizeBytes), and this request's. */
  declaredBytes: number;
  /** Jobs made in the last 60 minutes (each is one launch). */
  launchesPerHour: number;
}

export interface QuotaConfig {
  defaults: TenantQuota;
  /** Per tenant: the members given replace the defaults'. */
  tenants?: Record<string, Partial<TenantQuota>>;
}

const GIB = 1024 ** 3;
export const DEFAULT_QUOTA: TenantQuota = {
  concurrentJobs: 20,
  declaredBytes: 8 * 1024 * GIB,
  launchesPerHour: 30,
};

const Quota = z
  .object({
    concurrentJobs: z.number().int().positive(),
    declaredBytes: z.number().int().positive(),
    launchesPerHour: z.number().int().positive(),
  })
  .partial()
  .strict();
/** BURSTGATE_TENANT_QUOTAS's shape. */
export const TenantQuotas = z.record(z.string().regex(TENANT_NAME), Quota);

export function quotaOf(config: QuotaConfig | undefined, tenant: string): TenantQuota {
  return { ...(config?.defaults ?? DEFAULT_QUOTA), ...(config?.tenants?.[tenant] ?? {}) };
}
