/**
 * An S3 object as a ByteSource: each read is one ranged GET. Formats that need random access
 * (dynamic VHD, VHDX, qcow2, sparse VMDK) are read this way, straight from the staging bucket.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkRange, type ByteSource } from '../images/source';

export async function s3ByteSource(
  s3: S3Client,
  bucket: string,
  key: string,
  opts: { signal?: AbortSignal; size?: number } = {},
): Promise<ByteSource> {
  const size =
    opts.size ??
    Number(
      (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: opts.signal }))
        .ContentLength ?? 0,
    );
  const name = `s3://${bucket}/${key}`;
  return {
    size,
    name,
    read: async (offset, length) => {
      checkRange({ size, name }, offset, length);
      if (length === 0) return Buffer.alloc(0);
      const out = await s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
        { abortSignal: opts.signal },
      );
      const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
      if (bytes.length !== length) {
        throw new Error(`${name}: a ranged GET of ${length} bytes at ${offset} returned ${bytes.length}`);
      }
      return bytes;
    },
    close: async () => undefined,
  };
}
