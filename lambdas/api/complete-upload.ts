/** POST /offloads/{id}/upload-complete — completes the multipart upload and releases the waiting execution. */
import { ownedJob } from '../../shared/domain/tenants';
import { completeUpload } from '../../shared/domain/offloads';
import { CompleteUploadRequest, JobId, parseOrThrow } from '../../shared/domain/requests';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'required', route: 'POST /offloads/{id}/upload-complete' },
    async (gw, event, caller) => {
      const id = parseOrThrow(JobId, event.pathParameters?.id, 'the job id in the path');
      const req = parseOrThrow(CompleteUploadRequest, event.parsedBody, 'the upload-complete request');
      await ownedJob(gw, caller, id, 'write');
      const job = await completeUpload(gw, id, req);
      return json(202, { jobId: job.jobId, state: job.state, bytes: job.bytes });
    },
  );
}

export const handler = lazyHandler(createHandler);
