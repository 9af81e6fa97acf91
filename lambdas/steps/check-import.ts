/** Offload · CheckImport: polls the import task; records the AMI and snapshots when done. */
import { checkImport } from '../../shared/domain/workflow/aws-import';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => checkImport(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
