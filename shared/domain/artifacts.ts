/**
 * Streams an artifact the gateway makes (the return delta) into the staging bucket as an S3
 * multipart upload, hashing it on the way. Memory is one part; on any failure the upload is
 * aborted, so nothing half-written stays behind (the bucket's lifecycle rule covers a crash).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Gateway } from './gateway';

const MiB = 1024 * 1024;
/** S3 parts are at least 5 MiB (but the last); 8 MiB parts allow artifacts up to 80 GB in 10,000 parts. */
export const ARTIFACT_PART_BYTES = 8 * MiB;

export interface StoredArtifact {
  key: string;
  sizeBytes: number;
  sha256: string;
}

export async function storeArtifact(
  gw: Gateway,
  key: string,
  chunks: AsyncIterable<Buffer>,
  partBytes = ARTIFACT_PART_BYTES,
): Promise<StoredArtifact> {
  const Bucket = gw.staging.bucket;
  const created = await gw.s3.send(
    new CreateMultipartUploadCommand({ Bucket, Key: key, ContentType: 'application/octet-stream' }),
  );
  const UploadId = created.UploadId;
  if (!UploadId) throw new Error(`S3 returned no UploadId for ${key}`);
  const hash = createHash('sha256');
  const parts: Array<{ PartNumber: number; ETag: string }> = [];
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let sizeBytes = 0;
  const flush = async () => {
    const PartNumber = parts.length + 1;
    const Body = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const out = await gw.s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId, PartNumber, Body }));
    parts.push({ PartNumber, ETag: out.ETag ?? '' });
  };
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= partBytes) await flush();
    }
    if (pendingBytes > 0 || parts.length === 0) await flush();
    await gw.s3.send(
      new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }),
    );
  } catch (err) {
    await gw.s3
      .send(new AbortMultipartUploadCommand({ Bucket, Key: key, UploadId }))
      .catch((abortErr: unknown) =>
        gw.logger.warn('could not abort the artifact upload', { key, error: abortErr as Error }),
      );
    throw err;
  }
  return { key, sizeBytes, sha256: hash.digest('hex') };
}
