/** Offload (Azure) · FinishUpload: end the upload (Azure checks the VHD), base snapshot, bytes written. */
import { azureFinishUpload } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'finishUpload', (gw, e) => azureFinishUpload(gw, e.jobId, e.uploaded));
}

export const handler = lazyHandler(createHandler);
