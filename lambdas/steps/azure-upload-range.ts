/** Offload (Azure) · UploadRange (one Map item): page writes of one range of the fixed VHD, from the staged image. */
import { azureUploadRange } from '../../shared/domain/workflow/azure';
import type { UploadRange } from '../../shared/images/upload-plan';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

function uploadRange(value: unknown): UploadRange {
  const r = value as Partial<UploadRange> | null;
  const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (!r || typeof r !== 'object' || !ok(r.index) || !ok(r.offset) || !ok(r.length)) {
    throw new TypeError('UploadRange needs range: { index, offset, length } (non-negative integers)');
  }
  return { index: r.index!, offset: r.offset!, length: r.length! };
}

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, (gw, e) => azureUploadRange(gw, e.jobId, uploadRange(e.range)));
}

export const handler = lazyHandler(createHandler);
