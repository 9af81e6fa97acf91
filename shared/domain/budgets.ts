/**
 * Per-tenant monthly budgets (USD, calendar month in UTC) and the guard in front of offloads.
 *
 * An offload is estimated when it is accepted: its target's instance type or VM size for the
 * lease's hours, its disk (the declared image size, until inspection measures the disk), staging,
 * snapshots, egress and the gateway's own fees, at list prices (price-sources.ts). The estimate is
 * kept on the job (`job.cost`). A tenant's month commits the estimates of its jobs created that
 * month that did not fail or get cancelled before running. With a `hard` budget, an offload whose
 * estimate would pass what is left is refused with `budget-exceeded` before anything is created
 * (the answer names the estimate, what is left, and the longest lease that would fit); a `soft`
 * budget lets it through. Accruing what runs, threshold alerts and the hard budget's returns come
 * with actual costs.
 */
import { z } from 'zod';
import type { Budget } from '../store/budget-store';
import { PriceBookError } from '../pricing/price-book';
import { priceTrip, QuoteError, type QuoteTarget } from '../pricing/quote';
import { GatewayError, PricesUnavailableProblem, ValidationError } from './errors';
import type { Gateway } from './gateway';
import type { Job, JobCost, JobLease, JobTarget } from './job';
import { TenantName } from './requests';
import { jobsOfVm, quoteVmOf } from './vm-profile';
import { requireScope, type Caller } from './tenants';

export type { Budget };

export const DEFAULT_THRESHOLDS = [50, 80, 100] as const;

export const BudgetRequest = z
  .object({
    monthlyUsd: z.number().positive().max(1e9),
    mode: z.enum(['hard', 'soft']).default('hard'),
    thresholds: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .max(10)
      .refine((t) => t.every((v, i) => i === 0 || v > (t[i - 1] ?? 0)), { message: 'ascending, each once' })
      .optional(),
  })
  .strict();
export type BudgetRequest = z.infer<typeof BudgetRequest>;

export const BudgetPath = z.object({ tenant: TenantName }).strict();

export interface BudgetView {
  tenant: string;
  monthlyUsd: number;
  mode: 'hard' | 'soft';
  thresholds: number[];
  /** The month the figures are for (`2026-12`, UTC). */
  month: string;
  /** USD the month's jobs are estimated at. */
  committedUsd: number;
  /** monthlyUsd − committedUsd (negative when a soft budget is passed). */
  remainingUsd: number;
  jobs: number;
  updatedAt: string;
}

/** No budget is set for the tenant. */
export class BudgetNotFoundProblem extends GatewayError {
  override readonly name = 'BudgetNotFoundProblem';
  constructor(tenant: string) {
    super(
      'budget-not-found',
      404,
      'No budget',
      `tenant ${tenant} has no budget; an admin sets one with PUT /budgets/${tenant}`,
    );
  }
}

/** A hard budget would be passed: nothing was created. */
export class BudgetExceededProblem extends GatewayError {
  override readonly name = 'BudgetExceededProblem';
  constructor(detail: string) {
    super('budget-exceeded', 409, 'The budget would be exceeded', detail);
  }
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const monthOf = (d: Date) => d.toISOString().slice(0, 7);
/** Jobs that never ran cost (next to) nothing: they do not count against the month. */
const UNCOUNTED: ReadonlySet<Job['state']> = new Set(['failed', 'cancelled']);

/** PUT /budgets/{tenant} (admin). */
export async function putBudget(
  gw: Gateway,
  caller: Caller,
  tenant: string,
  req: BudgetRequest,
): Promise<BudgetView> {
  requireScope(caller, 'admin', `set the budget of tenant ${tenant}`);
  const current = await gw.budgets.find(tenant);
  const thresholds = req.thresholds ?? [...DEFAULT_THRESHOLDS];
  const same =
    current &&
    current.monthlyUsd === req.monthlyUsd &&
    current.mode === req.mode &&
    current.thresholds.join(',') === thresholds.join(',');
  if (same) return viewBudget(gw, current);
  const budget: Budget = {
    tenant,
    monthlyUsd: req.monthlyUsd,
    mode: req.mode,
    thresholds,
    updatedAt: gw.now().toISOString(),
    version: (current?.version ?? 0) + 1,
  };
  await gw.budgets.put(budget);
  return viewBudget(gw, budget);
}

/** GET /budgets/{tenant} (admin) and GET /budget (the caller's own tenant). */
export async function getBudget(gw: Gateway, caller: Caller, tenant: string): Promise<BudgetView> {
  if (tenant !== caller.tenant) requireScope(caller, 'admin', `read the budget of tenant ${tenant}`);
  const budget = await gw.budgets.find(tenant);
  if (!budget) throw new BudgetNotFoundProblem(tenant);
  return viewBudget(gw, budget);
}

async function viewBudget(gw: Gateway, budget: Budget): Promise<BudgetView> {
  const { committed, jobs } = await committedThisMonth(gw, budget.tenant);
  return {
    tenant: budget.tenant,
    monthlyUsd: budget.monthlyUsd,
    mode: budget.mode,
    thresholds: budget.thresholds,
    month: monthOf(gw.now()),
    committedUsd: round2(committed),
    remainingUsd: round2(budget.monthlyUsd - committed),
    jobs,
    updatedAt: budget.updatedAt,
  };
}

/** The estimates of the tenant's jobs created this month that count (at most ten pages read). */
async function committedThisMonth(gw: Gateway, tenant: string): Promise<{ committed: number; jobs: number }> {
  const month = monthOf(gw.now());
  let committed = 0;
  let jobs = 0;
  for await (const j of gw.store.ownedNewestFirst(tenant, 10)) {
    // newest first: once one is from an earlier month, so is the rest
    if (j.createdAt.slice(0, 7) < month) break;
    if (j.createdAt.slice(0, 7) !== month || UNCOUNTED.has(j.state) || !j.cost) continue;
    committed += j.cost.estimated;
    jobs++;
  }
  return { committed, jobs };
}

export interface OffloadPlanForCost {
  tenant: string;
  target: JobTarget;
  vmName: string;
  imageSizeBytes: number;
  lease: JobLease;
  /** When the lease's hours start (the planned launch). */
  from: Date;
}

/**
 * The estimate of an offload about to be accepted, and the budget's verdict: throws
 * BudgetExceededProblem for a hard budget it would pass (before anything is created). Without a
 * budget the estimate is still made and kept on the job; a price source that cannot be read then
 * leaves the job without one rather than refusing it.
 */
export async function estimateAndGuard(gw: Gateway, plan: OffloadPlanForCost): Promise<JobCost | undefined> {
  const tenant = plan.tenant;
  const budget = await gw.budgets.find(tenant);
  let estimate: Estimate;
  try {
    estimate = await estimateOffload(gw, plan);
  } catch (err) {
    if (!budget && (err instanceof PriceBookError || err instanceof QuoteError)) {
      gw.logger.warn('offload accepted without a cost estimate', { tenant, error: (err as Error).message });
      return undefined;
    }
    if (err instanceof PriceBookError) throw new PricesUnavailableProblem(err.message, err);
    if (err instanceof QuoteError) {
      throw new ValidationError(`the budget of tenant ${tenant} needs an estimate, and ${err.message}`);
    }
    throw err;
  }
  const { perHour, ...cost } = estimate;
  if (!budget || budget.mode === 'soft') return cost;
  const { committed } = await committedThisMonth(gw, tenant);
  const remaining = budget.monthlyUsd - committed;
  if (cost.estimated <= remaining) return cost;
  // the trip's fixed part (egress, requests) first; what is left buys hours at the hourly part
  const fixed = cost.estimated - perHour * cost.hours;
  const fits = perHour > 0 && remaining > fixed ? Math.floor((remaining - fixed) / perHour) : 0;
  throw new BudgetExceededProblem(
    `the offload is estimated at ${cost.estimated.toFixed(2)} USD (${cost.basis}); tenant ${tenant} has ` +
      `${round2(remaining).toFixed(2)} USD left of ${budget.monthlyUsd} USD for ${monthOf(gw.now())} ` +
      `(${round2(committed).toFixed(2)} committed)` +
      (fits > 0 ? `; a lease of at most ${fits} h would fit` : '; nothing more fits this month') +
      '. Nothing was created.',
  );
}

/** The lines that grow with the hours in the cloud; the others (egress, requests) are per trip. */
const HOURLY_LINES: ReadonlySet<string> = new Set(['compute', 'disk', 'snapshot', 'staging']);

type Estimate = JobCost & { perHour: number };

async function estimateOffload(gw: Gateway, plan: OffloadPlanForCost): Promise<Estimate> {
  const hours = Math.max((Date.parse(plan.lease.expiresAt) - plan.from.getTime()) / 3_600_000, 1 / 60);
  const target: QuoteTarget =
    plan.target.cloud === 'aws'
      ? { cloud: 'aws', region: plan.target.region, mode: plan.target.mode ?? 'import' }
      : { cloud: 'azure', region: plan.target.location };
  const size = plan.target.cloud === 'aws' ? plan.target.instanceType : plan.target.vmSize;
  // An earlier job of the VM says its guest and disk; else the declared image stands for the disk.
  const earlier = (await jobsOfVm(gw, plan.tenant, plan.vmName, 1)).find((j) => j.hardware);
  const hw = earlier?.hardware;
  const vm = quoteVmOf(
    hw ?? { vcpus: 1, memoryMiB: 1024, firmware: 'bios', disks: [{ capacityBytes: plan.imageSizeBytes }] },
  );
  const { os, disks } = vm;
  const trip = await priceTrip(
    { ...vm, imageBytes: plan.imageSizeBytes },
    target,
    size,
    { hours, gatewayRegion: gw.config.region },
    (k) => gw.priceSources.prices.price(k),
  );
  const hourly = trip.lines.filter((l) => HOURLY_LINES.has(l.item)).reduce((t, l) => t + l.amount, 0);
  return {
    perHour: hourly / hours,
    currency: 'USD',
    estimated: Math.round(trip.total * 100) / 100,
    estimatedAt: gw.now().toISOString(),
    hours: Math.round(hours * 1000) / 1000,
    basis: `${size} (${os}${hw ? `, as job ${earlier?.jobId} saw it` : ', assumed'}) for ${hours.toFixed(1)} h with a ${(
      disks.reduce((s, d) => s + d.capacityBytes, 0) /
      1024 ** 3
    ).toFixed(1)} GiB disk`,
  };
}
