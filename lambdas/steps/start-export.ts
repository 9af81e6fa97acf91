/** Return · StartExport: CreateInstanceExportTask to the staging bucket as OVA. */
import { startExport } from '../../shared/domain/workflow/aws-import';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => startExport(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
