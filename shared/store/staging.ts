/**
 * The S3 staging bucket: multipart uploads with presigned part URLs for the on-prem client,
 * streaming reads for the inspect/publish steps, presigned downloads for returned images.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import type { ByteSource } from '../images/source';
import { s3ByteSource } from './s3-byte-source';

const MiB = 1024 * 1024;
/** S3 allows at most 10,000 parts of at most 5 GiB; we keep the URL list small enough for one API response. */
export const MAX_PARTS = 2000;
export const MIN_PART_SIZE = 16 * MiB;
export const MAX_IMAGE_BYTES = 5 * 1024 * 1024 * MiB; // 5 TiB, the S3 object limit

export function partSizeFor(sizeBytes: number): number {
  const needed = Math.ceil(sizeBytes / MAX_PARTS);
  return Math.max(MIN_PART_SIZE, Math.ceil(needed / MiB) * MiB);
}

export class StagingBucket {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async createUpload(key: string, contentType = 'application/octet-stream'): Promise<string> {
    const out = await this.s3.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }),
    );
    if (!out.UploadId) throw new Error(`S3 returned no UploadId for ${key}`);
    return out.UploadId;
  }

  async presignParts(key: string, uploadId: string, sizeBytes: number, expiresIn: number) {
    const partSizeBytes = partSizeFor(sizeBytes);
    const count = Math.max(1, Math.ceil(sizeBytes / partSizeBytes));
    const parts: Array<{ partNumber: number; url: string }> = [];
    for (let partNumber = 1; partNumber <= count; partNumber++) {
      const url = await getSignedUrl(
        this.s3,
        new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber }),
        { expiresIn },
      );
      parts.push({ partNumber, url });
    }
    return { partSizeBytes, parts };
  }

  /** Uploads one part from the gateway itself (a small artifact it writes, not a client's image); its ETag. */
  async putPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> {
    const out = await this.s3.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: body,
      }),
    );
    if (!out.ETag) throw new Error(`S3 returned no ETag for part ${partNumber} of ${key}`);
    return out.ETag;
  }

  /** Parts S3 has received, for checking a completion request against reality. */
  async listParts(
    key: string,
    uploadId: string,
  ): Promise<Array<{ partNumber: number; etag: string; size: number }>> {
    const parts: Array<{ partNumber: number; etag: string; size: number }> = [];
    let marker: string | undefined;
    for (;;) {
      const out = await this.s3.send(
        new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
      );
      for (const p of out.Parts ?? [])
        parts.push({ partNumber: p.PartNumber ?? 0, etag: p.ETag ?? '', size: Number(p.Size ?? 0) });
      if (!out.IsTruncated || !out.NextPartNumberMarker) break;
      marker = out.NextPartNumberMarker;
    }
    return parts;
  }

  async completeUpload(key: string, uploadId: string, parts: Array<{ partNumber: number; etag: string }>) {
    await this.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
      }),
    );
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.s3.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
    }
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return Number(out.ContentLength ?? 0);
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404)
        return undefined;
      throw err;
    }
  }

  async read(key: string): Promise<{ body: AsyncIterable<Buffer>; size: number }> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!out.Body) throw new Error(`S3 returned no body for ${key}`);
    return { body: out.Body as Readable, size: Number(out.ContentLength ?? 0) };
  }

  /** The object as random-access bytes (ranged GETs), for formats that cannot be streamed. */
  byteSource(key: string, size: number): Promise<ByteSource> {
    return s3ByteSource(this.s3, this.bucket, key, { size });
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  presignGet(key: string, expiresIn: number, fileName?: string): Promise<string> {
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ...(fileName ? { ResponseContentDisposition: `attachment; filename="${fileName}"` } : {}),
      }),
      { expiresIn },
    );
  }
}
