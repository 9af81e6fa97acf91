/** Offload · LaunchInstance: RunInstances from the imported AMI; the instance is recorded on the job. */
import { launchInstance } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => launchInstance(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
