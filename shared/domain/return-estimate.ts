/**
 * How long a VM's return will take, from the start of the return to the returned image published:
 * what a `returnBy` deadline is planned backwards with.
 *
 * - With earlier returns of the same VM to the same cloud (and AWS mode): the 90th percentile
 *   (nearest rank) of the last RETURN_HISTORY_SIZE of them.
 * - The first return: a model of the path's fixed cost plus the disk read at the path's throughput
 *   (FIRST_RETURN_MODEL). The figures are deliberately slow ends of what the services do, so
 *   a first deadline is met rather than missed.
 *
 * Either way a margin is added: a quarter of the figure, at least MIN_MARGIN_SECONDS.
 */
import type { Job } from './job';
import { isAwsDirect } from './job';

const MiB = 1024 * 1024;

/** Earlier returns considered (the newest). */
export const RETURN_HISTORY_SIZE = 20;
export const MIN_MARGIN_SECONDS = 300;
const MARGIN_FRACTION = 0.25;

/**
 * The first-return model, per path: seconds of fixed work (stop, snapshot or export task start,
 * cleanup) and the rate the disk's bytes move at.
 *  - AWS import: EC2 instance export writes a whole OVA to S3 (slow: ~25 MiB/s, ~20 min of task overhead).
 *  - AWS direct: stop, EBS snapshot, changed blocks read by the EBS direct APIs (worst case: every block).
 *  - Azure: deallocate, incremental snapshot, changed pages read (worst case: every page).
 */
export const FIRST_RETURN_MODEL = {
  'aws-import': { fixedSeconds: 1200, bytesPerSecond: 25 * MiB },
  'aws-direct': { fixedSeconds: 300, bytesPerSecond: 100 * MiB },
  azure: { fixedSeconds: 300, bytesPerSecond: 60 * MiB },
} as const;
export type ReturnPath = keyof typeof FIRST_RETURN_MODEL;

export interface ReturnEstimate {
  seconds: number;
  basis: string;
}

export function returnPath(job: Pick<Job, 'target'>): ReturnPath {
  if (job.target.cloud === 'azure') return 'azure';
  return isAwsDirect(job) ? 'aws-direct' : 'aws-import';
}

/** Seconds of the earlier returns of this job's VM on the same path, newest first (at most RETURN_HISTORY_SIZE). */
export function earlierReturnSeconds(job: Job, history: readonly Job[]): number[] {
  const path = returnPath(job);
  return history
    .filter((j) => j.jobId !== job.jobId && j.vmName === job.vmName && returnPath(j) === path)
    .filter((j) => j.returnStartedAt && j.returnedAt)
    .sort((a, b) => Date.parse(b.returnedAt!) - Date.parse(a.returnedAt!))
    .slice(0, RETURN_HISTORY_SIZE)
    .map((j) => (Date.parse(j.returnedAt!) - Date.parse(j.returnStartedAt!)) / 1000);
}

/** The estimate for `job`, given jobs that came home before (any VM: the ones that matter are picked here). */
export function estimateReturn(job: Job, history: readonly Job[]): ReturnEstimate {
  const earlier = earlierReturnSeconds(job, history);
  const path = returnPath(job);
  if (earlier.length > 0) {
    const sorted = [...earlier].sort((a, b) => a - b);
    const rank = Math.ceil(0.9 * sorted.length) - 1; // nearest-rank p90
    const p90 = sorted[Math.max(0, rank)]!;
    const seconds = withMargin(p90);
    return {
      seconds,
      basis:
        `p90 of ${earlier.length} earlier return(s) of ${job.vmName} (${path}): ${Math.round(p90)} s, ` +
        `plus a margin of ${seconds - Math.ceil(p90)} s`,
    };
  }
  const model = FIRST_RETURN_MODEL[path];
  const bytes = job.image.diskCapacityBytes ?? job.image.sizeBytes;
  const raw = model.fixedSeconds + bytes / model.bytesPerSecond;
  const seconds = withMargin(raw);
  return {
    seconds,
    basis:
      `first return of ${job.vmName} (${path}): ${model.fixedSeconds} s fixed + ${formatMiB(bytes)} at ` +
      `${model.bytesPerSecond / MiB} MiB/s = ${Math.round(raw)} s, plus a margin of ${seconds - Math.ceil(raw)} s`,
  };
}

function withMargin(seconds: number): number {
  return Math.ceil(seconds) + Math.max(MIN_MARGIN_SECONDS, Math.ceil(seconds * MARGIN_FRACTION));
}

function formatMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB`;
}
