/** The job as the API shows it: no internal bookkeeping (task tokens, versions), plus a fresh download URL. */
import { redactUrl } from './egress';
import type { Gateway } from './gateway';
import type { JobView } from './api-schemas';
import { ownerOf, type Job } from './job';
import { PRE_LAUNCH_STATES } from './launch-gate';

/** The type follows the schema (api-schemas.ts: JobViewSchema), so the view and the OpenAPI document agree. */
export type { JobView };

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
    ...(job.cost ? { cost: job.cost } : {}),
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
