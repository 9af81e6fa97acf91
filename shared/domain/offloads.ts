/**
 * What the HTTP API does, as plain functions: create an offload (placeOffload), complete its
 * upload, show and list jobs, start the return (cancelling: cancel.ts). Handlers translate and delegate here.
 */
import { estimateAndGuard } from './budgets';
import { DEFAULT_TARGET_LIMITS, checkTargetLimits } from './target-limits';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidJobStateError, UploadIncompleteError, ValidationError } from './errors';
import { beginStep, endStep, markRemoved, recordResource, updateJob, type Gateway } from './gateway';
import { newJobId } from './ids';
import { checkQuota } from './quotas';
import { newSecret } from './webhooks/signing';
import {
  DEFAULT_TENANT,
  type Job,
  type JobLease,
  type JobState,
  type JobTarget,
  type JobWindow,
  type ReturnPlan,
} from './job';
import type { CompleteUploadRequest, CreateOffloadRequest } from './requests';
import { removeJobResources } from './cleanup';
import { executionArn, executionInput, releaseUploadWait } from './executions';
import { armLaunchTimer, launchFor } from './launch-gate';
import { armLease, clearJobTimers, leaseFor, planFor } from './leases';

export interface UploadInstructions {
  uploadId: string;
  partSizeBytes: number;
  parts: Array<{ partNumber: number; url: string }>;
  expiresAt: string;
}

export interface PlacedOffload {
  job: Job;
  upload?: UploadInstructions;
  replayed: boolean;
}

const EXT: Record<Job['image']['format'], string> = {
  ova: 'ova',
  vmdk: 'vmdk',
  vhd: 'vhd',
  vhdx: 'vhdx',
  raw: 'img',
  delta: 'bgdelta',
};

/** The target as the job keeps it: an Azure target gets the gateway's default resource group. */
function resolveTarget(gw: Gateway, req: CreateOffloadRequest): JobTarget {
  const target = req.target;
  if (req.imageFormat === 'delta') {
    checkTargetLimits(target, gw.config.targetLimits ?? DEFAULT_TARGET_LIMITS, 'target');
    // only EBS can take a delta: blocks on top of the cached snapshot (workflow/aws-delta-upload.ts)
    if (target.cloud !== 'aws' || target.mode === 'import') {
      throw new ValidationError(
        "imageFormat: a delta (burstgate offload --incremental) goes on top of the VM's cached EBS snapshot: " +
          'it needs target.cloud "aws" with mode "direct" (or no mode); upload the whole image otherwise',
        [{ path: 'imageFormat', message: 'delta needs an AWS direct offload' }],
      );
    }
    return {
      ...target,
      mode: 'direct',
      modeReason: 'an incremental upload: the blocks that changed since the cached snapshot go into EBS',
    };
  }
  return resolveCloudTarget(gw, target, 'target');
}

/**
 * A requested target as a job keeps it, within the deployment's limits (target-limits.ts): an Azure target gets the gateway's default resource group
 * (a ValidationError at `<path>.cloud` when the gateway has no Azure configuration).
 */
export function resolveCloudTarget(
  gw: Gateway,
  target: CreateOffloadRequest['target'],
  path: string,
): JobTarget {
  checkTargetLimits(target, gw.config.targetLimits ?? DEFAULT_TARGET_LIMITS, path);
  if (target.cloud === 'aws') return { ...target };
  const azure = gw.config.azure;
  if (!azure) {
    throw new ValidationError(
      `${path}.cloud: this gateway has no Azure configuration; offload to "aws", or deploy the gateway with Azure credentials`,
      [{ path: `${path}.cloud`, message: 'this gateway is not configured for Azure' }],
    );
  }
  return { ...target, resourceGroup: target.resourceGroup ?? azure.defaultResourceGroup };
}

export async function uploadInstructions(gw: Gateway, job: Job): Promise<UploadInstructions | undefined> {
  if (job.state !== 'awaiting-upload' || !job.image.uploadId) return undefined;
  const expires = gw.config.presignExpiresSeconds;
  const { partSizeBytes, parts } = await gw.staging.presignParts(
    job.image.key,
    job.image.uploadId,
    job.image.sizeBytes,
    expires,
  );
  return {
    uploadId: job.image.uploadId,
    partSizeBytes,
    parts,
    expiresAt: new Date(gw.now().getTime() + expires * 1000).toISOString(),
  };
}

/** POST /offloads: a job, a multipart upload for its image, and the waiting offload execution. */
export async function placeOffload(
  gw: Gateway,
  req: CreateOffloadRequest,
  idempotencyKey: string,
  tenant: string,
  window?: JobWindow,
): Promise<PlacedOffload> {
  const now = gw.now();
  const target = resolveTarget(gw, req);
  // a window's job has its schedule's callback, checked with the schedule (and at each delivery)
  if (req.callbackUrl && !window) await gw.checkCallback(req.callbackUrl, 'callbackUrl');
  const launch = launchFor(gw, req.launch);
  // The default lease counts from the planned launch (a held one: from its release).
  const plannedLaunch = launch?.at ? new Date(launch.at) : now;
  const lease = leaseFor(gw, req.lease, { plannedLaunch, path: 'lease' });
  // Over a quota: refused before anything is written. A window's job was agreed with its schedule,
  // and a replay (a key used before) made its job already: neither is counted again.
  const fresh = !window && !(await gw.store.idempotencyKeyUsed(tenant, idempotencyKey));
  if (fresh) await checkQuota(gw, tenant, req.imageSizeBytes);
  // Past a hard budget: refused before anything is written too (budgets.ts); the estimate is kept.
  const cost = fresh
    ? await estimateAndGuard(gw, {
        tenant,
        target,
        vmName: req.vmName,
        imageSizeBytes: req.imageSizeBytes,
        lease,
        from: plannedLaunch,
      })
    : undefined;
  const proposedId = newJobId(now);
  const prior = await gw.store.claimIdempotencyKey(tenant, idempotencyKey, req, proposedId, now);
  const jobId = prior?.jobId ?? proposedId;
  if (prior) {
    const existing = await gw.store.find(jobId);
    if (existing?.execution?.offloadArn) {
      return { job: existing, upload: await uploadInstructions(gw, existing), replayed: true };
    }
    // The earlier request stopped half-way (claimed the key, then failed): finish it now.
    if (existing) return startOffloadExecution(gw, existing, true);
  }
  const safeName = req.vmName.replace(/[^A-Za-z0-9._-]/g, '_');
  const key = `staging/${jobId}/${safeName}.${EXT[req.imageFormat]}`;
  const uploadId = await gw.staging.createUpload(key);
  const job: Job = {
    jobId,
    ...(tenant === DEFAULT_TENANT ? {} : { tenant }),
    vmName: req.vmName,
    state: 'awaiting-upload',
    target,
    // a window's job signs with its schedule's secret (webhooks/deliveries.ts), its own job none
    ...(req.callbackUrl ? { callbackUrl: req.callbackUrl } : {}),
    ...(req.callbackUrl && !window ? { callbackSecret: newSecret() } : {}),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: 1,
    image: {
      format: req.imageFormat,
      bucket: gw.staging.bucket,
      key,
      sizeBytes: req.imageSizeBytes,
      uploadId,
      ...(req.imageSha256 ? { sha256: req.imageSha256 } : {}),
    },
    resources: [],
    steps: [],
    bytes: { uploaded: 0 },
    cloud: {},
    activeStep: { name: 'upload', startedAt: now.toISOString() },
    lease,
    ...(cost ? { cost } : {}),
    ...(launch ? { launch } : {}),
    ...(window ? { window } : {}),
  };
  job.returnPlan = await planAhead(gw, job, lease);
  recordResource(job, { type: 'multipart-upload', id: uploadId, location: gw.staging.bucket }, now);
  try {
    await gw.store.create(job);
  } catch (err) {
    await gw.staging.abortUpload(key, uploadId).catch(() => undefined);
    // Two identical requests at once: the other one created the job first; answer as a replay.
    const winner =
      prior && (err as Error).name === 'ConditionalCheckFailedException' && (await gw.store.find(jobId));
    if (winner) return { job: winner, upload: await uploadInstructions(gw, winner), replayed: true };
    throw err;
  }
  await gw.publish(job, undefined);
  return startOffloadExecution(gw, job, !!prior);
}

async function startOffloadExecution(gw: Gateway, job: Job, replayed: boolean): Promise<PlacedOffload> {
  const arn = executionArn(gw.config.offloadStateMachineArn, job.jobId);
  try {
    await gw.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: gw.config.offloadStateMachineArn,
        name: job.jobId,
        input: executionInput(job),
      }),
    );
  } catch (err) {
    // Same name + same input is not an error in Step Functions; anything else is.
    if ((err as Error).name !== 'ExecutionAlreadyExists') {
      gw.logger.error('could not start the offload execution', { jobId: job.jobId, error: err as Error });
      await removeJobResources(gw, job.jobId).catch(() => undefined);
      await updateJob(gw, job.jobId, (j) => {
        j.state = 'failed';
        j.error = {
          type: 'workflow-start-failed',
          title: 'The offload workflow could not be started',
          detail: `Step Functions refused StartExecution: ${(err as Error).message}`,
        };
      });
      throw err;
    }
  }
  const started = await updateJob(gw, job.jobId, (j) => {
    j.execution = { ...j.execution, offloadArn: arn };
  });
  await armLaunchTimer(gw, started);
  const updated = await armLease(gw, started, started.returnPlan);
  return { job: updated, upload: await uploadInstructions(gw, updated), replayed };
}

/**
 * A new job's plan (recorded with it, and armed once its execution runs). It must lie ahead: a returnBy so near that the estimated return would have to
 * start before the VM is even up is refused, with the figure that makes it so.
 */
async function planAhead(gw: Gateway, job: Job, lease: JobLease): Promise<ReturnPlan> {
  const plan = await planFor(gw, job, lease);
  if (plan.reason !== 'return-by' || Date.parse(plan.startAt) > gw.now().getTime()) return plan;
  throw new ValidationError(
    `lease.returnBy: ${lease.returnBy} is too soon: the return is estimated at ${plan.estimateSeconds} s (${plan.basis}), so it would have to start at ${plan.startAt}, before now; set returnBy later than ${new Date(gw.now().getTime() + (plan.estimateSeconds ?? 0) * 1000).toISOString()}`,
    [{ path: 'lease.returnBy', message: 'earlier than now + the estimated return' }],
  );
}

/** POST /offloads/{id}/upload-complete: completes the multipart upload and releases the execution. */
export async function completeUpload(gw: Gateway, jobId: string, req: CompleteUploadRequest): Promise<Job> {
  const job = await gw.store.get(jobId);
  if (job.uploadCompletedAt) {
    // Already done: the same request again is fine. The first may have died between recording the
    // upload and releasing the wait (or Step Functions failed it): release it again while the job
    // is still inspecting (a token already used is refused, harmlessly).
    if (job.state === 'inspecting') await releaseUploadWait(gw, job);
    return job;
  }
  if (job.state !== 'awaiting-upload' || !job.image.uploadId) {
    throw new InvalidJobStateError(jobId, job.state, 'complete the upload of', ['awaiting-upload']);
  }
  const { key, uploadId, sizeBytes } = { ...job.image, uploadId: job.image.uploadId };
  const numbers = req.parts.map((p) => p.partNumber);
  for (let i = 0; i < numbers.length; i++) {
    if (numbers[i] !== i + 1) {
      throw new UploadIncompleteError(
        `parts must be listed in order 1..N without gaps; entry ${i} is part ${numbers[i]}`,
      );
    }
  }
  // Check the claim against what S3 really holds before completing anything: a bad request changes nothing.
  let listed: Awaited<ReturnType<Gateway['staging']['listParts']>> | undefined;
  try {
    listed = await gw.staging.listParts(key, uploadId);
  } catch (err) {
    if ((err as Error).name !== 'NoSuchUpload') throw err;
  }
  let total = 0;
  if (listed) {
    const byNumber = new Map(listed.map((p) => [p.partNumber, p]));
    for (const p of req.parts) {
      const got = byNumber.get(p.partNumber);
      if (!got) {
        throw new UploadIncompleteError(
          `part ${p.partNumber} was never uploaded; upload it, then complete again`,
        );
      }
      if (got.etag.replace(/"/g, '') !== p.etag.replace(/"/g, '')) {
        throw new UploadIncompleteError(
          `part ${p.partNumber}: ETag ${p.etag} does not match the uploaded part's ${got.etag}; upload it again`,
        );
      }
      total += got.size;
    }
    if (total !== sizeBytes) {
      throw new UploadIncompleteError(
        `the uploaded parts hold ${total} bytes but the offload declared imageSizeBytes ${sizeBytes}; upload every byte of the image, then complete again`,
      );
    }
    await completeInS3(gw, key, uploadId, sizeBytes, req);
  } else {
    // The upload is gone: an earlier request completed it in S3 and died before recording that
    // (a retry after a timeout), or it was aborted. Only a complete image lets the job go on.
    const staged = await gw.staging.size(key);
    if (staged !== sizeBytes) {
      throw new UploadIncompleteError(
        `the multipart upload ${uploadId} no longer exists and no complete image is staged; create a new offload`,
      );
    }
    total = staged;
  }
  const now = gw.now();
  let moved = undefined as Job | undefined;
  const updated = await updateJob(gw, jobId, (j) => {
    if (j.state !== 'awaiting-upload' || j.uploadCompletedAt) {
      moved = j; // completed by a concurrent request, or cancelled meanwhile
      return false;
    }
    markRemoved(j, 'multipart-upload', uploadId, now); // consumed into the object
    recordResource(j, { type: 's3-object', id: key, location: j.image.bucket }, now);
    j.bytes.uploaded = total;
    j.uploadCompletedAt = now.toISOString();
    endStep(j, 'succeeded', now, `${total} bytes in ${req.parts.length} part(s)`);
    j.state = 'inspecting';
    beginStep(j, 'inspect', now);
  });
  if (moved) {
    if (moved.uploadCompletedAt) return moved;
    // Cancelled while S3 made the object: it was never recorded on the job, so nobody else removes it.
    await gw.staging.delete(key);
    throw new InvalidJobStateError(jobId, moved.state, 'complete the upload of', ['awaiting-upload']);
  }
  await releaseUploadWait(gw, updated);
  return updated;
}

async function completeInS3(
  gw: Gateway,
  key: string,
  uploadId: string,
  sizeBytes: number,
  req: CompleteUploadRequest,
) {
  try {
    await gw.staging.completeUpload(key, uploadId, req.parts);
  } catch (err) {
    const name = (err as Error).name;
    // A concurrent request completed it first: fine when the whole image is there.
    if (name === 'NoSuchUpload' && (await gw.staging.size(key)) === sizeBytes) return;
    if (name === 'InvalidPart' || name === 'InvalidPartOrder' || name === 'EntityTooSmall') {
      throw new UploadIncompleteError(
        `S3 refused to complete the upload: ${name}: ${(err as Error).message}`,
      );
    }
    throw err;
  }
}

/** States a return may start from. */
export const RETURNABLE_STATES: readonly JobState[] = ['running', 'return-failed'];

/** POST /offloads/{id}/return (`by: 'api'`), or the lease's plan (`by: 'lease'`). */
export async function startReturn(gw: Gateway, jobId: string, by: 'api' | 'lease' = 'api'): Promise<Job> {
  const allowed = RETURNABLE_STATES;
  let attempt = 0;
  let resumed = false;
  const job = await updateJob(gw, jobId, (j) => {
    const tried = j.execution?.returnAttempts ?? 0;
    const name = `${jobId}-return-${tried}`;
    resumed =
      j.state === 'returning' &&
      tried > 0 &&
      j.execution?.returnArn !== executionArn(gw.config.returnStateMachineArn, name);
    if (resumed) {
      // The job says returning but its attempt's execution was never recorded: the request that
      // set it died before StartExecution answered. Start that attempt again under its own name:
      // Step Functions answers the running one if it did start (same name and input), else starts it.
      attempt = tried;
      return false;
    }
    if (!allowed.includes(j.state)) throw new InvalidJobStateError(jobId, j.state, 'return', allowed);
    attempt = tried + 1;
    j.returnStartedAt = gw.now().toISOString();
    j.returnStartedBy = by;
    delete j.returnPlan;
    j.execution = { ...j.execution, returnAttempts: attempt };
    j.state = 'returning';
    delete j.error;
    // A new attempt exports afresh: an earlier export may be the very thing that failed.
    delete j.cloud.exportTaskId;
    delete j.cloud.returnSnapshotId;
    // The earlier attempt's image is no longer the download: let the next cleanup remove it.
    for (const r of j.resources) {
      if (r.type === 's3-object' && r.retained && !r.imageCache && !r.removedAt) delete r.retained;
    }
    delete j.returned;
    beginStep(j, 'stop', gw.now());
  });
  return startReturnExecution(gw, job, attempt, resumed);
}

/**
 * Starts (or, by its name, finds) the return execution of `attempt`, records it, clears the lease's
 * timers. A refusal marks a new attempt `return-failed`; a `resumed` one stays as it was (its
 * execution may be running: another request may be starting it right now).
 */
async function startReturnExecution(gw: Gateway, job: Job, attempt: number, resumed = false): Promise<Job> {
  const jobId = job.jobId;
  const name = `${jobId}-return-${attempt}`;
  try {
    await gw.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: gw.config.returnStateMachineArn,
        name,
        input: executionInput(job),
      }),
    );
  } catch (err) {
    if (resumed) throw err;
    await updateJob(gw, jobId, (j) => {
      j.state = 'return-failed';
      j.error = {
        type: 'workflow-start-failed',
        title: 'The return workflow could not be started',
        detail: `Step Functions refused StartExecution: ${(err as Error).message}; the VM is untouched, retry the return`,
      };
    });
    throw err;
  }
  const started = await updateJob(gw, jobId, (j) => {
    j.execution = { ...j.execution, returnArn: executionArn(gw.config.returnStateMachineArn, name) };
  });
  // The return is under way: the lease has nothing left to do.
  await clearJobTimers(gw, jobId);
  return started;
}
