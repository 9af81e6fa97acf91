/** The job as the API shows it: no internal bookkeeping (task tokens, versions), plus a fresh download URL. */
import { redactUrl } from './egress';
import type { Gateway } from './gateway';
import { ownerOf, type Job } from './job';
import { PRE_LAUNCH_STATES } from './launch-gate';

export interface JobView {
  jobId: string;
  /** The tenant that owns the job (whose keys see it). */
  tenant: string;
  vmName: string;
  state: Job['state'];
  target: Job['target'];
  callbackUrl?: string;
  createdAt: string;
  updatedAt: string;
  image: Omit<Job['image'], 'bucket' | 'key' | 'uploadId' | 'delta'> & {
    /** A delta upload (--incremental): what it carried and the image it was applied to. */
    delta?: Omit<NonNullable<Job['image']['delta']>, 'indexKey'>;
  };
  hardware?: Job['hardware'];
  resources: Job['resources'];
  steps: Job['steps'];
  activeStep?: Job['activeStep'];
  bytes: Job['bytes'];
  cloud: Job['cloud'];
  error?: Job['error'];
  /** How long the VM may stay, and what happens then (README: Leases and deadlines). */
  lease?: Job['lease'];
  /** When the gateway will start the return (or cancel) on its own; absent once the return started. */
  returnPlan?: Job['returnPlan'];
  returnStartedAt?: string;
  returnStartedBy?: Job['returnStartedBy'];
  returnedAt?: string;
  /** A job with a returnBy, once home: whether it was in time, and by how many seconds (negative: late). */
  deadline?: Job['deadline'];
  cancelledBy?: Job['cancelledBy'];
  /** The burst window the job belongs to (a schedule's occurrence). */
  window?: Job['window'];
  /** A held or timed launch: when, and whether (and by what) it was released. */
  launch?: Job['launch'];
  download?: {
    /** Presigned GET; the file is named `<vmName>.ova` or `<vmName>.bgdelta`. */
    url: string;
    expiresAt: string;
    /**
     * `ova`: the whole VM (AWS import mode). `delta`: the ranges it changed, to apply to the offloaded
     * image (Azure: changed pages; AWS direct mode: changed 512 KiB EBS blocks; shared/images README).
     */
    format: 'ova' | 'delta';
    sizeBytes: number;
    /** SHA-256 of the file behind `url`. */
    sha256: string;
    /** Content SHA-256 of the returned disk. */
    diskSha256: string;
    /** Delta only: content SHA-256 of the disk the delta applies to (the offloaded image's disk). */
    baseDiskSha256?: string;
    matchesOriginal: boolean;
  };
  links: { self: string; uploadComplete?: string; return?: string; launch?: string };
}

export async function viewJob(gw: Gateway, job: Job): Promise<JobView> {
  const { bucket: _b, key: _k, uploadId: _u, delta, ...rest } = job.image;
  const image: JobView['image'] = delta ? { ...rest, delta: (({ indexKey: _i, ...d }) => d)(delta) } : rest;
  const view: JobView = {
    jobId: job.jobId,
    tenant: ownerOf(job),
    vmName: job.vmName,
    state: job.state,
    target: job.target,
    // shown redacted: a query may carry the receiver's token (user info is refused when given)
    ...(job.callbackUrl ? { callbackUrl: redactUrl(job.callbackUrl) } : {}),
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    image,
    ...(job.hardware ? { hardware: job.hardware } : {}),
    resources: job.resources,
    steps: job.steps,
    ...(job.activeStep ? { activeStep: job.activeStep } : {}),
    bytes: job.bytes,
    cloud: job.cloud,
    ...(job.error ? { error: job.error } : {}),
    ...(job.lease ? { lease: job.lease } : {}),
    ...(job.returnPlan ? { returnPlan: job.returnPlan } : {}),
    ...(job.returnStartedAt ? { returnStartedAt: job.returnStartedAt } : {}),
    ...(job.returnStartedBy ? { returnStartedBy: job.returnStartedBy } : {}),
    ...(job.returnedAt ? { returnedAt: job.returnedAt } : {}),
    ...(job.deadline ? { deadline: job.deadline } : {}),
    ...(job.cancelledBy ? { cancelledBy: job.cancelledBy } : {}),
    ...(job.window ? { window: job.window } : {}),
    ...(job.launch ? { launch: job.launch } : {}),
    links: {
      self: `/offloads/${job.jobId}`,
      ...(job.state === 'awaiting-upload'
        ? { uploadComplete: `/offloads/${job.jobId}/upload-complete` }
        : {}),
      ...(job.launch && !job.launch.releasedAt && PRE_LAUNCH_STATES.includes(job.state)
        ? { launch: `/offloads/${job.jobId}/launch` }
        : {}),
      ...(job.state === 'running' || job.state === 'return-failed'
        ? { return: `/offloads/${job.jobId}/return` }
        : {}),
    },
  };
  const r = job.returned;
  if (r && r.sha256 && (job.state === 'returned' || job.state === 'return-failed')) {
    const expires = gw.config.presignExpiresSeconds;
    view.download = {
      url: await gw.staging.presignGet(
        r.key,
        expires,
        `${job.vmName}.${r.format === 'delta' ? 'bgdelta' : 'ova'}`,
      ),
      expiresAt: new Date(gw.now().getTime() + expires * 1000).toISOString(),
      format: r.format,
      sizeBytes: r.sizeBytes,
      sha256: r.sha256,
      diskSha256: r.diskSha256,
      ...(r.baseDiskSha256 ? { baseDiskSha256: r.baseDiskSha256 } : {}),
      matchesOriginal: r.matchesOriginal,
    };
  }
  return view;
}
