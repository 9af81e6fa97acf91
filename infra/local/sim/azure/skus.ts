/**
 * Resource SKUs (`ResourceSkus_List`, GET /subscriptions/{s}/providers/Microsoft.Compute/skus):
 * the VM sizes the simulated subscription offers, with the capabilities Azure lists for them
 * (vCPUs, MemoryGB, HyperVGenerations, CpuArchitectureType, PremiumIO) in the regions below.
 * Azure's one documented filter is `location eq '<region>'`; anything else is refused here, so a
 * caller that relies on another filter learns it from the simulator rather than in production.
 */
import type { ArmRequest, ArmResponse } from './context';
import { armError } from './errors';

interface SizeFacts {
  family: string;
  vCPUs: number;
  memoryGB: number;
  hyperVGenerations: 'V1' | 'V2' | 'V1,V2';
  architecture: 'x64' | 'Arm64';
  premiumIO: boolean;
}

/** The regions whose SKUs the simulator lists (every size is offered in each). */
export const SKU_LOCATIONS = ['eastus', 'westeurope', 'northeurope', 'germanywestcentral'] as const;

const size = (family: string, vCPUs: number, memoryGB: number, more: Partial<SizeFacts> = {}): SizeFacts => ({
  family,
  vCPUs,
  memoryGB,
  hyperVGenerations: 'V1,V2',
  architecture: 'x64',
  premiumIO: true,
  ...more,
});

/** As Azure lists them (Resource SKUs API, 2021-07-01). */
export const VM_SIZE_FACTS: Readonly<Record<string, SizeFacts>> = {
  Standard_A2_v2: size('standardAv2Family', 2, 4, { hyperVGenerations: 'V1', premiumIO: false }),
  Standard_B2s: size('standardBSFamily', 2, 4),
  Standard_B2ms: size('standardBSFamily', 2, 8),
  Standard_B4ms: size('standardBSFamily', 4, 16),
  Standard_D2s_v3: size('standardDSv3Family', 2, 8),
  Standard_D2s_v5: size('standardDSv5Family', 2, 8),
  Standard_D4s_v5: size('standardDSv5Family', 4, 16),
  Standard_D8s_v5: size('standardDSv5Family', 8, 32),
  Standard_D2ps_v5: size('standardDPSv5Family', 2, 8, { hyperVGenerations: 'V2', architecture: 'Arm64' }),
  Standard_E2s_v5: size('standardESv5Family', 2, 16),
  Standard_E4s_v5: size('standardESv5Family', 4, 32),
  Standard_F2s_v2: size('standardFSv2Family', 2, 4),
  Standard_F4s_v2: size('standardFSv2Family', 4, 8),
};

/** Items per page: small, so that a client must follow `nextLink`. */
const PAGE = 5;

function skuJson(name: string, f: SizeFacts, location: string) {
  return {
    resourceType: 'virtualMachines',
    name,
    tier: 'Standard',
    size: name.replace(/^Standard_/, ''),
    family: f.family,
    locations: [location],
    locationInfo: [{ location, zones: ['1', '2', '3'], zoneDetails: [] }],
    capabilities: [
      { name: 'vCPUs', value: String(f.vCPUs) },
      { name: 'MemoryGB', value: String(f.memoryGB) },
      { name: 'HyperVGenerations', value: f.hyperVGenerations },
      { name: 'CpuArchitectureType', value: f.architecture },
      { name: 'PremiumIO', value: f.premiumIO ? 'True' : 'False' },
    ],
    restrictions: [],
  };
}

/** ResourceSkus_List: every VM size in every listed region, or in one (`$filter=location eq 'x'`). */
export function listSkus(armUrl: string, subscriptionId: string, req: ArmRequest): ArmResponse {
  const filter = req.query.get('$filter');
  let locations: readonly string[] = SKU_LOCATIONS;
  if (filter !== null) {
    const m = /^\s*location\s+eq\s+'([a-z0-9]+)'\s*$/i.exec(filter);
    if (!m?.[1]) {
      throw armError(
        'InvalidFilter',
        `The filter '${filter}' is not supported: Resource SKUs take only "location eq '<region>'".`,
        400,
      );
    }
    locations = SKU_LOCATIONS.filter((l) => l === m[1]!.toLowerCase());
  }
  const all = locations.flatMap((loc) =>
    Object.entries(VM_SIZE_FACTS).map(([name, f]) => skuJson(name, f, loc)),
  );
  const start = Number(req.query.get('$skiptoken') ?? '0');
  if (!Number.isSafeInteger(start) || start < 0) {
    throw armError('InvalidSkipToken', `The skip token '${req.query.get('$skiptoken')}' is not valid.`, 400);
  }
  const next = start + PAGE < all.length ? start + PAGE : undefined;
  const link = new URL(`${armUrl}/subscriptions/${subscriptionId}/providers/Microsoft.Compute/skus`);
  link.searchParams.set('api-version', req.apiVersion);
  if (filter !== null) link.searchParams.set('$filter', filter);
  if (next !== undefined) link.searchParams.set('$skiptoken', String(next));
  return {
    status: 200,
    body: {
      value: all.slice(start, start + PAGE),
      ...(next !== undefined ? { nextLink: link.toString() } : {}),
    },
  };
}
