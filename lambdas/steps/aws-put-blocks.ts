/** Offload (AWS direct) · PutBlocks (one Map item): the changed non-zero 512 KiB blocks of one range, from the staged image. */
import { awsPutBlocks } from '../../shared/domain/workflow/aws-direct';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'uploadRange', (gw, e) => awsPutBlocks(gw, e.jobId, e.range));
}

export const handler = lazyHandler(createHandler);
