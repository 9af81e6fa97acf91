/** Offload (Azure) · FinishUpload: end the upload (Azure checks the VHD), base snapshot, bytes written. */
import { azureFinishUpload, type UploadedRange } from '../../shared/domain/workflow/azure';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

function uploaded(value: unknown): UploadedRange[] {
  const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (
    !Array.isArray(value) ||
    !value.every((r: Partial<UploadedRange>) => r && ok(r.index) && ok(r.bytesWritten) && ok(r.pages))
  ) {
    throw new TypeError(
      `FinishUpload needs uploaded: the Map state results [{ index, bytesWritten, pages }], got ${JSON.stringify(value)?.slice(0, 200)}`,
    );
  }
  return value as UploadedRange[];
}

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, (gw, e) => azureFinishUpload(gw, e.jobId, uploaded(e.uploaded)));
}

export const handler = lazyHandler(createHandler);
