/** Offload · AwaitLaunch: the image is staged; wait (task token) for the launch time or POST …/launch. */
import { awaitLaunch } from '../../shared/domain/launch-gate';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'awaitLaunch', async (gw, e) => {
    await awaitLaunch(gw, e.jobId, e.taskToken);
  });
}

export const handler = lazyHandler(createHandler);
