/** Offload (AWS direct) · PutBlocks (one Map item): the changed non-zero 512 KiB blocks of one range, from the staged image. */
import { awsPutBlocks } from '../../shared/domain/workflow/aws-direct';
import type { UploadRange } from '../../shared/images/upload-plan';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

function uploadRange(value: unknown): UploadRange {
  const r = value as Partial<UploadRange> | null;
  const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (!r || typeof r !== 'object' || !ok(r.index) || !ok(r.offset) || !ok(r.length)) {
    throw new TypeError('PutBlocks needs range: { index, offset, length } (non-negative integers)');
  }
  return { index: r.index!, offset: r.offset!, length: r.length! };
}

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, (gw, e) => awsPutBlocks(gw, e.jobId, uploadRange(e.range)));
}

export const handler = lazyHandler(createHandler);
