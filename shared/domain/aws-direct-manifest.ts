/**
 * Where the AWS direct path keeps block manifests (block index → SHA-256 of the snapshot's blocks)
 * in the staging bucket, and how it reads and writes them. Small JSON objects; a whole manifest
 * holds about 60 bytes per non-zero 512 KiB block of the disk.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseBlockManifest, type BlockManifest } from '../clouds/aws/ebs-blocks';
import type { Gateway } from './gateway';

/** Key prefix of the block manifests the image cache keeps (no lifecycle expiry, unlike staging/). */
export const MANIFESTS_PREFIX = 'manifests/';

/** Where one range's part of the block manifest waits for FinishSnapshot (staging/: expires if orphaned). */
export const rangeManifestKey = (jobId: string, index: number): string =>
  `staging/${jobId}/block-manifest/range-${index}.json`;

/** The uploaded snapshot's block manifest, kept with the image cache entry. */
export const blockManifestKey = (jobId: string): string => `${MANIFESTS_PREFIX}${jobId}/block-manifest.json`;

export async function readManifest(gw: Gateway, key: string): Promise<BlockManifest> {
  const out = await gw.s3.send(new GetObjectCommand({ Bucket: gw.staging.bucket, Key: key }));
  const text = await out.Body?.transformToString('utf8');
  if (text === undefined) throw new Error(`s3://${gw.staging.bucket}/${key} has no body`);
  return parseBlockManifest(JSON.parse(text));
}

export async function writeManifest(gw: Gateway, key: string, manifest: BlockManifest): Promise<void> {
  await gw.s3.send(
    new PutObjectCommand({
      Bucket: gw.staging.bucket,
      Key: key,
      Body: JSON.stringify(manifest),
      ContentType: 'application/json',
    }),
  );
}
