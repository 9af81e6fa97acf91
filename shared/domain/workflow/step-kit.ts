/**
 * The step kit: what every workflow step is made of. A step reads the job, does one thing, and
 * records what it created on the job before it returns, so compensation always knows what to
 * remove; steps are safe to retry. This module is the workflow's leaf: it imports no step.
 */
import { createHash } from 'node:crypto';
import { CloudError } from '../../clouds/errors';
import type { CloudTarget, CreatedResource } from '../../clouds/cloud-target';
import { removeJobResources } from '../cleanup';
import { beginStep, endStep, recordResource, updateJob, type Gateway } from '../gateway';
import { StepFailure } from '../errors';
import type { Job, JobError, JobErrorType } from '../job';

/** At most this many upload ranges, so the Map state's items and results stay far below Step Functions' 256 KiB. */
export const MAX_UPLOAD_RANGES = 2000;

export const CANCELLED: ReadonlySet<string> = new Set(['cancelling', 'cancelled']);

/** A step that runs after a cancel must not create anything; it stops here. */
export function assertNotCancelled(job: Job): void {
  if (CANCELLED.has(job.state)) {
    throw new CloudError('CloudRejected', `job ${job.jobId} was cancelled; step not run`, 'JobCancelled');
  }
}

export const rejected = (detail: string, title = 'The image was rejected'): StepFailure =>
  new StepFailure('ImageRejected', { type: 'image-rejected', title, detail, step: 'inspect' });

/** Records the failure on the job (for the user) and returns the error to throw (for the workflow). */
export async function failStep(gw: Gateway, jobId: string, err: StepFailure | CloudError): Promise<Error> {
  const now = gw.now();
  await updateJob(gw, jobId, (j) => {
    const step = j.activeStep?.name;
    j.error =
      err instanceof StepFailure
        ? err.problem
        : {
            type: errorType(err.name),
            title: titleFor(err.name),
            detail: err.message,
            ...(step ? { step } : {}),
          };
    endStep(j, 'failed', now, err.message);
  });
  return err;
}

const ERROR_TYPES: Record<string, JobErrorType> = {
  ImportFailed: 'import-failed',
  ExportFailed: 'export-failed',
  CloudTimedOut: 'cloud-timed-out',
};
const errorType = (name: string): JobErrorType => ERROR_TYPES[name] ?? 'cloud-rejected';
const titleFor = (name: string) =>
  ({
    ImportFailed: 'The cloud rejected the image import',
    ExportFailed: 'The cloud could not export the VM',
    CloudTimedOut: 'The cloud took too long',
  })[name] ?? 'The cloud refused a request';

const RETRIED_BY_WORKFLOW = new Set(['CloudThrottled', 'CloudUnavailable']);

/**
 * Calls the cloud; a failure the workflow will not retry is recorded on the job first (so the user
 * sees the cloud's reason), then rethrown for the workflow's Catch.
 */
export async function askCloud<T>(gw: Gateway, jobId: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof CloudError && !RETRIED_BY_WORKFLOW.has(err.name)) throw await failStep(gw, jobId, err);
    throw err;
  }
}

/**
 * Fails the step with CloudTimedOut when the job's active step (a Wait/Check loop of the state
 * machine) has been waiting on the cloud longer than `maxImportWaitMs`; `why` says for what.
 */
export async function failIfWaitedTooLong(
  gw: Gateway,
  job: Job,
  why: (limitMs: number) => string,
): Promise<void> {
  const started = Date.parse(job.activeStep?.startedAt ?? job.updatedAt);
  const limit = gw.config.maxImportWaitMs;
  if (gw.now().getTime() - started > limit) {
    throw await failStep(gw, job.jobId, new CloudError('CloudTimedOut', why(limit)));
  }
}

/** The workflow's `$.error` ({Error, Cause}) as a problem; Lambda puts its error JSON in Cause. */
export function errorFromWorkflow(
  error: { Error?: string; Cause?: string } | undefined,
  step?: string,
): JobError {
  const name = error?.Error ?? 'UnknownError';
  let detail = error?.Cause ?? name;
  try {
    const cause = JSON.parse(detail) as { errorMessage?: string };
    if (cause.errorMessage) detail = cause.errorMessage;
  } catch {
    // Cause was plain text
  }
  return {
    type: errorType(name),
    title: titleFor(name),
    detail: `${name}: ${detail}`,
    ...(step ? { step } : {}),
  };
}

/**
 * Creates one cloud resource for the job, once: a retried or resumed step finds the id already
 * recorded and returns it; otherwise the step begins, the cloud creates the resource, and it is
 * recorded on the job before the step returns (so compensation knows about it).
 */
export async function createOnce(
  gw: Gateway,
  jobId: string,
  opts: {
    key: 'importTaskId' | 'instanceId' | 'exportTaskId';
    step: string;
    prepare: (job: Job) => void;
    create: (cloud: CloudTarget, job: Job) => Promise<CreatedResource>;
  },
): Promise<string> {
  const current = await gw.store.get(jobId);
  assertNotCancelled(current);
  const existing = current.cloud[opts.key];
  if (existing) return existing;
  const job = await updateJob(gw, jobId, (j) => {
    assertNotCancelled(j); // a DELETE may have landed since the read above
    opts.prepare(j);
    beginStep(j, opts.step, gw.now());
  });
  const created = await askCloud(gw, jobId, () => opts.create(gw.cloudFor(job.target), job));
  const recorded = await updateJob(gw, jobId, (j) => {
    recordResource(j, created, gw.now());
    j.cloud[opts.key] = created.id;
  });
  if (CANCELLED.has(recorded.state)) {
    // Cancelled while the cloud created it: the cancel's removal may have run before it was
    // recorded, so remove it here rather than leave it behind.
    await removeJobResources(gw, jobId, { types: [created.type] });
    assertNotCancelled(recorded);
  }
  return created.id;
}

/** Hashes a stream as it passes: the SHA-256 and byte count of everything read through it. */
export function hashing(input: AsyncIterable<Buffer>) {
  const h = createHash('sha256');
  let bytes = 0;
  async function* gen() {
    for await (const chunk of input) {
      h.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
  }
  return { stream: gen(), digest: () => ({ sha256: h.digest('hex'), bytes }) };
}
