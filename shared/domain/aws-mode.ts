/**
 * How a disk reaches AWS when the request does not say: the direct path (EBS direct APIs →
 * snapshot → AMI) copies the disk as it is, so the guest must already boot on EC2's Nitro
 * hardware — NVMe for the root volume and ENA for the network, both drivers in the guest's own
 * kernel. VM Import checks the guest and injects drivers (virtio/NVMe/ENA, Windows PV drivers), so
 * it is the safe choice for anything the gateway cannot vouch for.
 *
 * The rule (documented in README.md, HTTP API):
 * - the caller's `target.mode` wins;
 * - `direct` when the OVF names the guest (`vmw:osType`) as a 64-bit Linux whose stock kernel ships
 *   both NVMe and ENA drivers: Amazon Linux 2/2023, Ubuntu, Debian 10+, RHEL/CentOS/Oracle/Rocky/
 *   Alma 8+, SLES/openSUSE 15+, Fedora, and VMware's "other 5.x/6.x Linux" (kernels ≥ 5.0: ENA is
 *   upstream since 4.9, NVMe since 3.3);
 * - `import` otherwise: Windows (needs drivers injected), older or unnamed Linux (`otherLinux64Guest`,
 *   `other4xLinux64Guest`, RHEL 7 …), 32-bit guests, and images without an OVF (a bare VMDK, VHD,
 *   VHDX or raw disk says nothing about its guest).
 */
import type { AwsMode, VmHardware } from './job';

/**
 * VMware guest ids (`vmw:osType`) of 64-bit Linux distributions whose stock kernels carry NVMe and
 * ENA drivers. Matched case-insensitively against the whole id.
 */
const CLOUD_READY_GUESTS: ReadonlyArray<{ pattern: RegExp; name: string }> = [
  { pattern: /^amazonlinux(2|3)_64guest$/i, name: 'Amazon Linux 2/2023' },
  { pattern: /^ubuntu64guest$/i, name: 'Ubuntu' },
  { pattern: /^debian(1[0-9])_64guest$/i, name: 'Debian 10 or later' },
  { pattern: /^(rhel|centos|oraclelinux)([89]|1[0-9])_64guest$/i, name: 'RHEL-family 8 or later' },
  { pattern: /^(rockylinux|almalinux)_64guest$/i, name: 'Rocky/Alma Linux' },
  { pattern: /^(sles|opensuse)(1[5-9])_64guest$/i, name: 'SLES/openSUSE 15 or later' },
  { pattern: /^fedora64guest$/i, name: 'Fedora' },
  { pattern: /^other[5-9]xlinux64guest$/i, name: 'Linux 5.x or later' },
];

export interface ResolvedAwsMode {
  mode: AwsMode;
  reason: string;
}

/** The AWS mode of a job: the requested one, else what the OVF's guest OS allows (see the rule above). */
export function resolveAwsMode(
  requested: AwsMode | undefined,
  hardware: Pick<VmHardware, 'osType'> | undefined,
): ResolvedAwsMode {
  if (requested) return { mode: requested, reason: `target.mode "${requested}" was requested` };
  if (!hardware) {
    return {
      mode: 'import',
      reason:
        'the image has no OVF, so nothing says the guest boots on EC2 as it is; VM Import checks it and injects drivers',
    };
  }
  const osType = hardware.osType?.trim();
  if (!osType) {
    return {
      mode: 'import',
      reason: 'the OVF names no guest OS; VM Import checks the guest and injects drivers',
    };
  }
  const ready = CLOUD_READY_GUESTS.find((g) => g.pattern.test(osType));
  if (ready) {
    return {
      mode: 'direct',
      reason: `the OVF's guest OS ${osType} (${ready.name}) ships NVMe and ENA drivers, so the disk boots on EC2 as it is`,
    };
  }
  return {
    mode: 'import',
    reason: /win/i.test(osType)
      ? `the OVF's guest OS ${osType} is Windows; VM Import injects the drivers it needs on EC2`
      : `the OVF's guest OS ${osType} is not one known to ship NVMe and ENA drivers; VM Import checks it and injects drivers`,
  };
}
