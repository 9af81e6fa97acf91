/** Return (Azure) · Deallocate: stop the VM and release its host, so its disk stops changing. */
import { azureDeallocate } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => azureDeallocate(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
