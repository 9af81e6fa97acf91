/** Return · Cleanup: terminates the VM, deregisters the AMI, deletes snapshots and the uploaded image. */
import { cleanupAfterReturn } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => cleanupAfterReturn(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
