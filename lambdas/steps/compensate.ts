/** Offload · Compensate (Catch): records why, removes everything the job created, ends failed. */
import { compensate } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'failed', (gw, e) => compensate(gw, e.jobId, e.error));
}

export const handler = lazyHandler(createHandler);
