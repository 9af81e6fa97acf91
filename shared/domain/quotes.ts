/**
 * POST /quotes: what running a VM in each named region costs for a number of hours, ranked, with
 * the right-sized type and every price line. Creates nothing and calls no cloud API but the price
 * lists and the instance catalogs.
 *
 * The VM is a hardware profile, a VM the gateway has seen (its newest job's OVF profile and
 * uploaded bytes; earlier returns say how much comes home), or an OVF document. The hours are
 * given, or a window's span, or a schedule's window length.
 */
import { z } from 'zod';
import { CloudError } from '../clouds/errors';
import { parseOvf } from '../images';
import { PriceBookError } from '../pricing/price-book';
import { QuoteError, quoteTarget, type QuoteOption, type QuoteTarget, type QuoteVm } from '../pricing/quote';
import { RightSizeError } from '../pricing/right-size';
import { GatewayError, PricesUnavailableProblem, ValidationError } from './errors';
import type { Gateway } from './gateway';
import { Instant } from './requests';
import { checkTargetLimits, DEFAULT_TARGET_LIMITS } from './target-limits';
import type { Caller } from './tenants';
import { jobsOfVm, quoteVmOf } from './vm-profile';
import { findSchedule } from './windows/schedules';

const GiB = 1024 ** 3;
const MAX_HOURS = 24 * 366;
const ByteCount = z
  .number()
  .int()
  .positive()
  .max(64 * 1024 * GiB);

const VmProfile = z
  .object({
    vCPUs: z.number().int().min(1).max(448),
    memoryBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .max(24 * 1024 * GiB),
    disks: z
      .array(
        z.object({ capacityBytes: ByteCount, allocatedBytes: z.number().int().min(0).optional() }).strict(),
      )
      .min(1)
      .max(16),
    osType: z.enum(['linux', 'windows']),
    firmware: z.enum(['bios', 'efi']).default('bios'),
    architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
  })
  .strict();

const RegionName = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'an AWS region name, e.g. us-east-1');
const LocationName = z.string().regex(/^[a-z][a-z0-9]{2,39}$/, 'an Azure location name, e.g. westeurope');

export const QuoteRequest = z
  .object({
    vm: z.union([
      VmProfile,
      z.object({ vmName: z.string().min(1).max(128) }).strict(),
      z
        .object({
          ovf: z
            .string()
            .min(1)
            .max(900 * 1024),
          /** The image's size as it will be uploaded (the OVA), for its staging. */
          imageBytes: ByteCount.optional(),
        })
        .strict(),
    ]),
    hours: z.number().positive().max(MAX_HOURS).optional(),
    window: z.object({ start: Instant, end: Instant }).strict().optional(),
    scheduleId: z.string().min(1).max(128).optional(),
    clouds: z
      .array(
        z.discriminatedUnion('cloud', [
          z
            .object({
              cloud: z.literal('aws'),
              regions: z.array(RegionName).min(1).max(5),
              /** Default: both. */
              modes: z
                .array(z.enum(['direct', 'import']))
                .min(1)
                .max(2)
                .optional(),
            })
            .strict(),
          z.object({ cloud: z.literal('azure'), locations: z.array(LocationName).min(1).max(5) }).strict(),
        ]),
      )
      .min(1)
      .max(4),
    options: z
      .object({
        headroom: z.number().min(1).max(4).optional(),
        family: z.string().min(1).max(32).optional(),
        /** Share of the VM's data that changes while away (default 0.1, or its earlier returns). */
        changeRate: z.number().min(0).max(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((r) => [r.hours, r.window, r.scheduleId].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of hours, window {start, end} or scheduleId',
    path: ['hours'],
  });
export type QuoteRequest = z.infer<typeof QuoteRequest>;
/** The body as a client sends it (defaults not yet applied). */
export type QuoteRequestBody = z.input<typeof QuoteRequest>;

export interface QuoteUnavailable {
  target: QuoteTarget;
  code: string;
  detail: string;
}

export interface Quote {
  vm: QuoteVm & { basis: string };
  hours: number;
  /** Cheapest first. */
  options: QuoteOption[];
  /** Targets that could not be quoted, and why. */
  unavailable: QuoteUnavailable[];
  currency: 'USD';
  /** The oldest price used (ISO 8601): how old this quote's prices are. */
  pricesFetchedAt?: string;
  quotedAt: string;
}

/** No target could be quoted: each one's reason is in `unavailable`. */
export class NoQuoteProblem extends GatewayError {
  override readonly name = 'NoQuoteProblem';
  constructor(readonly unavailable: QuoteUnavailable[]) {
    super(
      'no-quote',
      422,
      'No target could be quoted',
      unavailable.map((u) => `${targetName(u.target)}: ${u.detail}`).join('; '),
      unavailable.map((u) => ({ path: targetName(u.target), message: `${u.code}: ${u.detail}` })),
    );
  }
}

/** `aws us-east-1 direct`, `azure westeurope`. */
export function targetName(t: QuoteTarget): string {
  return t.cloud === 'aws' ? `aws ${t.region} ${t.mode}` : `azure ${t.region}`;
}

export async function createQuote(gw: Gateway, caller: Caller, req: QuoteRequest): Promise<Quote> {
  const vm = await resolveVm(gw, caller, req.vm);
  const hours = await resolveHours(gw, caller, req);
  const limits = gw.config.targetLimits ?? DEFAULT_TARGET_LIMITS;
  const targets: QuoteTarget[] = [];
  req.clouds.forEach((c, i) => {
    if (c.cloud === 'aws') {
      c.regions.forEach((region, j) => {
        checkTargetLimits({ cloud: 'aws', region }, limits, `clouds[${i}].regions[${j}]`);
        // Without a mode asked for, what an offload would pick (aws-mode.ts): a Windows guest goes
        // through VM Import, which injects its drivers; a Linux one may go either way.
        const modes =
          c.modes ?? (vm.os === 'windows' ? (['import'] as const) : (['direct', 'import'] as const));
        for (const mode of modes) targets.push({ cloud: 'aws', region, mode });
      });
    } else {
      c.locations.forEach((location, j) => {
        checkTargetLimits({ cloud: 'azure', location }, limits, `clouds[${i}].locations[${j}]`);
        targets.push({ cloud: 'azure', region: location });
      });
    }
  });
  const options: QuoteOption[] = [];
  const unavailable: QuoteUnavailable[] = [];
  const plan = {
    hours,
    gatewayRegion: gw.config.region,
    ...(req.options?.headroom !== undefined ? { headroom: req.options.headroom } : {}),
    ...(req.options?.family !== undefined ? { family: req.options.family } : {}),
    ...(req.options?.changeRate !== undefined
      ? { changeRate: req.options.changeRate }
      : vm.returnBytes !== undefined
        ? { returnBytes: vm.returnBytes }
        : {}),
  };
  for (const target of targets) {
    try {
      const catalog = await gw.priceSources.catalog(target.cloud, target.region);
      options.push(await quoteTarget(vm, target, plan, { book: gw.priceSources.prices, catalog }));
    } catch (err) {
      if (err instanceof PriceBookError && err.code === 'PRICES_UNAVAILABLE') {
        throw new PricesUnavailableProblem(err.message, err);
      }
      if (err instanceof QuoteError && err.code === 'QUOTE_BAD_REQUEST')
        throw new ValidationError(err.message);
      if (err instanceof RightSizeError && err.code === 'RIGHTSIZE_BAD_PROFILE')
        throw new ValidationError(err.message);
      if (err instanceof RightSizeError || err instanceof QuoteError || err instanceof PriceBookError) {
        unavailable.push({ target, code: err.code, detail: err.message });
        continue;
      }
      // a catalog that could not be listed (no Azure configuration, the cloud down): this target only
      if (err instanceof CloudError) {
        unavailable.push({ target, code: err.name, detail: err.message });
        continue;
      }
      throw err;
    }
  }
  if (options.length === 0) throw new NoQuoteProblem(unavailable);
  options.sort((a, b) => a.total - b.total);
  const fetched = options.map((o) => o.pricesFetchedAt).sort();
  const { returnBytes: _measured, ...profile } = vm;
  return {
    vm: profile,
    hours,
    options,
    unavailable,
    currency: 'USD',
    ...(fetched[0] ? { pricesFetchedAt: fetched[0] } : {}),
    quotedAt: gw.now().toISOString(),
  };
}

type ResolvedVm = QuoteVm & { basis: string; returnBytes?: number };

async function resolveVm(gw: Gateway, caller: Caller, vm: QuoteRequest['vm']): Promise<ResolvedVm> {
  if ('vCPUs' in vm) {
    return {
      vCPUs: vm.vCPUs,
      memoryBytes: vm.memoryBytes,
      architecture: vm.architecture,
      firmware: vm.firmware,
      os: vm.osType,
      disks: vm.disks.map((d) => ({
        capacityBytes: d.capacityBytes,
        ...(d.allocatedBytes !== undefined
          ? { allocatedBytes: Math.min(d.allocatedBytes, d.capacityBytes) }
          : {}),
      })),
      basis: 'the hardware profile in the request',
    };
  }
  if ('ovf' in vm) {
    let hw;
    try {
      hw = parseOvf(vm.ovf);
    } catch (err) {
      throw new ValidationError(`vm.ovf: ${(err as Error).message}`, [
        { path: 'vm.ovf', message: 'not an OVF descriptor this gateway reads' },
      ]);
    }
    if (hw.disks.length === 0)
      throw new ValidationError('vm.ovf: the OVF describes no disk', [
        { path: 'vm.ovf', message: 'no disk' },
      ]);
    return {
      ...quoteVmOf(
        hw,
        hw.disks.map((d) => ({
          capacityBytes: d.capacityBytes,
          ...(d.populatedSizeBytes !== undefined
            ? { allocatedBytes: Math.min(d.populatedSizeBytes, d.capacityBytes) }
            : {}),
        })),
      ),
      ...(vm.imageBytes !== undefined ? { imageBytes: vm.imageBytes } : {}),
      basis: `the OVF of ${hw.vmName || 'the VM'}${hw.osType ? ` (${hw.osType})` : ''}`,
    };
  }
  const jobs = await jobsOfVm(gw, caller.tenant, vm.vmName, 5);
  const seen = jobs.find((j) => j.hardware);
  if (!seen?.hardware) {
    throw new ValidationError(
      `vm.vmName: the gateway has no offload of ${vm.vmName} with a hardware profile for tenant ${caller.tenant}; give the profile or the OVF`,
      [{ path: 'vm.vmName', message: 'not a VM this tenant has offloaded' }],
    );
  }
  const hw = seen.hardware;
  const capacity = hw.disks.reduce((s, d) => s + d.capacityBytes, 0);
  // the uploaded image is what was staged; its data is at most the disk's capacity
  const uploaded = seen.bytes.uploaded;
  const back = jobs.find((j) => j.returnedAt && j.bytes.exported !== undefined)?.bytes.exported;
  return {
    ...quoteVmOf(
      hw,
      hw.disks.map((d) => ({
        capacityBytes: d.capacityBytes,
        ...(uploaded > 0
          ? { allocatedBytes: Math.round((Math.min(uploaded, capacity) * d.capacityBytes) / capacity) }
          : {}),
      })),
    ),
    ...(uploaded > 0 ? { imageBytes: uploaded } : {}),
    ...(back !== undefined ? { returnBytes: back } : {}),
    basis:
      `job ${seen.jobId} of ${vm.vmName} (its OVF profile and ${uploaded} bytes uploaded)` +
      (back !== undefined ? `; ${back} bytes came home on its last return` : ''),
  };
}

async function resolveHours(gw: Gateway, caller: Caller, req: QuoteRequest): Promise<number> {
  if (req.hours !== undefined) return req.hours;
  if (req.window) {
    const hours = (Date.parse(req.window.end) - Date.parse(req.window.start)) / 3_600_000;
    if (!(hours > 0) || hours > MAX_HOURS) {
      throw new ValidationError(`window: end must be after start and at most ${MAX_HOURS} hours later`, [
        { path: 'window.end', message: 'after start, within a year' },
      ]);
    }
    return hours;
  }
  const schedule = await findSchedule(gw, caller, req.scheduleId ?? '', 'read');
  return schedule.length.seconds / 3600;
}
