/**
 * What ARM does alike for every resource type the simulator keeps (disks, snapshots, VMs, virtual
 * networks, NICs): find a resource by group and name, GET and list it, answer PUT and DELETE with a
 * long-running operation. Each handler in disks.ts, snapshots.ts, virtual-machines.ts and network.ts
 * names its ResourceKind and adds only the rules of its own type.
 */
import { armError } from './errors';
import {
  COMPUTE,
  lookup,
  NETWORK,
  notFound,
  resourceId,
  startOperation,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context';
import type { AzureSimState, ResourceBase } from './model';

/** One ARM resource type: where its records live and how ARM names and shows them. */
export interface ResourceKind<T extends ResourceBase> {
  /** Resource provider namespace: Microsoft.Compute or Microsoft.Network. */
  ns: string;
  /** The type segment of the resource id (`disks`, `virtualNetworks`). */
  type: string;
  /** The operation-id prefix (`Disks` in `Disks_Delete`). */
  operations: string;
  /** How error messages name one (`Disk`, `Network interface`). */
  label: string;
  table(state: AzureSimState): Record<string, T>;
  json(ctx: ArmContext, r: T): unknown;
  /** Whether GET answers 404 once the DELETE is accepted (see COMPUTE_PROVIDER, NETWORK_PROVIDER). */
  goneWhileDeleting: boolean;
}

/**
 * How each resource provider treats a resource whose DELETE is running: Compute keeps answering GET
 * (provisioningState Deleting); Network answers 404 as soon as the DELETE is accepted.
 */
export const COMPUTE_PROVIDER = { ns: COMPUTE, goneWhileDeleting: false } as const;
export const NETWORK_PROVIDER = { ns: NETWORK, goneWhileDeleting: true } as const;

/** The record a request names, if there is one (also while its DELETE is running). */
export function findRecord<T extends ResourceBase>(
  ctx: ArmContext,
  kind: ResourceKind<T>,
  rg: string,
  name: string,
): T | undefined {
  return lookup(kind.table(ctx.state), resourceId(ctx, rg, kind.ns, kind.type, name));
}

/** The record a GET or POST names, or ARM's ResourceNotFound. */
export function requireRecord<T extends ResourceBase>(
  ctx: ArmContext,
  kind: ResourceKind<T>,
  rg: string,
  name: string,
): T {
  const r = findRecord(ctx, kind, rg, name);
  if (!r || (kind.goneWhileDeleting && r.deletingUntil !== undefined))
    throw notFound(`${kind.ns}/${kind.type}`, name, rg);
  return r;
}

/** The record a POST action works on: it must exist and must not be in the middle of its DELETE. */
export function requireNotDeleting<T extends ResourceBase>(
  ctx: ArmContext,
  kind: ResourceKind<T>,
  rg: string,
  name: string,
): T {
  const r = requireRecord(ctx, kind, rg, name);
  if (r.deletingUntil !== undefined)
    throw armError('OperationNotAllowed', `${kind.label} ${r.name} is being deleted.`, 409);
  return r;
}

/**
 * The record a PUT updates, or undefined when the PUT creates one. A PUT while the resource's DELETE
 * is running is refused: the old record still holds its name until the sweep removes it.
 */
export function recordToUpdate<T extends ResourceBase>(
  ctx: ArmContext,
  kind: ResourceKind<T>,
  id: string,
  name: string,
): T | undefined {
  const existing = lookup(kind.table(ctx.state), id);
  if (existing?.deletingUntil !== undefined)
    throw armError(
      'OperationNotAllowed',
      `${kind.label} ${name} is being deleted; retry when it is gone.`,
      409,
    );
  return existing;
}

/** The fields every new resource starts with; it shows Creating/Updating for `readyInMs`. */
export function newResource(
  id: string,
  name: string,
  rg: string,
  location: string,
  tags: Record<string, string> | undefined,
  now: number,
  readyInMs: number,
): ResourceBase {
  return {
    id,
    name,
    resourceGroup: rg,
    location,
    ...(tags ? { tags } : {}),
    createdAt: now,
    readyAt: now + readyInMs,
  };
}

/** The head of every resource's JSON, in ARM's order: id, name, type, location, tags. */
export function resourceHead<T extends ResourceBase>(kind: ResourceKind<T>, r: T) {
  return {
    id: r.id,
    name: r.name,
    type: `${kind.ns}/${kind.type}`,
    location: r.location,
    ...(r.tags ? { tags: r.tags } : {}),
  };
}

export function getResource<T extends ResourceBase>(
  ctx: ArmContext,
  kind: ResourceKind<T>,
  rg: string,
  name: string,
): ArmResponse {
  return { status: 200, body: kind.json(ctx, requireRecord(ctx, kind, rg, name)) };
}

/** ListByResourceGroup: every record of the group, those being deleted included (they show Deleting). */
export function listResources<T extends ResourceBase>(
  ctx: ArmContext,
  kind: ResourceKind<T>,
  rg: string,
): ArmResponse {
  const value = Object.values(kind.table(ctx.state))
    .filter((r) => r.resourceGroup === rg)
    .map((r) => kind.json(ctx, r));
  return { status: 200, body: { value } };
}

/** Starts a long-running operation for a POST action or DELETE and answers 202 with its URLs. */
export function accepted(
  ctx: ArmContext,
  req: ArmRequest,
  action: string,
  ns: string,
  location: string,
  opts?: Parameters<typeof startOperation>[5],
): ArmResponse {
  const headers = startOperation(ctx, req, action, ns, location, opts);
  ctx.save();
  return { status: 202, headers };
}

/** Azure's network RP answers a PUT with Azure-AsyncOperation only, no Location. */
export function asyncOperationOnly(headers: Record<string, string>): Record<string, string> {
  return { 'Azure-AsyncOperation': headers['Azure-AsyncOperation'] ?? '' };
}

/**
 * Answers a PUT with the resource and its long-running operation: 201 when the PUT created it, 200
 * when it updated it.
 */
export function answerPut<T extends ResourceBase>(
  ctx: ArmContext,
  req: ArmRequest,
  kind: ResourceKind<T>,
  r: T,
  how: { created: boolean; durationMs?: number; onlyAsyncOperation?: boolean },
): ArmResponse {
  const headers = startOperation(
    ctx,
    req,
    `${kind.operations}_CreateOrUpdate`,
    kind.ns,
    r.location,
    how.durationMs === undefined ? {} : { durationMs: how.durationMs },
  );
  ctx.save();
  return {
    status: how.created ? 201 : 200,
    body: kind.json(ctx, r),
    headers: how.onlyAsyncOperation ? asyncOperationOnly(headers) : headers,
  };
}

/**
 * DELETE as ARM answers it: 204 when there is no such resource. Otherwise `beginDelete` runs once
 * (it refuses by throwing, or releases what the resource holds), the resource shows Deleting for one
 * operation time, and a repeated DELETE meanwhile gets the same 202 without running it again.
 */
export function deleteResource<T extends ResourceBase>(
  ctx: ArmContext,
  req: ArmRequest,
  kind: ResourceKind<T>,
  rg: string,
  name: string,
  beginDelete: (r: T) => void | Promise<void>,
): ArmResponse | Promise<ArmResponse> {
  const r = findRecord(ctx, kind, rg, name);
  // ARM answers DELETE of a missing resource with 204
  if (!r) return { status: 204 };
  const answer = () => accepted(ctx, req, `${kind.operations}_Delete`, kind.ns, r.location);
  if (r.deletingUntil !== undefined) return answer();
  const finish = () => {
    r.deletingUntil = ctx.now() + ctx.timing.operationMs;
    return answer();
  };
  const started = beginDelete(r);
  return started instanceof Promise ? started.then(finish) : finish();
}
