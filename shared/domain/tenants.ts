/**
 * Who a request acts for, and what it may touch. Every API key belongs to a tenant and carries
 * scopes; the authorizer hands both to the handlers (lambdas/middleware/caller.ts), each route
 * names the scope it needs, and every lookup is by owner: another tenant's job, schedule or image
 * cache entry answers exactly as a missing one does (404), so ids leak nothing across teams. The
 * `admin` scope implies every other one and may *read* across tenants; such reads are logged.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { JobNotFoundError, ScopeMissingError, TenantNotAllowedError } from './errors';
import type { Gateway } from './gateway';
import { ownerOf, type Job } from './job';
export { DEFAULT_TENANT, TENANT_NAME, ownerOf } from './job';

export const SCOPES = ['read', 'offload', 'return', 'cancel', 'schedule', 'webhook', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** What a key without recorded scopes (one made before scopes existed) may do: all but admin. */
export const LEGACY_SCOPES: readonly Scope[] = ['read', 'offload', 'return', 'cancel', 'schedule', 'webhook'];

/** The caller of one request, as the authorizer found its key. */
export interface Caller {
  tenant: string;
  keyId: string;
  scopes: readonly Scope[];
}

/**
 * The scope each route of the HTTP API needs (the handlers check it; the OpenAPI document says
 * it). `null`: any valid key (the document itself).
 */
export const ROUTE_SCOPES = {
  'POST /offloads': 'offload',
  'GET /offloads': 'read',
  'GET /offloads/{id}': 'read',
  'DELETE /offloads/{id}': 'cancel',
  'PATCH /offloads/{id}': 'offload',
  'POST /offloads/{id}/upload-complete': 'offload',
  'POST /offloads/{id}/return': 'return',
  'POST /offloads/{id}/launch': 'offload',
  'GET /offloads/{id}/deliveries': 'read',
  'GET /image-cache/{region}/{vmName}': 'read',
  'POST /schedules': 'schedule',
  'GET /schedules': 'read',
  'GET /schedules/preview': 'read',
  'GET /schedules/{id}': 'read',
  'PATCH /schedules/{id}': 'schedule',
  'DELETE /schedules/{id}': 'schedule',
  'POST /schedules/{id}/prestage': 'offload',
  'POST /quotes': 'read',
  'PUT /budgets/{tenant}': 'admin',
  'GET /budgets/{tenant}': 'read',
  'GET /budget': 'read',
  'POST /webhooks': 'webhook',
  'GET /webhooks': 'read',
  'DELETE /webhooks/{id}': 'webhook',
  'POST /webhooks/{id}/rotate-secret': 'webhook',
  'GET /webhooks/{id}/deliveries': 'read',
  'POST /webhooks/{id}/deliveries/{deliveryId}/replay': 'webhook',
  'GET /openapi.json': null,
} as const satisfies Record<string, Scope | null>;
export type RouteKey = keyof typeof ROUTE_SCOPES;

export const isScope = (s: string): s is Scope => (SCOPES as readonly string[]).includes(s);

export function hasScope(caller: Caller, scope: Scope): boolean {
  return caller.scopes.includes(scope) || caller.scopes.includes('admin');
}

/** ScopeMissingError (403) naming the scope, unless the caller has it. */
export function requireScope(caller: Caller, scope: Scope, action: string): void {
  if (!hasScope(caller, scope)) throw new ScopeMissingError(scope, action, caller.keyId);
}

export type Access = 'read' | 'write';

/**
 * Whether the caller may see (or change) something `owner` owns. Its own: yes. Another tenant's:
 * only to read, only with admin, and the read is logged with who read whose.
 */
export function mayAccess(
  caller: Caller,
  owner: string,
  access: Access,
  logger: Pick<Logger, 'info'>,
  about: Record<string, string>,
): boolean {
  if (owner === caller.tenant) return true;
  if (access !== 'read' || !caller.scopes.includes('admin')) return false;
  logger.info('cross-tenant read', { tenant: caller.tenant, keyId: caller.keyId, owner, ...about });
  return true;
}

/**
 * The tenant a listing or lookup is for: the caller's own, or (admin only) the one it names.
 * TenantNotAllowedError (403) when a non-admin names another.
 */
export function tenantToRead(caller: Caller, named: string | undefined): string {
  if (named === undefined || named === caller.tenant) return caller.tenant;
  if (!caller.scopes.includes('admin')) throw new TenantNotAllowedError(named, caller.tenant);
  return named;
}

/**
 * The job, if the caller may access it so; JobNotFoundError (404) otherwise, exactly as for a job
 * that does not exist, so a job id tells another tenant nothing.
 */
export async function ownedJob(gw: Gateway, caller: Caller, jobId: string, access: Access): Promise<Job> {
  const job = await gw.store.find(jobId);
  if (!job || !mayAccess(caller, ownerOf(job), access, gw.logger, { jobId }))
    throw new JobNotFoundError(jobId);
  return job;
}
