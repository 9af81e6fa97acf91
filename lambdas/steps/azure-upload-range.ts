/** Offload (Azure) · UploadRange (one Map item): page writes of one range of the fixed VHD, from the staged image. */
import { azureUploadRange } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'uploadRange', (gw, e) => azureUploadRange(gw, e.jobId, e.range));
}

export const handler = lazyHandler(createHandler);
