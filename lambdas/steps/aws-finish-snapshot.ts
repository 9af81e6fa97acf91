/** Offload (AWS direct) · FinishSnapshot: the block manifest to S3, CompleteSnapshot with the blocks written. */
import { awsFinishSnapshot, type PutBlocksResult } from '../../shared/domain/workflow/aws-direct';
import { lazyHandler, type GatewayDeps } from '../../shared/runtime/deps';
import { stepHandler } from '../middleware/handlers';

function results(value: unknown): PutBlocksResult[] {
  const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (
    !Array.isArray(value) ||
    !value.every(
      (r: Partial<PutBlocksResult>) =>
        r && ok(r.index) && ok(r.blocksPut) && ok(r.blocksSkipped) && ok(r.zeroBlocksPut),
    )
  ) {
    throw new TypeError(
      `FinishSnapshot needs uploaded: the Map state results [{ index, blocksPut, blocksSkipped, zeroBlocksPut }], got ${JSON.stringify(value)?.slice(0, 200)}`,
    );
  }
  return value as PutBlocksResult[];
}

export function createHandler(deps: GatewayDeps) {
  return stepHandler(deps, (gw, e) => awsFinishSnapshot(gw, e.jobId, results(e.uploaded)));
}

export const handler = lazyHandler(createHandler);
