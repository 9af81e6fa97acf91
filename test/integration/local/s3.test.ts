import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type LocalS3 } from '../../../infra/local/s3';

const Bucket = 'burstgate-staging';
const MiB = 1024 * 1024;

let dir: string;
let s3: LocalS3;
let client: S3Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bg-s3-'));
  s3 = await startS3({ directory: dir, buckets: [Bucket] });
  client = new S3Client({
    region: 'us-east-1',
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: { name: string; $metadata?: { httpStatusCode?: number } }) => ({
      name: e.name,
      status: e.$metadata?.httpStatusCode,
    }),
  );

async function presignedPut(
  Key: string,
  UploadId: string,
  PartNumber: number,
  body: Buffer,
): Promise<Response> {
  const url = await getSignedUrl(client, new UploadPartCommand({ Bucket, Key, UploadId, PartNumber }), {
    expiresIn: 600,
  });
  return fetch(url, { method: 'PUT', body });
}

describe('local S3 multipart uploads', () => {
  it('takes presigned part uploads, lists the parts, and completes with S3-style ETags', async () => {
    // Prepare
    const Key = 'staging/job-1/image.ova';
    const part1 = Buffer.alloc(5 * MiB, 1);
    const part2 = Buffer.from('tail of the image');
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/ova' }),
    );
    // Act
    const put1 = await presignedPut(Key, UploadId!, 1, part1);
    const put2 = await presignedPut(Key, UploadId!, 2, part2);
    const listed = await client.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'staging/job-1/' }));
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: {
          Parts: (listed.Parts ?? []).map(({ ETag, PartNumber }) => ({ ETag, PartNumber })),
        },
      }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket, Key }));
    const body = Buffer.from(
      await (await client.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray(),
    );
    const again = await errorOf(client.send(new ListPartsCommand({ Bucket, Key, UploadId })));
    // Assess
    const expectedEtag = `"${createHash('md5')
      .update(Buffer.concat([md5(part1), md5(part2)]))
      .digest('hex')}-2"`;
    expect(put1.status).toBe(200);
    expect(put1.headers.get('etag')).toBe(`"${md5(part1).toString('hex')}"`);
    expect(put2.status).toBe(200);
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([
      [1, 5 * MiB, `"${md5(part1).toString('hex')}"`],
      [2, part2.length, `"${md5(part2).toString('hex')}"`],
    ]);
    expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[Key, UploadId]]);
    expect(done.ETag).toBe(expectedEtag);
    expect(head.ETag).toBe(expectedEtag);
    expect(head.ContentLength).toBe(part1.length + part2.length);
    expect(head.ContentType).toBe('application/ova');
    expect(body.equals(Buffer.concat([part1, part2]))).toBe(true);
    expect(again).toEqual({ name: 'NoSuchUpload', status: 404 });
  });

  it('refuses to complete with a wrong ETag, parts out of order, or a small part that is not the last', async () => {
    // Prepare
    const Key = 'staging/job-2/image.ova';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const small = Buffer.from('too small to be a middle part');
    const e1 = (await presignedPut(Key, UploadId!, 1, small)).headers.get('etag')!;
    const e2 = (await presignedPut(Key, UploadId!, 2, small)).headers.get('etag')!;
    const complete = (Parts: Array<{ ETag: string; PartNumber: number }>) =>
      errorOf(
        client.send(
          new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }),
        ),
      );
    // Act
    const wrongEtag = await complete([{ ETag: '"0123456789abcdef0123456789abcdef"', PartNumber: 1 }]);
    const missing = await complete([{ ETag: e1, PartNumber: 3 }]);
    const order = await complete([
      { ETag: e2, PartNumber: 2 },
      { ETag: e1, PartNumber: 1 },
    ]);
    const tooSmall = await complete([
      { ETag: e1, PartNumber: 1 },
      { ETag: e2, PartNumber: 2 },
    ]);
    const stillThere = await client.send(new ListPartsCommand({ Bucket, Key, UploadId }));
    // Assess
    expect(wrongEtag).toEqual({ name: 'InvalidPart', status: 400 });
    expect(missing).toEqual({ name: 'InvalidPart', status: 400 });
    expect(order).toEqual({ name: 'InvalidPartOrder', status: 400 });
    expect(tooSmall).toEqual({ name: 'EntityTooSmall', status: 400 });
    expect(stillThere.Parts).toHaveLength(2);
  });

  it('aborts an upload, after which its parts and id are gone', async () => {
    // Prepare
    const Key = 'staging/job-3/image.ova';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    await presignedPut(Key, UploadId!, 1, Buffer.from('x'));
    // Act
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    const list = await errorOf(client.send(new ListPartsCommand({ Bucket, Key, UploadId })));
    const put = await presignedPut(Key, UploadId!, 2, Buffer.from('y'));
    const otherKey = await errorOf(client.send(new ListPartsCommand({ Bucket, Key: 'elsewhere', UploadId })));
    // Assess
    expect(list).toEqual({ name: 'NoSuchUpload', status: 404 });
    expect(put.status).toBe(404);
    expect(otherKey).toEqual({ name: 'NoSuchUpload', status: 404 });
  });

  it('refuses expired presigned URLs and unknown access keys', async () => {
    // Prepare
    const Key = 'staging/job-4/image.ova';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const expired = await getSignedUrl(
      client,
      new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1 }),
      {
        expiresIn: 1,
        signingDate: new Date(Date.now() - 60_000),
      },
    );
    const stranger = new S3Client({
      region: 'us-east-1',
      endpoint: s3.url,
      forcePathStyle: true,
      credentials: { accessKeyId: 'SOMEONE', secretAccessKey: 'ELSE' },
      maxAttempts: 1,
    });
    // Act
    const late = await fetch(expired, { method: 'PUT', body: 'x' });
    const denied = await errorOf(stranger.send(new ListPartsCommand({ Bucket, Key, UploadId })));
    stranger.destroy();
    // Assess
    expect(late.status).toBe(403);
    expect(await late.text()).toContain('<Code>AccessDenied</Code>');
    expect(denied).toEqual({ name: 'InvalidAccessKeyId', status: 403 });
  });

  it('passes every other operation to s3rver', async () => {
    // Act
    await client.send(new PutObjectCommand({ Bucket, Key: 'plain.txt', Body: 'plain' }));
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'plain.txt' }));
    // Assess
    expect(await got.Body!.transformToString()).toBe('plain');
    expect(got.ETag).toBe(`"${createHash('md5').update('plain').digest('hex')}"`);
  });
});
