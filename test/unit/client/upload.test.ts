import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClientError } from '../../../shared/client/errors';
import { planParts, uploadImage } from '../../../shared/client/upload';
import type { UploadInstructions } from '../../../shared/client/types';
import { closedPort, startServer, type TestServer } from '../../helpers/http-server';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-upload-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function file(name: string, size: number): { path: string; bytes: Buffer } {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

const md5 = (b: Buffer): string => `"${createHash('md5').update(b).digest('hex')}"`;

/** A fake S3: stores each part; `fail` decides per request whether to answer with an error. */
async function fakeS3(fail: (part: number, attempt: number) => number | undefined = () => undefined) {
  const received = new Map<number, Buffer>();
  const attempts = new Map<number, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  server = await startServer(async (req, res, body) => {
    const part = Number(new URL(req.url!, 'http://x').searchParams.get('partNumber'));
    const attempt = (attempts.get(part) ?? 0) + 1;
    attempts.set(part, attempt);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 5));
    inFlight--;
    const status = fail(part, attempt);
    if (status) {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(
        `<Error><Code>${status === 403 ? 'AccessDenied' : 'InternalError'}</Code><Message>nope</Message></Error>`,
      );
      return;
    }
    if (Number(req.headers['content-length']) !== body.length) {
      res.writeHead(400);
      res.end('length mismatch');
      return;
    }
    received.set(part, body);
    res.writeHead(200, { etag: md5(body) });
    res.end();
  });
  const instructions = (count: number, partSizeBytes: number): UploadInstructions => ({
    uploadId: 'up-1',
    partSizeBytes,
    parts: Array.from({ length: count }, (_, i) => ({
      partNumber: i + 1,
      url: `${server!.url}/bucket/key?partNumber=${i + 1}&uploadId=up-1&X-Amz-Signature=secret`,
    })),
    expiresAt: '2099-01-01T00:00:00Z',
  });
  return { received, attempts, instructions, maxInFlight: () => maxInFlight };
}

describe('uploadImage', () => {
  it('uploads every part (the last one short), returns ETags in part order, reports progress', async () => {
    const { path, bytes } = file('multi.img', 10 * 1000 + 337);
    const s3 = await fakeS3();
    const progress: number[] = [];
    const parts = await uploadImage(path, s3.instructions(11, 1000), {
      concurrency: 3,
      onProgress: (sent, total) => {
        expect(total).toBe(bytes.length);
        progress.push(sent);
      },
    });
    expect(parts.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const p of parts) {
      const expected = bytes.subarray((p.partNumber - 1) * 1000, p.partNumber * 1000);
      expect(s3.received.get(p.partNumber)).toEqual(expected);
      expect(p.etag).toBe(md5(expected));
    }
    expect(s3.received.get(11)!.length).toBe(337);
    expect(progress.at(-1)).toBe(bytes.length);
    expect(s3.maxInFlight()).toBeLessThanOrEqual(3);
    expect(s3.maxInFlight()).toBeGreaterThan(1);
  });

  it('retries a part that failed once with a 500, and counts its bytes once', async () => {
    const { path, bytes } = file('retry.img', 3000);
    const s3 = await fakeS3((part, attempt) => (part === 2 && attempt === 1 ? 500 : undefined));
    let last = 0;
    const parts = await uploadImage(path, s3.instructions(3, 1000), {
      retryDelayMs: 1,
      onProgress: (sent) => (last = sent),
    });
    expect(s3.attempts.get(2)).toBe(2);
    expect(parts[1]!.etag).toBe(md5(bytes.subarray(1000, 2000)));
    expect(last).toBe(3000);
  });

  it('gives up after the retries, naming the part and the status', async () => {
    const { path } = file('fail.img', 2000);
    const s3 = await fakeS3((part) => (part === 1 ? 503 : undefined));
    const err = (await uploadImage(path, s3.instructions(2, 1000), { retries: 2, retryDelayMs: 1 }).catch(
      (e: unknown) => e,
    )) as GatewayClientError;
    expect(err).toBeInstanceOf(GatewayClientError);
    expect(err.kind).toBe('transfer');
    expect(err.status).toBe(503);
    expect(err.message).toMatch(
      /^part 1 was refused with HTTP 503 \(InternalError: nope\).*after 3 attempts$/,
    );
    expect(s3.attempts.get(1)).toBe(3);
    expect(err.url).not.toContain('X-Amz-Signature'); // presigned credentials stay out of messages
  });

  it('does not retry a 403 and says what to do', async () => {
    const { path } = file('denied.img', 500);
    const s3 = await fakeS3(() => 403);
    const err = (await uploadImage(path, s3.instructions(1, 1000), { retryDelayMs: 1 }).catch(
      (e: unknown) => e,
    )) as GatewayClientError;
    expect(err.kind).toBe('transfer');
    expect(s3.attempts.get(1)).toBe(1);
    expect(err.message).toContain('AccessDenied');
    expect(err.message).toContain('start a new one');
  });

  it('uploads a 1-byte file as one part', async () => {
    const { path } = file('one.img', 1);
    const s3 = await fakeS3();
    const parts = await uploadImage(path, s3.instructions(1, 5 * 1024 * 1024));
    expect(parts).toEqual([{ partNumber: 1, etag: md5(Buffer.from([3])) }]);
    expect(s3.received.get(1)).toEqual(Buffer.from([3]));
  });

  it('reports an unreachable storage endpoint after retrying', async () => {
    const { path } = file('unreach.img', 10);
    const port = await closedPort();
    const err = (await uploadImage(
      path,
      {
        uploadId: 'u',
        partSizeBytes: 100,
        parts: [{ partNumber: 1, url: `http://127.0.0.1:${port}/b/k?X-Amz-Signature=s` }],
        expiresAt: '2099-01-01T00:00:00Z',
      },
      { retries: 1, retryDelayMs: 1 },
    ).catch((e: unknown) => e)) as GatewayClientError;
    expect(err.kind).toBe('unreachable');
    expect(err.message).toMatch(
      /^uploading part 1 to 127\.0\.0\.1:\d+ failed after 2 attempts \(connect ECONNREFUSED/,
    );
  });

  it('refuses a plan that does not cover the file (the file changed)', () => {
    const plan = {
      uploadId: 'u',
      partSizeBytes: 1000,
      parts: [{ partNumber: 1, url: 'http://x/1' }],
      expiresAt: '',
    };
    expect(() => planParts(1500, plan)).toThrow(/file is 1500 bytes \(2 part\(s\)\)/);
    expect(planParts(1000, plan)).toEqual([
      { partNumber: 1, url: 'http://x/1', start: 0, end: 999, length: 1000 },
    ]);
  });

  it('stops when the caller aborts', async () => {
    const { path } = file('abort.img', 4000);
    const s3 = await fakeS3();
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(uploadImage(path, s3.instructions(4, 1000), { signal: ac.signal })).rejects.toThrow('stop');
  });
});
