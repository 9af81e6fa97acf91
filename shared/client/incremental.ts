/**
 * `burstgate offload --incremental` (AWS direct): asks the gateway for the VM's cached image (its
 * content SHA-256, capacity and block manifest), hashes the local disk's 512 KiB blocks against the
 * manifest and writes a delta of the ones that differ (shared/images/block-delta.ts) to a temporary
 * folder; that delta is uploaded instead of the image. When there is nothing to compare with (no
 * cached image, a disk smaller than the cached one) it says why and the whole image is uploaded.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBaseImage } from '../images/base-image';
import { writeBlockDelta, type BlockDeltaProgress, type BlockDeltaSummary } from '../clouds/aws/block-delta';
import { parseBlockManifest } from '../clouds/aws/ebs-blocks';
import { GatewayClientError } from './errors';

/** What the gateway says of a VM's cached image (GET /image-cache/{region}/{vmName}). */
export interface CachedImage {
  snapshotId: string;
  diskSha256: string;
  capacityBytes: number;
  blocks: number;
  jobId: string;
  manifest: { url: string };
}

/** The part of the gateway client this needs. */
export interface ImageCacheClient {
  getImageCache(region: string, vmName: string): Promise<CachedImage | undefined>;
  fetchBlockManifest(url: string): Promise<unknown>;
}

export type IncrementalUpload =
  | {
      kind: 'delta';
      /** The delta file to upload (imageFormat "delta"). */
      path: string;
      sizeBytes: number;
      cached: CachedImage;
      summary: BlockDeltaSummary;
      /** Removes the delta and its temporary folder. */
      dispose(): Promise<void>;
    }
  | { kind: 'whole'; reason: string };

export async function prepareIncrementalUpload(
  client: ImageCacheClient,
  opts: {
    imagePath: string;
    region: string;
    vmName: string;
    onProgress?: (p: BlockDeltaProgress) => void;
  },
): Promise<IncrementalUpload> {
  const cached = await client.getImageCache(opts.region, opts.vmName);
  if (!cached) {
    return {
      kind: 'whole',
      reason: `the gateway holds no cached image of ${opts.vmName} in ${opts.region} yet (this upload becomes it)`,
    };
  }
  let manifest;
  try {
    manifest = parseBlockManifest(await client.fetchBlockManifest(cached.manifest.url));
  } catch (err) {
    if (err instanceof GatewayClientError) throw err;
    throw new GatewayClientError(
      'protocol',
      `the block manifest of the cached image of ${opts.vmName} is not valid: ${(err as Error).message}`,
    );
  }
  const base = await openBaseImage(opts.imagePath);
  try {
    if (base.disk.capacity < cached.capacityBytes) {
      return {
        kind: 'whole',
        reason:
          `the disk (${base.disk.capacity} bytes) is smaller than the cached image (${cached.capacityBytes} bytes), ` +
          'and a snapshot cannot shrink',
      };
    }
    const dir = await mkdtemp(join(tmpdir(), 'burstgate-delta-'));
    const dispose = () => rm(dir, { recursive: true, force: true });
    try {
      const path = join(dir, 'changed-blocks.bgdelta');
      const summary = await writeBlockDelta(
        base.disk,
        { manifest, sha256: cached.diskSha256, capacity: cached.capacityBytes },
        path,
        opts.onProgress,
      );
      return { kind: 'delta', path, sizeBytes: (await stat(path)).size, cached, summary, dispose };
    } catch (err) {
      await dispose();
      throw err;
    }
  } finally {
    await base.close();
  }
}
