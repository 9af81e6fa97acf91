/**
 * Right-sizing: the cheapest instance type (AWS) or VM size (Azure) of a region's catalog that runs
 * a VM as it is, with the reasons each cheaper candidate was turned down. Pure: the catalog comes
 * from EC2 DescribeInstanceTypes or Azure resourceSkus (instance-facts adapters), the hourly prices
 * from a PriceBook; this module only decides.
 *
 * What "runs it as it is" means:
 * - at least the VM's vCPUs and memory, each times the headroom factor (rounded up);
 * - the VM's CPU architecture;
 * - its firmware: EC2's supported boot modes (`legacy-bios`, `uefi`); on Azure, Hyper-V
 *   generation 1 boots BIOS and generation 2 boots UEFI;
 * - for AWS direct mode (the disk written block by block into an EBS snapshot and booted as is),
 *   NVMe storage and ENA networking: a Nitro type, which is what the image's drivers get there;
 * - the pinned family, when the request pins one.
 */

export type CpuArchitecture = 'x86_64' | 'arm64';
export type Firmware = 'bios' | 'efi';

/** What the VM needs, from its OVF profile or the request. */
export interface HardwareProfile {
  vCPUs: number;
  memoryBytes: number;
  architecture: CpuArchitecture;
  firmware: Firmware;
}

/** One instance type or VM size as the cloud describes it (only what right-sizing reads). */
export interface InstanceFacts {
  cloud: 'aws' | 'azure';
  /** `m7i.large`, `Standard_D2s_v5`. */
  name: string;
  /** `m7i`, `Dsv5` (Azure's SKU family without the `standard` prefix and `Family` suffix). */
  family: string;
  vCPUs: number;
  memoryMiB: number;
  architectures: readonly CpuArchitecture[];
  /** The firmware it can boot (EC2 SupportedBootModes; Azure HyperVGenerations V1 → bios, V2 → efi). */
  firmware: readonly Firmware[];
  /** EC2 only: EbsInfo.NvmeSupport and NetworkInfo.EnaSupport are not `unsupported`. */
  nitro?: boolean;
}

export interface RightSizeOptions {
  /** Multiplies vCPUs and memory before matching (1 to 4; default 1). */
  headroom?: number;
  /** Only this family (`m7i`, `Dsv5`). */
  family?: string;
  /** AWS direct mode: NVMe and ENA required. */
  direct?: boolean;
  /** Hourly on-demand price of a type in the region (undefined: not priced there). */
  hourlyPrice?: (name: string) => number | undefined;
}

export interface Candidate {
  name: string;
  hourlyPrice?: number;
}

export interface RightSizeChoice {
  chosen: InstanceFacts & Candidate;
  /** What the choice had to meet, after headroom. */
  needs: { vCPUs: number; memoryMiB: number; architecture: CpuArchitecture; firmware: Firmware };
  /** Why it was chosen, in one sentence. */
  reason: string;
  /** Every candidate that sorts before the chosen one (cheaper, or smaller), and why it does not fit. */
  rejected: Array<Candidate & { reasons: string[] }>;
}

export type RightSizeErrorCode = 'RIGHTSIZE_BAD_PROFILE' | 'RIGHTSIZE_NOTHING_FITS';

export class RightSizeError extends Error {
  override readonly name = 'RightSizeError';
  constructor(
    readonly code: RightSizeErrorCode,
    message: string,
    /** RIGHTSIZE_NOTHING_FITS: the largest type of the catalog (by memory, then vCPUs). */
    readonly largest?: string,
  ) {
    super(message);
  }
}

const MiB = 1024 * 1024;
const MAX_HEADROOM = 4;

/**
 * The cheapest candidate that fits; without prices, the smallest (vCPUs, then memory). A candidate
 * with no price sorts after every priced one: nothing says it is cheaper. Throws
 * RIGHTSIZE_NOTHING_FITS naming the largest type when none fits, RIGHTSIZE_BAD_PROFILE for
 * a profile or headroom that cannot be matched.
 */
export function rightSize(
  vm: HardwareProfile,
  catalog: readonly InstanceFacts[],
  opts: RightSizeOptions = {},
): RightSizeChoice {
  const headroom = opts.headroom ?? 1;
  if (!Number.isFinite(headroom) || headroom < 1 || headroom > MAX_HEADROOM) {
    throw new RightSizeError(
      'RIGHTSIZE_BAD_PROFILE',
      `headroom must be a number from 1 to ${MAX_HEADROOM}, got ${headroom}`,
    );
  }
  if (!Number.isSafeInteger(vm.vCPUs) || vm.vCPUs < 1) {
    throw new RightSizeError('RIGHTSIZE_BAD_PROFILE', `vCPUs must be a whole number ≥ 1, got ${vm.vCPUs}`);
  }
  if (!Number.isSafeInteger(vm.memoryBytes) || vm.memoryBytes < MiB) {
    throw new RightSizeError(
      'RIGHTSIZE_BAD_PROFILE',
      `memoryBytes must be a whole number of at least 1 MiB, got ${vm.memoryBytes}`,
    );
  }
  const needs = {
    vCPUs: Math.ceil(vm.vCPUs * headroom),
    memoryMiB: Math.ceil((vm.memoryBytes * headroom) / MiB),
    architecture: vm.architecture,
    firmware: vm.firmware,
  };
  const ranked = catalog.map((f) => ({ ...f, ...priced(f.name, opts.hourlyPrice) })).sort(byPriceThenSize);
  const rejected: RightSizeChoice['rejected'] = [];
  for (const candidate of ranked) {
    const reasons = misfits(candidate, needs, opts);
    if (reasons.length === 0) {
      return { chosen: candidate, needs, reason: why(candidate, needs, headroom), rejected };
    }
    rejected.push({ name: candidate.name, ...priced(candidate.name, opts.hourlyPrice), reasons });
  }
  const largest = [...catalog].sort((a, b) => b.memoryMiB - a.memoryMiB || b.vCPUs - a.vCPUs)[0];
  throw new RightSizeError(
    'RIGHTSIZE_NOTHING_FITS',
    `no ${catalog[0]?.cloud === 'azure' ? 'VM size' : 'instance type'} of the ${catalog.length} offered fits ` +
      `${needs.vCPUs} vCPUs, ${needs.memoryMiB} MiB, ${needs.architecture}, ${needs.firmware}` +
      `${opts.family ? ` in family ${opts.family}` : ''}${opts.direct ? ' with NVMe and ENA' : ''}` +
      (largest ? `; the largest is ${largest.name} (${largest.vCPUs} vCPUs, ${largest.memoryMiB} MiB)` : ''),
    largest?.name,
  );
}

function priced(name: string, price: RightSizeOptions['hourlyPrice']): { hourlyPrice?: number } {
  const p = price?.(name);
  return p === undefined ? {} : { hourlyPrice: p };
}

function byPriceThenSize(a: InstanceFacts & Candidate, b: InstanceFacts & Candidate): number {
  const pa = a.hourlyPrice ?? Infinity;
  const pb = b.hourlyPrice ?? Infinity;
  if (pa !== pb) return pa - pb;
  return a.vCPUs - b.vCPUs || a.memoryMiB - b.memoryMiB || a.name.localeCompare(b.name);
}

/** Every reason the candidate cannot run the VM (empty: it can). */
function misfits(f: InstanceFacts, needs: RightSizeChoice['needs'], opts: RightSizeOptions): string[] {
  const reasons: string[] = [];
  if (opts.family !== undefined && f.family !== opts.family) reasons.push(`not family ${opts.family}`);
  if (f.vCPUs < needs.vCPUs) reasons.push(`${f.vCPUs} vCPUs < ${needs.vCPUs}`);
  if (f.memoryMiB < needs.memoryMiB) reasons.push(`${f.memoryMiB} MiB < ${needs.memoryMiB} MiB`);
  if (!f.architectures.includes(needs.architecture)) reasons.push(`no ${needs.architecture}`);
  if (!f.firmware.includes(needs.firmware)) {
    reasons.push(
      f.cloud === 'azure'
        ? `no Hyper-V generation ${needs.firmware === 'efi' ? 2 : 1} (${needs.firmware} boot)`
        : `no ${needs.firmware === 'efi' ? 'uefi' : 'legacy-bios'} boot mode`,
    );
  }
  if (opts.direct && f.cloud === 'aws' && f.nitro !== true) reasons.push('no NVMe/ENA (direct mode)');
  return reasons;
}

function why(f: InstanceFacts & Candidate, needs: RightSizeChoice['needs'], headroom: number): string {
  const basis = f.hourlyPrice !== undefined ? `the cheapest (${f.hourlyPrice}/h)` : 'the smallest';
  const room = headroom > 1 ? ` (headroom ×${headroom})` : '';
  return `${f.name} is ${basis} with at least ${needs.vCPUs} vCPUs and ${needs.memoryMiB} MiB${room}, ${needs.architecture}, ${needs.firmware} boot`;
}
