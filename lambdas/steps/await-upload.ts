/** Offload · AwaitUpload (.waitForTaskToken): stores the task token; releases it at once if the upload already completed. */
import { awaitUpload } from '../../shared/domain/workflow/lifecycle';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'awaitUpload', async (gw, e) => {
    await awaitUpload(gw, e.jobId, e.taskToken);
    return { waiting: true };
  });
}

export const handler = lazyHandler(createHandler);
