/** What every ARM handler works with. */
import type { AzuriteStore } from './azurite';
import { armError } from './errors';
import { key, type AzureSimState, type AzureSimTiming, type OperationRec } from './model';

export interface ArmContext {
  state: AzureSimState;
  timing: AzureSimTiming;
  store: AzuriteStore;
  subscriptionId: string;
  /** Lower-cased name → name as configured. */
  resourceGroups: Map<string, string>;
  armUrl: string;
  blobUrl: string;
  now(): number;
  save(): void;
  newId(): string;
}

export interface ArmResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ArmRequest {
  method: string;
  /** Path segments, URL-decoded. */
  segments: string[];
  query: URLSearchParams;
  body: unknown;
  apiVersion: string;
}

export const COMPUTE = 'Microsoft.Compute';
export const NETWORK = 'Microsoft.Network';

export function resourceId(ctx: ArmContext, rg: string, ns: string, type: string, name: string): string {
  return `/subscriptions/${ctx.subscriptionId}/resourceGroups/${rg}/providers/${ns}/${type}/${name}`;
}

/** The resource group as configured, or ResourceGroupNotFound. */
export function resolveGroup(ctx: ArmContext, rg: string): string {
  const found = ctx.resourceGroups.get(rg.toLowerCase());
  if (!found) throw armError('ResourceGroupNotFound', `Resource group '${rg}' could not be found.`, 404);
  return found;
}

/** ARM's answer for a GET/DELETE/POST on a resource that does not exist. */
export function notFound(type: string, name: string, rg: string) {
  return armError(
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    404,
  );
}

/**
 * Starts a long-running operation as ARM answers it: the status URL (Azure-AsyncOperation) and the
 * result URL (Location), and never a Retry-After, so clients poll at their own interval.
 */
export function startOperation(
  ctx: ArmContext,
  req: ArmRequest,
  action: string,
  ns: string,
  location: string,
  opts: { durationMs?: number; error?: { code: string; message: string }; output?: unknown } = {},
): Record<string, string> {
  const id = ctx.newId();
  const now = ctx.now();
  const op: OperationRec = {
    id,
    action,
    namespace: ns,
    location: location.toLowerCase(),
    startedAt: now,
    doneAt: now + (opts.durationMs ?? ctx.timing.operationMs),
    ...(opts.error ? { error: opts.error } : {}),
    ...(opts.output !== undefined ? { output: opts.output } : {}),
  };
  ctx.state.operations[id] = op;
  const base = `${ctx.armUrl}/subscriptions/${ctx.subscriptionId}/providers/${ns}/locations/${op.location}`;
  const v = `api-version=${encodeURIComponent(req.apiVersion)}`;
  return {
    'Azure-AsyncOperation': `${base}/operations/${id}?${v}`,
    // Compute's result URL is the same operation with monitor=true; Network has operationResults
    Location:
      ns === NETWORK ? `${base}/operationResults/${id}?${v}` : `${base}/operations/${id}?monitor=true&${v}`,
  };
}

export function provisioningState(
  ctx: ArmContext,
  r: { readyAt: number; deletingUntil?: number },
  creating: string,
) {
  if (r.deletingUntil !== undefined) return 'Deleting';
  return ctx.now() < r.readyAt ? creating : 'Succeeded';
}

export function lookup<T extends { deletingUntil?: number }>(
  table: Record<string, T>,
  id: string,
): T | undefined {
  return table[key(id)];
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Reads a nested property, for validation messages that name the JSON path. */
export function prop(obj: unknown, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export function str(obj: unknown, ...path: string[]): string | undefined {
  const v = prop(obj, ...path);
  return typeof v === 'string' ? v : undefined;
}

export function requireParam(value: unknown, name: string): void {
  if (value === undefined || value === null || value === '')
    throw armError('InvalidParameter', `Required parameter '${name}' is missing (null).`, 400);
}

/** An optional enum-valued parameter: absent, or one of `allowed`. */
export function checkEnum(value: string | undefined, name: string, allowed: string[]): void {
  if (value !== undefined && !allowed.includes(value))
    throw armError(
      'InvalidParameter',
      `The value '${value}' of parameter '${name}' is not valid. Allowed values are ${allowed.map((a) => `'${a}'`).join(', ')}.`,
    );
}

/** The location every PUT of a tracked resource must name. */
export function requireLocation(body: unknown): string {
  const location = str(body, 'location');
  if (!location) throw armError('LocationRequired', 'The location property is required for this definition.');
  return location;
}

export function tagsOf(body: unknown): Record<string, string> | undefined {
  const t = prop(body, 'tags');
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'object' || Object.values(t).some((v) => typeof v !== 'string'))
    throw armError(
      'InvalidParameter',
      "The value of parameter 'tags' is invalid: every tag value must be a string.",
    );
  return t as Record<string, string>;
}
