/** Offload/Return · CheckInstance/CheckStopped: is the instance in the desired state yet? */
import { checkInstance } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'checkInstance', (gw, e) => checkInstance(gw, e.jobId, e.desired));
}

export const handler = lazyHandler(createHandler);
