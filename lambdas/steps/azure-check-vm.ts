/** Offload/Return (Azure) · CheckVm/CheckDeallocated: is the VM running (or deallocated) yet? */
import { azureCheckVm } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, (gw, e) => {
    if (e.desired !== 'running' && e.desired !== 'deallocated')
      throw new TypeError('desired must be running or deallocated');
    return azureCheckVm(gw, e.jobId, e.desired);
  });
}

export const handler = lazyHandler(createHandler);
