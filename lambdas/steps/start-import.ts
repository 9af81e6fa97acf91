/** Offload · StartImport: ImportImage from the staging bucket; the import task is recorded on the job. */
import { startImport } from '../../shared/domain/workflow/aws-import';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => startImport(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
