/** Cancel · CancelJob: removes everything the cancelled job created, then marks it cancelled. */
import { removeCancelledJob } from '../../shared/domain/workflow/cancel';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => removeCancelledJob(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
