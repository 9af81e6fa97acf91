/** POST /offloads — creates the job, its multipart upload and the waiting offload execution. */
import { placeOffload } from '../../shared/domain/offloads';
import { CreateOffloadRequest, IdempotencyKey, parseOrThrow } from '../../shared/domain/requests';
import { viewJob } from '../../shared/domain/view';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { ValidationError } from '../../shared/domain/errors';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(deps, { body: 'required', route: 'POST /offloads' }, async (gw, event, caller) => {
    const rawKey = event.headers?.['idempotency-key'];
    if (!rawKey) {
      throw new ValidationError('the Idempotency-Key header is required; send a fresh UUID per new offload', [
        { path: 'headers.Idempotency-Key', message: 'required' },
      ]);
    }
    const key = parseOrThrow(IdempotencyKey, rawKey, 'the Idempotency-Key header');
    const req = parseOrThrow(CreateOffloadRequest, event.parsedBody, 'the offload request');
    const placed = await placeOffload(gw, req, key, caller.tenant);
    const view = await viewJob(gw, placed.job);
    return json(
      202,
      {
        jobId: placed.job.jobId,
        state: placed.job.state,
        upload: placed.upload,
        // shown to the tenant that made the job, never in a view: what its receiver verifies with
        ...(placed.job.callbackSecret ? { callbackSecret: placed.job.callbackSecret } : {}),
        links: view.links,
        job: view,
      },
      {
        location: `/offloads/${placed.job.jobId}`,
        ...(placed.replayed ? { 'idempotent-replayed': 'true' } : {}),
      },
    );
  });
}

export const handler = lazyHandler(createHandler);
