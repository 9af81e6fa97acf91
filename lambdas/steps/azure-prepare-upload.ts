/** Offload (Azure) · PrepareUpload: the managed disk for upload, and the ranges the Map state uploads. */
import { azurePrepareUpload } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => azurePrepareUpload(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
