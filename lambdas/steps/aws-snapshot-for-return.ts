/** Return (AWS direct) · SnapshotForReturn: CreateSnapshot of the stopped instance's root volume, recorded on the job. */
import { awsSnapshotForReturn } from '../../shared/domain/workflow/aws-return';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => awsSnapshotForReturn(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
