/**
 * Microsoft.Network: virtual networks with subnets, and network interfaces on a subnet — what a VM
 * needs. PUTs answer 201/200 with the resource (provisioningState Updating) and Azure-AsyncOperation;
 * deletes refuse what is still in use, with Azure's codes (NicInUse, InUseSubnetCannotBeDeleted).
 */
import { randomBytes } from 'node:crypto';

import {
  lookup,
  NETWORK,
  notFound,
  prop,
  provisioningState,
  requireLocation,
  requireParam,
  resourceId,
  startOperation,
  str,
  tagsOf,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context';
import { armError } from './errors';
import { key, type NicRec, type SubnetRec, type VnetRec } from './model';
import {
  accepted,
  answerPut,
  asyncOperationOnly,
  deleteResource,
  findRecord,
  getResource,
  NETWORK_PROVIDER,
  newResource,
  recordToUpdate,
  requireRecord,
  resourceHead,
  type ResourceKind,
} from './resources';

const VNETS: ResourceKind<VnetRec> = {
  ...NETWORK_PROVIDER,
  type: 'virtualNetworks',
  operations: 'VirtualNetworks',
  label: 'Virtual network',
  table: (state) => state.vnets,
  json: vnetJson,
};

const NICS: ResourceKind<NicRec> = {
  ...NETWORK_PROVIDER,
  type: 'networkInterfaces',
  operations: 'NetworkInterfaces',
  label: 'Network interface',
  table: (state) => state.nics,
  json: nicJson,
};

function parseCidr(cidr: string, what: string): { base: number; bits: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const bits = m ? Number(m[5]) : -1;
  if (!m || octets.some((o) => o > 255) || bits < 8 || bits > 29)
    throw armError(
      'InvalidAddressPrefixFormat',
      `Address prefix ${cidr} of ${what} does not have a valid format (expected an IPv4 CIDR such as 10.0.0.0/24 with a prefix length of 8 to 29).`,
    );
  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { base, bits };
}

function ipString(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function subnetJson(ctx: ArmContext, vnet: VnetRec, s: SubnetRec) {
  const users = Object.values(ctx.state.nics).filter(
    (n) => key(n.subnetId) === key(s.id) && !n.deletingUntil,
  );
  return {
    id: s.id,
    name: s.name,
    type: 'Microsoft.Network/virtualNetworks/subnets',
    properties: {
      addressPrefix: s.addressPrefix,
      provisioningState: provisioningState(ctx, vnet, 'Updating'),
      ...(users.length
        ? { ipConfigurations: users.map((n) => ({ id: `${n.id}/ipConfigurations/${n.ipConfigName}` })) }
        : {}),
    },
  };
}

function vnetJson(ctx: ArmContext, v: VnetRec) {
  return {
    ...resourceHead(VNETS, v),
    properties: {
      provisioningState: provisioningState(ctx, v, 'Updating'),
      addressSpace: { addressPrefixes: v.addressPrefixes },
      subnets: v.subnets.map((s) => subnetJson(ctx, v, s)),
    },
  };
}

function checkInside(vnet: { addressPrefixes: string[] }, prefix: string, what: string): void {
  const sub = parseCidr(prefix, what);
  const inside = vnet.addressPrefixes.some((p) => {
    const net = parseCidr(p, 'the virtual network');
    const size = 2 ** (32 - net.bits);
    return sub.bits >= net.bits && sub.base >= net.base && sub.base < net.base + size;
  });
  if (!inside)
    throw armError(
      'NetcfgInvalidSubnet',
      `Subnet ${what} is not valid in virtual network: its address prefix ${prefix} is outside the network's address space ${vnet.addressPrefixes.join(', ')}.`,
    );
}

function makeSubnet(
  vnetId: string,
  name: string,
  prefix: string,
  vnet: { addressPrefixes: string[] },
): SubnetRec {
  checkInside(vnet, prefix, `'${name}'`);
  // Azure reserves the first four addresses of every subnet
  return { id: `${vnetId}/subnets/${name}`, name, addressPrefix: prefix, nextHost: 4 };
}

export function putVnet(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const id = resourceId(ctx, rg, NETWORK, 'virtualNetworks', name);
  const body = req.body;
  const location = requireLocation(body);
  const prefixes = prop(body, 'properties', 'addressSpace', 'addressPrefixes');
  if (!Array.isArray(prefixes) || prefixes.length === 0 || prefixes.some((p) => typeof p !== 'string'))
    throw armError(
      'InvalidRequestFormat',
      "Cannot parse the request: 'properties.addressSpace.addressPrefixes' must list at least one address prefix.",
    );
  for (const p of prefixes as string[]) parseCidr(p, `virtual network ${name}`);
  const space = { addressPrefixes: prefixes as string[] };
  const subnetBodies = prop(body, 'properties', 'subnets');
  const subnets: SubnetRec[] = [];
  if (Array.isArray(subnetBodies)) {
    for (const sb of subnetBodies) {
      const sname = str(sb, 'name');
      requireParam(sname, 'subnets[].name');
      const prefix = str(sb, 'properties', 'addressPrefix');
      requireParam(prefix, `subnets['${String(sname)}'].properties.addressPrefix`);
      subnets.push(makeSubnet(id, sname as string, prefix as string, space));
    }
  }
  const tags = tagsOf(body);
  const now = ctx.now();
  const existing = recordToUpdate(ctx, VNETS, id, name);
  if (existing) {
    // a PUT replaces the subnet list; a subnet in use must stay
    for (const old of existing.subnets) {
      const kept = subnets.find((s) => s.name.toLowerCase() === old.name.toLowerCase());
      if (kept) kept.nextHost = old.nextHost;
      else assertSubnetUnused(ctx, old);
    }
    existing.addressPrefixes = space.addressPrefixes;
    existing.subnets = subnets;
    existing.tags = tags;
    // the update answers Location too, unlike every other network PUT (kept as it was)
    return answerPut(ctx, req, VNETS, existing, { created: false });
  }
  const vnet: VnetRec = {
    ...newResource(id, name, rg, location, tags, now, ctx.timing.operationMs),
    addressPrefixes: space.addressPrefixes,
    subnets,
  };
  ctx.state.vnets[key(id)] = vnet;
  return answerPut(ctx, req, VNETS, vnet, { created: true, onlyAsyncOperation: true });
}

export function getVnet(ctx: ArmContext, _req: ArmRequest, rg: string, name: string): ArmResponse {
  return getResource(ctx, VNETS, rg, name);
}

function assertSubnetUnused(ctx: ArmContext, s: SubnetRec): void {
  const user = Object.values(ctx.state.nics).find(
    (n) => key(n.subnetId) === key(s.id) && n.deletingUntil === undefined,
  );
  if (user)
    throw armError(
      'InUseSubnetCannotBeDeleted',
      `Subnet ${s.name} is in use by ${user.id}/ipConfigurations/${user.ipConfigName} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`,
      400,
    );
}

export function deleteVnet(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): ArmResponse | Promise<ArmResponse> {
  return deleteResource(ctx, req, VNETS, rg, name, (v) => {
    for (const s of v.subnets) assertSubnetUnused(ctx, s);
  });
}

export function putSubnet(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  vnetName: string,
  name: string,
): ArmResponse {
  const vnet = requireRecord(ctx, VNETS, rg, vnetName);
  const prefix = str(req.body, 'properties', 'addressPrefix');
  requireParam(prefix, 'subnet.properties.addressPrefix');
  const existing = vnet.subnets.find((s) => s.name.toLowerCase() === name.toLowerCase());
  const subnet = makeSubnet(vnet.id, name, prefix as string, vnet);
  if (existing) {
    if (existing.addressPrefix !== subnet.addressPrefix) assertSubnetUnused(ctx, existing);
    existing.addressPrefix = subnet.addressPrefix;
  } else vnet.subnets.push(subnet);
  const headers = startOperation(ctx, req, 'Subnets_CreateOrUpdate', NETWORK, vnet.location);
  ctx.save();
  return {
    status: existing ? 200 : 201,
    body: subnetJson(ctx, vnet, existing ?? subnet),
    headers: asyncOperationOnly(headers),
  };
}

export function getSubnet(
  ctx: ArmContext,
  _req: ArmRequest,
  rg: string,
  vnetName: string,
  name: string,
): ArmResponse {
  const vnet = requireRecord(ctx, VNETS, rg, vnetName);
  const s = vnet.subnets.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!s) throw notFound('Microsoft.Network/virtualNetworks/subnets', `${vnetName}/${name}`, rg);
  return { status: 200, body: subnetJson(ctx, vnet, s) };
}

export function deleteSubnet(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  vnetName: string,
  name: string,
): ArmResponse {
  const vnet = findRecord(ctx, VNETS, rg, vnetName);
  const s = vnet?.subnets.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (!vnet || !s) return { status: 204 };
  assertSubnetUnused(ctx, s);
  vnet.subnets = vnet.subnets.filter((x) => x !== s);
  return accepted(ctx, req, 'Subnets_Delete', NETWORK, vnet.location);
}

function nicJson(ctx: ArmContext, n: NicRec) {
  return {
    ...resourceHead(NICS, n),
    properties: {
      provisioningState: provisioningState(ctx, n, 'Updating'),
      ipConfigurations: [
        {
          id: `${n.id}/ipConfigurations/${n.ipConfigName}`,
          name: n.ipConfigName,
          properties: {
            provisioningState: provisioningState(ctx, n, 'Updating'),
            privateIPAddress: n.privateIp,
            privateIPAllocationMethod: 'Dynamic',
            privateIPAddressVersion: 'IPv4',
            subnet: { id: n.subnetId },
            primary: true,
          },
        },
      ],
      macAddress: n.macAddress,
      ...(n.virtualMachine ? { virtualMachine: { id: n.virtualMachine } } : {}),
    },
  };
}

export function putNic(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const id = resourceId(ctx, rg, NETWORK, 'networkInterfaces', name);
  const body = req.body;
  const location = requireLocation(body);
  const configs = prop(body, 'properties', 'ipConfigurations');
  if (!Array.isArray(configs) || configs.length === 0)
    throw armError(
      'NetworkInterfaceMustHaveAtLeastOneIpConfiguration',
      `Network interface ${id} must have one or more IP configurations.`,
    );
  if (configs.length > 1)
    throw armError(
      'InvalidParameter',
      'The burstgate simulator supports one IP configuration per network interface.',
    );
  const ipConfigName = str(configs[0], 'name') ?? 'ipconfig1';
  const subnetId = str(configs[0], 'properties', 'subnet', 'id');
  requireParam(subnetId, 'ipConfigurations[0].properties.subnet.id');
  const vnetId = (subnetId as string).replace(/\/subnets\/[^/]+$/i, '');
  const vnet = lookup(ctx.state.vnets, vnetId);
  const subnet = vnet?.subnets.find((s) => key(s.id) === key(subnetId as string));
  if (!vnet || vnet.deletingUntil !== undefined || !subnet)
    throw armError(
      'InvalidResourceReference',
      `Resource ${String(subnetId)} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
    );
  const tags = tagsOf(body);
  const existing = recordToUpdate(ctx, NICS, id, name);
  if (existing) {
    if (key(existing.subnetId) !== key(subnet.id) && existing.virtualMachine)
      throw armError(
        'NicInUse',
        `Network Interface ${id} is used by ${existing.virtualMachine}; its subnet cannot change.`,
        400,
      );
    existing.subnetId = subnet.id;
    existing.tags = tags;
    return answerPut(ctx, req, NICS, existing, { created: false, onlyAsyncOperation: true });
  }
  const net = parseCidr(subnet.addressPrefix, `subnet ${subnet.name}`);
  // the last address of a subnet is its broadcast address
  if (subnet.nextHost >= 2 ** (32 - net.bits) - 1)
    throw armError(
      'SubnetIsFull',
      `Subnet ${subnet.name} with address prefix ${subnet.addressPrefix} does not have enough capacity for 1 IP addresses.`,
    );
  const privateIp = ipString(net.base + subnet.nextHost);
  subnet.nextHost += 1;
  const mac = randomBytes(6);
  mac[0] = 0x00;
  const nic: NicRec = {
    ...newResource(id, name, rg, location, tags, ctx.now(), ctx.timing.operationMs),
    subnetId: subnet.id,
    privateIp,
    ipConfigName,
    macAddress: [...mac].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join('-'),
  };
  ctx.state.nics[key(id)] = nic;
  return answerPut(ctx, req, NICS, nic, { created: true, onlyAsyncOperation: true });
}

export function getNic(ctx: ArmContext, _req: ArmRequest, rg: string, name: string): ArmResponse {
  return getResource(ctx, NICS, rg, name);
}

export function deleteNic(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): ArmResponse | Promise<ArmResponse> {
  return deleteResource(ctx, req, NICS, rg, name, (n) => {
    if (n.virtualMachine)
      throw armError(
        'NicInUse',
        `Network Interface ${n.id} is used by existing resource ${n.virtualMachine}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`,
        400,
      );
  });
}
