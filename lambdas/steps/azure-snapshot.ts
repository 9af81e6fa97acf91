/** Return (Azure) · SnapshotForReturn: incremental snapshot of the deallocated VM's disk. */
import { azureSnapshotForReturn } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => azureSnapshotForReturn(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
