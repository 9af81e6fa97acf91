/** Return · CheckExport: polls the export task; records the exported object when done. */
import { checkExport } from '../../shared/domain/workflow/aws-import';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => checkExport(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
