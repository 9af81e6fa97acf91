/** Offload · MarkRunning: the VM runs in the cloud. */
import { markRunning } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => markRunning(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
