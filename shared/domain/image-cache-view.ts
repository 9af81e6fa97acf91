/**
 * GET /image-cache/{region}/{vmName}: a VM's AWS direct image cache entry as the API shows it (the
 * entries: shared/store/image-cache.ts; the policy: aws-image-cache.ts). A client hashes its disk's
 * blocks against the entry's block manifest, fetched through a presigned URL, to know which blocks
 * a changed re-offload has to move. No internal bookkeeping: neither the manifest's key nor the
 * retired images.
 */
import { z } from 'zod';
import type { ImageCacheView } from './api-schemas';
import { ImageCacheEntryNotFoundError } from './errors';
import type { Gateway } from './gateway';
import { AwsTargetRequest, CreateOffloadRequest } from './requests';
import type { ImageCacheEntry } from '../store/image-cache';

/** The path parameters, checked as POST /offloads checks an AWS target's region and the VM name. */
export const ImageCachePath = z.object({
  region: AwsTargetRequest.shape.region,
  vmName: CreateOffloadRequest.shape.vmName,
});
export type ImageCachePath = z.infer<typeof ImageCachePath>;

/** The type follows the schema (api-schemas.ts: ImageCacheViewSchema). */
export type { ImageCacheView };

export async function viewImageCache(gw: Gateway, entry: ImageCacheEntry): Promise<ImageCacheView> {
  const expires = gw.config.presignExpiresSeconds;
  return {
    vmName: entry.vmName,
    region: entry.region,
    snapshotId: entry.snapshotId,
    ...(entry.amiId ? { amiId: entry.amiId } : {}),
    diskSha256: entry.diskSha256,
    diskSha256Measured: entry.diskSha256Measured === true,
    capacityBytes: entry.capacityBytes,
    blocks: entry.blocks,
    jobId: entry.jobId,
    updatedAt: entry.updatedAt,
    manifest: {
      url: await gw.staging.presignGet(entry.manifestKey, expires),
      expiresAt: new Date(gw.now().getTime() + expires * 1000).toISOString(),
    },
  };
}

/** The tenant's entry of `vmName` in `region`, as the API shows it; ImageCacheEntryNotFoundError without one. */
export async function getImageCacheView(
  gw: Gateway,
  tenant: string,
  path: ImageCachePath,
): Promise<ImageCacheView> {
  const entry = await gw.imageCache.get(tenant, path.region, path.vmName);
  if (!entry) throw new ImageCacheEntryNotFoundError(path.region, path.vmName);
  return viewImageCache(gw, entry);
}
