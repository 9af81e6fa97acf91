/**
 * A region's VM sizes as right-sizing reads them (shared/pricing/right-size.ts), from the Azure
 * Resource SKUs API (`resourceSkus.list`, filtered to the location): vCPUs, memory, CPU
 * architecture and the Hyper-V generations a size boots (generation 1 boots BIOS, 2 boots UEFI).
 * A size restricted in the location (not offered to the subscription there) is left out.
 */
import type { ComputeManagementClient, ResourceSku } from '@azure/arm-compute';
import type { CpuArchitecture, Firmware, InstanceFacts } from '../../pricing/right-size';
import { classifyCloudError } from '../errors';

const ARCHITECTURE: Readonly<Record<string, CpuArchitecture>> = { x64: 'x86_64', arm64: 'arm64' };
const GENERATION: Readonly<Record<string, Firmware>> = { v1: 'bios', v2: 'efi' };

/**
 * The location's VM sizes, those `keep` accepts by name (e.g. the deployment's allow-list; the
 * Resource SKUs API filters by location only).
 */
export async function listVmSizeFacts(
  compute: ComputeManagementClient,
  location: string,
  keep: (name: string) => boolean = () => true,
): Promise<InstanceFacts[]> {
  const facts: InstanceFacts[] = [];
  try {
    for await (const sku of compute.resourceSkus.list({ filter: `location eq '${location}'` })) {
      if (sku.resourceType !== 'virtualMachines' || !sku.name) continue;
      const name = sku.name;
      if (!keep(name) || restrictedIn(sku, location)) continue;
      const f = factsOf(sku, name);
      if (f) facts.push(f);
    }
  } catch (err) {
    throw classifyCloudError(err, 'ResourceSkus_List');
  }
  return facts;
}

function restrictedIn(sku: ResourceSku, location: string): boolean {
  return (sku.restrictions ?? []).some(
    (r) => r.type === 'Location' && (r.values ?? []).some((v) => v.toLowerCase() === location.toLowerCase()),
  );
}

function factsOf(sku: ResourceSku, name: string): InstanceFacts | undefined {
  const cap = (key: string) => sku.capabilities?.find((c) => c.name === key)?.value;
  const vCPUs = Number(cap('vCPUs'));
  const memoryGB = Number(cap('MemoryGB'));
  if (!Number.isSafeInteger(vCPUs) || vCPUs < 1 || !Number.isFinite(memoryGB) || memoryGB <= 0)
    return undefined;
  const architecture = ARCHITECTURE[(cap('CpuArchitectureType') ?? 'x64').toLowerCase()];
  return {
    cloud: 'azure',
    name,
    // `standardDSv5Family` → `DSv5`
    family: (sku.family ?? '').replace(/^standard/i, '').replace(/Family$/, ''),
    vCPUs,
    memoryMiB: Math.round(memoryGB * 1024),
    architectures: architecture ? [architecture] : [],
    firmware: (cap('HyperVGenerations') ?? 'V1').split(',').flatMap((g) => {
      const f = GENERATION[g.trim().toLowerCase()];
      return f ? [f] : [];
    }),
  };
}
