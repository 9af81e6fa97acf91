/** Return · PublishImage: hashes the exported OVA and its disk content; the download is presigned on GET. */
import { publishImage } from '../../shared/domain/workflow/aws-import';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => publishImage(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
