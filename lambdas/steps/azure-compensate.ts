/**
 * Offload (Azure) · Compensate (Catch of the Azure branch): records why, removes everything the job
 * created (VM, NIC, disk, snapshots, the staged image), ends failed. The same domain step as the AWS
 * branch's; a function of its own so only the Azure functions read the Azure credentials.
 */
import { compensate } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'failed', (gw, e) => compensate(gw, e.jobId, e.error));
}

export const handler = lazyHandler(createHandler);
