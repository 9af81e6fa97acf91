/** Offload · Inspect: manifest, OVF hardware, disk format, partition table, content SHA-256. */
import { inspectImage } from '../../shared/domain/workflow/inspect';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => inspectImage(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
