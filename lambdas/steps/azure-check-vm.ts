/** Offload/Return (Azure) · CheckVm/CheckDeallocated: is the VM running (or deallocated) yet? */
import { azureCheckVm } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'azureCheckVm', (gw, e) => azureCheckVm(gw, e.jobId, e.desired));
}

export const handler = lazyHandler(createHandler);
