/**
 * What one tenant may have at once: jobs not yet done, the disk bytes they declared, and offloads
 * started in the last hour. Checked when POST /offloads asks for a job, before anything is
 * written (a burst window's jobs were agreed with their schedule and are counted, not refused): a request over a quota gets 429 quota-exceeded with Retry-After and
 * leaves no job, no upload and no idempotency record behind. Requests that race may each pass the
 * check (there is no lock across a tenant's jobs), so a quota can be passed by as many requests as
 * arrive at the same instant; a replay of a request that made its job is never refused.
 *
 * Defaults hold for every tenant; a deployment sets its own with BURSTGATE_QUOTA_CONCURRENT_JOBS,
 * BURSTGATE_QUOTA_DECLARED_GIB and BURSTGATE_QUOTA_LAUNCHES_PER_HOUR, and per tenant with
 * BURSTGATE_TENANT_QUOTAS (JSON: `{"team-a": {"concurrentJobs": 50}}`).
 */
import { GatewayError } from './errors';
import type { Gateway } from './gateway';
import { ACTIVE_STATES } from './job';
import { quotaOf, type TenantQuota } from './quota-config';

/** When a job of the tenant may end: a guess for Retry-After when no count falls due at a known time. */
const RETRY_WHEN_BUSY_SECONDS = 60;
const HOUR_MS = 3600_000;

export class QuotaExceededError extends GatewayError {
  override readonly name = 'QuotaExceededError';
  constructor(
    readonly quota: keyof TenantQuota,
    readonly retryAfterSeconds: number,
    detail: string,
  ) {
    super('quota-exceeded', 429, "The tenant's quota would be exceeded", detail);
    this.headers['retry-after'] = String(retryAfterSeconds);
  }
}

/** QuotaExceededError when a new job of `declaredBytes` would take the tenant over a quota. */
export async function checkQuota(gw: Gateway, tenant: string, declaredBytes: number): Promise<void> {
  const quota = quotaOf(gw.config.quotas, tenant);
  const now = gw.now();
  // the hour's offloads and the jobs in flight are independent reads: one round trip, not two
  const [recent, active] = await Promise.all([
    gw.store.createdSince(tenant, new Date(now.getTime() - HOUR_MS), quota.launchesPerHour),
    gw.store.activeOf(tenant, ACTIVE_STATES),
  ]);
  if (recent.length >= quota.launchesPerHour) {
    const oldest = Date.parse(recent[0]!);
    const wait = Math.max(1, Math.ceil((oldest + HOUR_MS - now.getTime()) / 1000));
    throw new QuotaExceededError(
      'launchesPerHour',
      wait,
      `Tenant '${tenant}' made ${recent.length} offloads in the last hour, its quota (launchesPerHour ${quota.launchesPerHour}); the next may start in ${wait} s.`,
    );
  }
  if (active.length >= quota.concurrentJobs) {
    throw new QuotaExceededError(
      'concurrentJobs',
      RETRY_WHEN_BUSY_SECONDS,
      `Tenant '${tenant}' has ${active.length} jobs not yet returned, failed or cancelled, its quota (concurrentJobs ${quota.concurrentJobs}); return or cancel one, or retry when one is done.`,
    );
  }
  const declared = active.reduce((sum, j) => sum + j.image.sizeBytes, 0);
  if (declared + declaredBytes > quota.declaredBytes) {
    throw new QuotaExceededError(
      'declaredBytes',
      RETRY_WHEN_BUSY_SECONDS,
      `Tenant '${tenant}' has ${declared} bytes of images in jobs not yet done; ${declaredBytes} more would pass its quota (declaredBytes ${quota.declaredBytes}). Return or cancel a job first.`,
    );
  }
}
