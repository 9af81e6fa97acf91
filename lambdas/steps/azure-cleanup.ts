/**
 * Return (Azure) · Cleanup: removes the VM, NIC, disk, snapshots and the staged image; keeps the
 * delta. The same domain step as the AWS branch's, in a function of its own (Azure credentials).
 */
import { cleanupAfterReturn } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => cleanupAfterReturn(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
