/** Return (AWS direct) · PublishChangedBlocks: the EBS blocks changed since the offload, as a delta artifact in S3. */
import { awsPublishChangedBlocks } from '../../shared/domain/workflow/aws-return';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => awsPublishChangedBlocks(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
