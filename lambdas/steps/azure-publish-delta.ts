/** Return (Azure) · PublishDelta: the pages changed since the offload, as a delta artifact in S3. */
import { azurePublishDelta } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => azurePublishDelta(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
