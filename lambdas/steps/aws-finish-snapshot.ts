/** Offload (AWS direct) · FinishSnapshot: the block manifest to S3, CompleteSnapshot with the blocks written. */
import { awsFinishSnapshot } from '../../shared/domain/workflow/aws-direct';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'finishSnapshot', (gw, e) => awsFinishSnapshot(gw, e.jobId, e.uploaded));
}

export const handler = lazyHandler(createHandler);
