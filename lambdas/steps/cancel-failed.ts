/** Cancel · CancelFailed (Catch): records what could not be removed; a DELETE starts the cancel again. */
import { cancelFailed } from '../../shared/domain/workflow/cancel';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'failed', (gw, e) => cancelFailed(gw, e.jobId, e.error));
}

export const handler = lazyHandler(createHandler);
