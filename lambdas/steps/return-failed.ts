/** Return · ReturnFailed (Catch): records why; keeps the VM so no bytes are lost. */
import { returnFailed } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'failed', (gw, e) => returnFailed(gw, e.jobId, e.error));
}

export const handler = lazyHandler(createHandler);
