/** Offload (Azure) · CreateVm: the network interface, then the VM on the uploaded disk (submitted). */
import { azureCreateVm } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => azureCreateVm(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
