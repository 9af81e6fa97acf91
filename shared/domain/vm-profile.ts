/**
 * A VM as quotes and estimates see it, from what the gateway has read of it: an OVF's hardware, or
 * the hardware a job recorded at inspection; and the tenant's earlier jobs of a VM, newest first.
 */
import type { QuoteVm } from '../pricing/quote';
import type { Gateway } from './gateway';
import type { Job } from './job';

/** The hardware fields OVF parsing and job inspection both record. */
export interface DescribedHardware {
  vcpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'efi';
  osType?: string;
  disks: ReadonlyArray<{ capacityBytes: number }>;
}

/** The guest's OS family from its OVF guest id (`windows2019srv_64Guest`, `ubuntu64Guest`). */
export function guestOs(osType: string | undefined): 'windows' | 'linux' {
  return /win/i.test(osType ?? '') ? 'windows' : 'linux';
}

/** The quote profile of described hardware; `disks` replaces its disks (with what is allocated). */
export function quoteVmOf(hw: DescribedHardware, disks?: QuoteVm['disks']): QuoteVm {
  return {
    vCPUs: hw.vcpus,
    memoryBytes: hw.memoryMiB * 1024 * 1024,
    architecture: 'x86_64',
    firmware: hw.firmware,
    os: guestOs(hw.osType),
    disks: disks ?? hw.disks.map((d) => ({ capacityBytes: d.capacityBytes })),
  };
}

/** The tenant's jobs of `vmName`, newest first, from its `maxPages` newest pages of jobs. */
export async function jobsOfVm(
  gw: Gateway,
  tenant: string,
  vmName: string,
  maxPages: number,
): Promise<Job[]> {
  const out: Job[] = [];
  for await (const j of gw.store.ownedNewestFirst(tenant, maxPages)) if (j.vmName === vmName) out.push(j);
  return out;
}
