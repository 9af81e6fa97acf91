/** Offload (AWS direct) · PrepareSnapshot: image cache lookup, StartSnapshot (a child of the cached one when changed), the range plan. */
import { awsPrepareSnapshot } from '../../shared/domain/workflow/aws-direct';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => awsPrepareSnapshot(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
