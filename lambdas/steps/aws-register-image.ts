/** Offload (AWS direct) · RegisterImage: the AMI from the snapshot (HVM, x86_64, ENA, boot mode of the OVF firmware). */
import { awsRegisterImage } from '../../shared/domain/workflow/aws-direct';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, 'job', (gw, e) => awsRegisterImage(gw, e.jobId));
}

export const handler = lazyHandler(createHandler);
