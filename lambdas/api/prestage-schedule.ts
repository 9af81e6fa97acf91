/**
 * POST /schedules/{id}/prestage — the job of an upload VM in the window being pre-staged, with its
 * upload (as POST /offloads answers); the same VM and window again answer with the same job.
 */
import { parseOrThrow } from '../../shared/domain/requests';
import { PrestageUploadRequest, ScheduleRef } from '../../shared/domain/schedule-requests';
import { viewJob } from '../../shared/domain/view';
import { prestageUpload } from '../../shared/domain/windows/window-actions';
import { findSchedule } from '../../shared/domain/windows/schedules';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { apiHandler, json } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return apiHandler(
    deps,
    { body: 'required', route: 'POST /schedules/{id}/prestage' },
    async (gw, event, caller) => {
      const ref = parseOrThrow(ScheduleRef, event.pathParameters?.id, 'the schedule in the path');
      const req = parseOrThrow(PrestageUploadRequest, event.parsedBody, 'the prestage request');
      const placed = await prestageUpload(gw, await findSchedule(gw, caller, ref, 'write'), req);
      const view = await viewJob(gw, placed.job);
      return json(
        placed.replayed ? 200 : 202,
        {
          jobId: placed.job.jobId,
          state: placed.job.state,
          upload: placed.upload,
          window: { opensAt: placed.occurrence.opensAt, closesAt: placed.occurrence.closesAt },
          links: view.links,
          job: view,
        },
        { location: `/offloads/${placed.job.jobId}` },
      );
    },
  );
}

export const handler = lazyHandler(createHandler);
