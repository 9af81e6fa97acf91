/** Offload (AWS direct) · CheckSnapshot: is the completed snapshot sealed yet? */
import { awsCheckSnapshot } from '../../shared/domain/workflow/aws-direct';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => awsCheckSnapshot(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
