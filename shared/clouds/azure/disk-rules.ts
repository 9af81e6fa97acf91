/**
 * What Azure accepts as a VM's OS disk, checked at inspect, before anything is created in Azure:
 * a managed disk uploaded as a fixed VHD of 20 MiB to 32 TiB, booted from at most 4 TiB.
 */
import type { VmHardware } from '../../domain/job';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
/** Azure's managed-disk upload sizes: 20 MiB to 32 TiB of content, plus the 512-byte VHD footer. */
export const AZURE_MIN_DISK_BYTES = 20 * MiB;
export const AZURE_MAX_UPLOAD_DISK_BYTES = 32 * TiB;
/** Azure VMs boot from OS disks of at most 4 TiB (Generation 1, MBR: 2 TiB addressable). */
export const AZURE_MAX_OS_DISK_BYTES = 4 * TiB;

/** Why Azure would refuse this disk as a VM's OS disk, or undefined when it would not. */
export function azureRefusal(capacity: number, hardware: VmHardware | undefined): string | undefined {
  const virtualSize = Math.ceil(capacity / MiB) * MiB;
  if (virtualSize < AZURE_MIN_DISK_BYTES) {
    return `the disk holds ${capacity} bytes (${virtualSize} once rounded up to a whole MiB as Azure requires); Azure uploads managed disks of at least ${AZURE_MIN_DISK_BYTES} bytes (20 MiB) — grow the disk to 20 MiB or more, or offload to AWS`;
  }
  if (virtualSize > AZURE_MAX_UPLOAD_DISK_BYTES) {
    return `the disk holds ${capacity} bytes; Azure uploads managed disks of at most ${AZURE_MAX_UPLOAD_DISK_BYTES} bytes (32 TiB)`;
  }
  if (virtualSize > AZURE_MAX_OS_DISK_BYTES) {
    return `the disk holds ${capacity} bytes; Azure VMs boot from OS disks of at most ${AZURE_MAX_OS_DISK_BYTES} bytes (4 TiB) — shrink the system disk, or offload to AWS`;
  }
  if (hardware && hardware.disks.length > 1) {
    return `the VM has ${hardware.disks.length} disks; this version offloads single-disk VMs only`;
  }
  return undefined;
}
