/**
 * ARM request routing: maps a method and path to the operation id Azure documents
 * (`Disks_GrantAccess`, …) and its handler, and answers the long-running-operation status (Azure-
 * AsyncOperation) and result (Location) URLs.
 */
import * as disks from './disks';
import {
  COMPUTE,
  isoTime,
  NETWORK,
  resolveGroup,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context';
import { armError } from './errors';
import * as network from './network';
import { listSkus } from './skus';
import * as snapshots from './snapshots';
import * as vms from './virtual-machines';

export interface ArmRoute {
  action: string;
  run(ctx: ArmContext, req: ArmRequest): ArmResponse | Promise<ArmResponse>;
}

type ItemHandler = (
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
) => ArmResponse | Promise<ArmResponse>;

interface TypeTable {
  prefix: string;
  ns: string;
  put: ItemHandler;
  get: ItemHandler;
  delete: ItemHandler;
  list?: (ctx: ArmContext, rg: string) => ArmResponse;
  actions?: Record<string, { action: string; run: ItemHandler; method?: string }>;
}

const TYPES: Record<string, TypeTable> = {
  disks: {
    prefix: 'Disks',
    ns: COMPUTE,
    put: disks.putDisk,
    get: disks.getDisk,
    delete: disks.deleteDisk,
    list: disks.listDisks,
    actions: {
      begingetaccess: { action: 'Disks_GrantAccess', run: disks.grantDiskAccess },
      endgetaccess: { action: 'Disks_RevokeAccess', run: disks.revokeDiskAccess },
    },
  },
  snapshots: {
    prefix: 'Snapshots',
    ns: COMPUTE,
    put: snapshots.putSnapshot,
    get: snapshots.getSnapshot,
    delete: snapshots.deleteSnapshot,
    list: snapshots.listSnapshots,
    actions: {
      begingetaccess: { action: 'Snapshots_GrantAccess', run: snapshots.grantSnapshotAccess },
      endgetaccess: { action: 'Snapshots_RevokeAccess', run: snapshots.revokeSnapshotAccess },
    },
  },
  virtualmachines: {
    prefix: 'VirtualMachines',
    ns: COMPUTE,
    put: vms.putVm,
    get: vms.getVm,
    delete: vms.deleteVm,
    list: vms.listVms,
    actions: {
      deallocate: { action: 'VirtualMachines_Deallocate', run: vms.deallocateVm },
      start: { action: 'VirtualMachines_Start', run: vms.startVm },
      instanceview: { action: 'VirtualMachines_InstanceView', run: vms.getVmInstanceView, method: 'GET' },
    },
  },
  virtualnetworks: {
    prefix: 'VirtualNetworks',
    ns: NETWORK,
    put: network.putVnet,
    get: network.getVnet,
    delete: network.deleteVnet,
  },
  networkinterfaces: {
    prefix: 'NetworkInterfaces',
    ns: NETWORK,
    put: network.putNic,
    get: network.getNic,
    delete: network.deleteNic,
  },
};

const METHOD_VERB: Record<string, string> = { PUT: 'CreateOrUpdate', GET: 'Get', DELETE: 'Delete' };

function unknownType(ns: string, type: string, apiVersion: string) {
  return armError(
    'InvalidResourceType',
    `The resource type '${type}' could not be found in the namespace '${ns}' for api version '${apiVersion}'.`,
    404,
  );
}

function methodNotAllowed(method: string) {
  return armError(
    'MethodNotAllowed',
    `The requested method '${method}' is not allowed on this resource.`,
    405,
  );
}

/** The route for a request under /subscriptions/{id}; the caller has checked the subscription. */
export function routeArm(method: string, segments: string[], apiVersion: string): ArmRoute {
  const [, , third, fourth, fifth, sixth, seventh, eighth, ...rest] = segments;
  // /subscriptions/{s}/providers/Microsoft.Compute/skus
  if (
    third?.toLowerCase() === 'providers' &&
    fourth?.toLowerCase() === COMPUTE.toLowerCase() &&
    fifth?.toLowerCase() === 'skus' &&
    !sixth
  ) {
    if (method !== 'GET') throw methodNotAllowed(method);
    return { action: 'ResourceSkus_List', run: (ctx, req) => listSkus(ctx.armUrl, ctx.subscriptionId, req) };
  }
  // /subscriptions/{s}/providers/{ns}/locations/{loc}/operations|operationResults/{id}
  if (
    third?.toLowerCase() === 'providers' &&
    sixth &&
    seventh &&
    eighth &&
    fifth?.toLowerCase() === 'locations'
  ) {
    const kind = seventh.toLowerCase();
    if (method !== 'GET' || (kind !== 'operations' && kind !== 'operationresults') || rest.length)
      throw unknownType(fourth ?? '', `locations/${seventh}`, apiVersion);
    return {
      action: kind === 'operations' ? 'AsyncOperation_Get' : 'OperationResult_Get',
      run: (ctx, req) => operationStatus(ctx, req, eighth, kind === 'operationresults'),
    };
  }
  if (third?.toLowerCase() !== 'resourcegroups' || !fourth)
    throw armError(
      'InvalidRequestUri',
      'The request URI is not valid for this simulator: expected /subscriptions/{id}/resourceGroups/{group}/providers/….',
      400,
    );
  const rgName = fourth;
  if (fifth?.toLowerCase() !== 'providers' || !sixth || !seventh)
    throw armError(
      'InvalidRequestUri',
      `The request URI under resource group '${rgName}' is not a provider resource URI.`,
      400,
    );
  const table = TYPES[seventh.toLowerCase()];
  if (!table || table.ns.toLowerCase() !== sixth.toLowerCase()) throw unknownType(sixth, seventh, apiVersion);
  const withGroup =
    (h: ItemHandler, name: string): ArmRoute['run'] =>
    (ctx, req) =>
      h(ctx, req, resolveGroup(ctx, rgName), name);

  if (!eighth) {
    if (method !== 'GET' || !table.list) throw methodNotAllowed(method);
    const list = table.list;
    return {
      action: `${table.prefix}_ListByResourceGroup`,
      run: (ctx) => list(ctx, resolveGroup(ctx, rgName)),
    };
  }
  const name = eighth;
  if (rest.length === 0) {
    const verb = METHOD_VERB[method];
    if (!verb) throw methodNotAllowed(method);
    const h = method === 'PUT' ? table.put : method === 'GET' ? table.get : table.delete;
    return { action: `${table.prefix}_${verb}`, run: withGroup(h, name) };
  }
  const [sub, subName, ...more] = rest;
  if (table === TYPES.virtualnetworks && sub?.toLowerCase() === 'subnets' && subName && more.length === 0) {
    const verb = METHOD_VERB[method];
    if (!verb) throw methodNotAllowed(method);
    const h =
      method === 'PUT' ? network.putSubnet : method === 'GET' ? network.getSubnet : network.deleteSubnet;
    return {
      action: `Subnets_${verb}`,
      run: (ctx, req) => h(ctx, req, resolveGroup(ctx, rgName), name, subName),
    };
  }
  const act = rest.length === 1 && sub ? table.actions?.[sub.toLowerCase()] : undefined;
  if (!act) throw unknownType(sixth, `${seventh}/${rest.join('/')}`, apiVersion);
  if (method !== (act.method ?? 'POST')) throw methodNotAllowed(method);
  return { action: act.action, run: withGroup(act.run, name) };
}

function operationStatus(ctx: ArmContext, req: ArmRequest, id: string, resultUrl: boolean): ArmResponse {
  const op = ctx.state.operations[id];
  if (!op) throw armError('NotFound', 'The entity was not found in this Azure location.', 404);
  const done = ctx.now() >= op.doneAt;
  const monitor = resultUrl || req.query.get('monitor') === 'true';
  if (monitor) {
    // the result URL: 202 while running (no Retry-After), then the result or the error
    if (!done) return { status: 202 };
    if (op.error) return { status: 400, body: { error: op.error } };
    return op.output === undefined ? { status: 200 } : { status: 200, body: op.output };
  }
  const status = !done ? 'InProgress' : op.error ? 'Failed' : 'Succeeded';
  return {
    status: 200,
    body: {
      name: op.id,
      status,
      startTime: isoTime(op.startedAt),
      ...(done ? { endTime: isoTime(op.doneAt) } : {}),
      ...(done && op.error ? { error: op.error } : {}),
      ...(done && op.output !== undefined ? { properties: { output: op.output } } : {}),
    },
  };
}

/** Removes resources whose delete has finished and operations nobody will poll any more. */
export function sweep(ctx: ArmContext): boolean {
  const now = ctx.now();
  let changed = false;
  for (const table of [
    ctx.state.disks,
    ctx.state.snapshots,
    ctx.state.vms,
    ctx.state.nics,
    ctx.state.vnets,
  ] as Record<string, { deletingUntil?: number }>[]) {
    for (const [k, r] of Object.entries(table)) {
      if (r.deletingUntil !== undefined && now >= r.deletingUntil) {
        delete table[k];
        changed = true;
      }
    }
  }
  for (const [k, op] of Object.entries(ctx.state.operations)) {
    if (now - op.doneAt > 15 * 60_000) {
      delete ctx.state.operations[k];
      changed = true;
    }
  }
  for (const [k, a] of Object.entries(ctx.state.accesses)) {
    if (a.revoked || now > a.expiresAt + 15 * 60_000) {
      const owner = ctx.state.disks[a.resourceId] ?? ctx.state.snapshots[a.resourceId];
      if (!owner) {
        delete ctx.state.accesses[k];
        changed = true;
      }
    }
  }
  return changed;
}
