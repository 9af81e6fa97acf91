/**
 * A quote for one target: the right-sized instance type or VM size, and what running the VM there
 * for a number of hours and bringing it home costs, line by line, every line from a PriceBook
 * price with its SKU or meter and effective date.
 *
 * Lines (GB is 2^30 bytes, as AWS and Azure bill storage and transfer; a month is 730 hours, the
 * figure both providers' calculators prorate with):
 * - compute: hours × the hourly on-demand price (Windows with its licence);
 * - disk: AWS gp3 per GB-month of capacity; Azure the Standard SSD tier the capacity rounds up to
 *   (E1 4 GiB … E80), per month, prorated;
 * - snapshot: AWS the image's EBS snapshot (its data) for the lease; Azure the return's incremental
 *   snapshot while the return reads it;
 * - staging: the uploaded image in S3 for the lease (the return's cleanup removes it);
 * - egress: Azure uploads leave AWS; returned bytes leave Azure (to S3), and leave AWS to go home;
 * - the gateway's own fees (gateway-usage.ts) and the cloud API requests it makes.
 * A price the book does not list fails the quote (QUOTE_PRICE_MISSING): a total with a hole in it
 * would read as cheaper than it is.
 */
import {
  estimateGatewayUsage,
  GATEWAY_USAGE_MODEL,
  secondsToRunning,
  type OffloadPath,
} from './gateway-usage';
import {
  priceKeyId,
  type PriceBook,
  type PriceCloud,
  type PriceItem,
  type PriceKey,
  type PriceSource,
  type PriceUnit,
  type ServiceMeter,
} from './price-book';
import { rightSize, type HardwareProfile, type InstanceFacts, type RightSizeChoice } from './right-size';

const GiB = 1024 ** 3;
export const HOURS_PER_MONTH = 730;
/** Share of the data a VM changes while away, when nothing better is known. */
export const DEFAULT_CHANGE_RATE = 0.1;

/** Azure Standard SSD managed-disk tiers and their sizes in GiB (billed by the tier a disk fits). */
export const AZURE_STANDARD_SSD_TIERS: ReadonlyArray<readonly [string, number]> = [
  ['E1', 4],
  ['E2', 8],
  ['E3', 16],
  ['E4', 32],
  ['E6', 64],
  ['E10', 128],
  ['E15', 256],
  ['E20', 512],
  ['E30', 1024],
  ['E40', 2048],
  ['E50', 4096],
  ['E60', 8192],
  ['E70', 16384],
  ['E80', 32767],
];

export interface QuoteVm extends HardwareProfile {
  os: 'linux' | 'windows';
  disks: ReadonlyArray<{ capacityBytes: number; allocatedBytes?: number }>;
  /** The image as uploaded, staged in S3 (default: the disks' allocated bytes). */
  imageBytes?: number;
}

export type QuoteTarget =
  { cloud: 'aws'; region: string; mode: 'direct' | 'import' } | { cloud: 'azure'; region: string };

export interface QuotePlan {
  hours: number;
  /** Where the gateway runs: its S3 staging, Lambda functions and state machines. */
  gatewayRegion: string;
  /** Bytes that come home; default: the allocated bytes times `changeRate` (all of them for AWS import). */
  returnBytes?: number;
  changeRate?: number;
  headroom?: number;
  family?: string;
}

export type QuoteLineItem =
  | 'compute'
  | 'disk'
  | 'snapshot'
  | 'staging'
  | 'upload-egress'
  | 'return-egress-cloud'
  | 'return-egress-home'
  | ServiceMeter;

export interface QuoteLine {
  item: QuoteLineItem;
  cloud: PriceCloud;
  region: string;
  description: string;
  quantity: number;
  unit: PriceUnit;
  unitPrice: number;
  /** USD, quantity × unitPrice rounded to a millionth. */
  amount: number;
  source: PriceSource;
  fetchedAt: string;
}

export interface QuoteOption {
  target: QuoteTarget;
  /** The instance type or VM size. */
  size: string;
  rightSizing: Pick<RightSizeChoice, 'reason' | 'needs' | 'rejected'>;
  /** From upload-complete to running, by the gateway's model of the path. */
  secondsToRunning: number;
  lines: QuoteLine[];
  /** USD, the sum of the lines' amounts. */
  total: number;
  currency: 'USD';
  /** The oldest fetch time of the prices used: how old this quote's prices are. */
  pricesFetchedAt: string;
  /** What the quote leaves out, in words. */
  notQuoted: string[];
}

export type QuoteErrorCode = 'QUOTE_BAD_REQUEST' | 'QUOTE_PRICE_MISSING';

export class QuoteError extends Error {
  override readonly name = 'QuoteError';
  constructor(
    readonly code: QuoteErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface QuoteSources {
  book: PriceBook;
  /** The target region's instance types or VM sizes (instance-facts adapters). */
  catalog: readonly InstanceFacts[];
}

/** The smallest Standard SSD tier a disk of `capacityBytes` fits. */
export function azureDiskTier(capacityBytes: number): { tier: string; sizeGiB: number } {
  const gib = capacityBytes / GiB;
  const hit = AZURE_STANDARD_SSD_TIERS.find(([, size]) => size >= gib);
  if (!hit)
    throw new QuoteError(
      'QUOTE_BAD_REQUEST',
      `a disk of ${gib.toFixed(1)} GiB is larger than Azure's largest tier (32767 GiB)`,
    );
  return { tier: hit[0], sizeGiB: hit[1] };
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6;

export function offloadPath(target: QuoteTarget): OffloadPath {
  return target.cloud === 'azure' ? 'azure' : target.mode === 'direct' ? 'aws-direct' : 'aws-import';
}

export async function quoteTarget(
  vm: QuoteVm,
  target: QuoteTarget,
  plan: QuotePlan,
  sources: QuoteSources,
): Promise<QuoteOption> {
  checkRequest(vm, plan);
  const { book, catalog } = sources;
  // the gateway's book caches (CachedPriceBook); the snapshot's answers from memory
  const lookup = (key: PriceKey) => book.price(key);
  const hourly = new Map<string, number>();
  await Promise.all(
    catalog.map(async (f) => {
      const p = await lookup({
        cloud: target.cloud,
        region: target.region,
        item: { kind: 'compute', size: f.name, os: vm.os },
      });
      if (p) hourly.set(f.name, p.unitPrice);
    }),
  );
  const choice = rightSize(vm, catalog, {
    ...(plan.headroom !== undefined ? { headroom: plan.headroom } : {}),
    ...(plan.family !== undefined ? { family: plan.family } : {}),
    direct: target.cloud === 'aws' && target.mode === 'direct',
    hourlyPrice: (name) => hourly.get(name),
  });
  const trip = await priceTrip(vm, target, choice.chosen.name, plan, lookup);
  return {
    target,
    size: choice.chosen.name,
    rightSizing: { reason: choice.reason, needs: choice.needs, rejected: choice.rejected },
    ...trip,
  };
}

/** What the trip costs on `target` with the instance type or VM size `size`, line by line. */
export type PricedTrip = Omit<QuoteOption, 'target' | 'size' | 'rightSizing'>;

/** The lines of one trip on a chosen size (a quote's option, or an offload that names its type). */
export async function priceTrip(
  vm: QuoteVm,
  target: QuoteTarget,
  size: string,
  plan: QuotePlan,
  lookup: PriceBook['price'],
): Promise<PricedTrip> {
  checkRequest(vm, plan);
  const path = offloadPath(target);
  const capacity = vm.disks.reduce((s, d) => s + d.capacityBytes, 0);
  const allocated = vm.disks.reduce((s, d) => s + (d.allocatedBytes ?? d.capacityBytes), 0);
  const imageBytes = vm.imageBytes ?? allocated;
  const returnBytes =
    plan.returnBytes ??
    (path === 'aws-import' ? allocated : Math.ceil(allocated * (plan.changeRate ?? DEFAULT_CHANGE_RATE)));
  const H = plan.hours;
  const G = plan.gatewayRegion;
  const R = target.region;

  const lines: QuoteLine[] = [];
  const add = async (
    item: QuoteLineItem,
    cloud: PriceCloud,
    region: string,
    what: PriceItem,
    quantity: number,
    description: string,
  ) => {
    const key: PriceKey = { cloud, region, item: what };
    const p = await lookup(key);
    if (!p) {
      throw new QuoteError(
        'QUOTE_PRICE_MISSING',
        `no price for ${priceKeyId(key)} (${description}); the price source lists none, so this target cannot be quoted`,
      );
    }
    lines.push({
      item,
      cloud,
      region,
      description,
      quantity,
      unit: p.unit,
      unitPrice: p.unitPrice,
      amount: round6(quantity * p.unitPrice),
      source: p.source,
      fetchedAt: p.fetchedAt,
    });
  };
  const months = H / HOURS_PER_MONTH;
  await add(
    'compute',
    target.cloud,
    R,
    { kind: 'compute', size, os: vm.os },
    H,
    `${size} (${vm.os}) for ${H} h`,
  );
  if (target.cloud === 'aws') {
    await add(
      'disk',
      'aws',
      R,
      { kind: 'block-storage', volume: 'gp3' },
      (capacity / GiB) * months,
      `gp3 volume of ${(capacity / GiB).toFixed(1)} GB for ${H} h`,
    );
    await add(
      'snapshot',
      'aws',
      R,
      { kind: 'snapshot-storage' },
      (allocated / GiB) * months,
      `EBS snapshot of the image's ${(allocated / GiB).toFixed(1)} GB of data for ${H} h`,
    );
  } else {
    for (const d of vm.disks) {
      const { tier, sizeGiB } = azureDiskTier(d.capacityBytes);
      await add(
        'disk',
        'azure',
        R,
        { kind: 'block-storage', volume: tier },
        months,
        `Standard SSD ${tier} (${sizeGiB} GiB, for a ${(d.capacityBytes / GiB).toFixed(1)} GiB disk) for ${H} h`,
      );
    }
    const snapshotHours = Math.max(1, azureReturnSeconds(returnBytes) / 3600);
    await add(
      'snapshot',
      'azure',
      R,
      { kind: 'snapshot-storage' },
      (allocated / GiB) * (snapshotHours / HOURS_PER_MONTH),
      `incremental snapshot of ${(allocated / GiB).toFixed(1)} GB while the return reads it (${snapshotHours.toFixed(2)} h)`,
    );
    await add(
      'upload-egress',
      'aws',
      G,
      { kind: 'internet-egress' },
      allocated / GiB,
      `the disk's ${(allocated / GiB).toFixed(1)} GB written from AWS into the managed disk`,
    );
    await add(
      'return-egress-cloud',
      'azure',
      R,
      { kind: 'internet-egress' },
      returnBytes / GiB,
      `${(returnBytes / GiB).toFixed(2)} GB of changed pages read out of Azure`,
    );
  }
  await add(
    'staging',
    'aws',
    G,
    { kind: 'object-storage' },
    (imageBytes / GiB) * months,
    `the uploaded image (${(imageBytes / GiB).toFixed(1)} GB) staged in S3 for ${H} h`,
  );
  await add(
    'return-egress-home',
    'aws',
    G,
    { kind: 'internet-egress' },
    returnBytes / GiB,
    `${(returnBytes / GiB).toFixed(2)} GB coming home from S3`,
  );
  const usage = estimateGatewayUsage(path, { imageBytes, allocatedBytes: allocated, returnBytes });
  for (const meter of Object.keys(usage) as ServiceMeter[]) {
    const n = usage[meter];
    if (n === 0) continue;
    await add(
      meter,
      'aws',
      meter.startsWith('ebs-') ? R : G,
      { kind: 'service', meter },
      n,
      SERVICE_WORDS[meter],
    );
  }
  const fetched = lines.map((l) => l.fetchedAt).sort();
  return {
    secondsToRunning: secondsToRunning(path, allocated),
    lines,
    total: round6(lines.reduce((s, l) => s + l.amount, 0)),
    currency: 'USD',
    pricesFetchedAt: fetched[0] ?? new Date(0).toISOString(),
    notQuoted: [
      ...(target.cloud === 'aws' && R !== G
        ? [`transfer between ${G} and ${R} (the gateway writes the disk across regions)`]
        : []),
      'free tiers and allowances of the account (S3, Lambda, egress) are not subtracted',
      'taxes, support plans and negotiated discounts',
    ],
  };
}

const SERVICE_WORDS: Readonly<Record<ServiceMeter, string>> = {
  's3-write-requests': 'S3 PUT/COPY/POST/LIST requests (upload and published return parts)',
  's3-read-requests': 'S3 GET requests (reading the staged image, the download)',
  'ebs-put-block': 'EBS direct PutSnapshotBlock requests (the disk written block by block)',
  'ebs-get-block': 'EBS direct GetSnapshotBlock requests (the changed blocks read back)',
  'ebs-list-blocks': 'EBS direct ListChangedBlocks requests',
  'lambda-requests': "the gateway's Lambda invocations",
  'lambda-gb-seconds': "the gateway's Lambda compute (GB-seconds)",
  'sfn-state-transitions': "the gateway's Step Functions state transitions",
};

function azureReturnSeconds(returnBytes: number): number {
  return 300 + returnBytes / GATEWAY_USAGE_MODEL.streamingBytesPerSecond;
}

function checkRequest(vm: QuoteVm, plan: QuotePlan): void {
  const bad = (m: string) => new QuoteError('QUOTE_BAD_REQUEST', m);
  if (!Number.isFinite(plan.hours) || plan.hours <= 0 || plan.hours > 24 * 366) {
    throw bad(`hours must be more than 0 and at most a year (8784), got ${plan.hours}`);
  }
  if (vm.disks.length === 0) throw bad('the VM needs at least one disk');
  vm.disks.forEach((d, i) => {
    if (!Number.isSafeInteger(d.capacityBytes) || d.capacityBytes <= 0) {
      throw bad(`disks[${i}].capacityBytes must be a whole number of bytes > 0, got ${d.capacityBytes}`);
    }
    if (
      d.allocatedBytes !== undefined &&
      (!Number.isSafeInteger(d.allocatedBytes) || d.allocatedBytes < 0 || d.allocatedBytes > d.capacityBytes)
    ) {
      throw bad(
        `disks[${i}].allocatedBytes must be a whole number from 0 to the capacity, got ${d.allocatedBytes}`,
      );
    }
  });
  if (plan.changeRate !== undefined && !(plan.changeRate >= 0 && plan.changeRate <= 1)) {
    throw bad(`changeRate must be from 0 to 1, got ${plan.changeRate}`);
  }
  if (plan.returnBytes !== undefined && (!Number.isSafeInteger(plan.returnBytes) || plan.returnBytes < 0)) {
    throw bad(`returnBytes must be a whole number ≥ 0, got ${plan.returnBytes}`);
  }
}
