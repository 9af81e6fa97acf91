/** Return (AWS direct) · CheckReturnSnapshot: is the return snapshot completed yet? */
import { awsCheckReturnSnapshot } from '../../shared/domain/aws-return-steps';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, (gw, e) => awsCheckReturnSnapshot(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
