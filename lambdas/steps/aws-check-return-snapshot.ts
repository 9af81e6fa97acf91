/** Return (AWS direct) · CheckReturnSnapshot: is the return snapshot completed yet? */
import { awsCheckReturnSnapshot } from '../../shared/domain/workflow/aws-return';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => awsCheckReturnSnapshot(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
