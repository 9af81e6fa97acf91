import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { downloadImage } from '../../../shared/client/download';
import { GatewayClientError } from '../../../shared/client/errors';
import { closedPort, startServer, type TestServer } from './http-server';

const image = Buffer.alloc(300_000, 0);
for (let i = 0; i < image.length; i += 97) image[i] = i & 0xff;
const sha = createHash('sha256').update(image).digest('hex');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-download-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serveImage(body: Buffer, status = 200): Promise<string> {
  server = await startServer((_req, res) => {
    res.writeHead(status, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    // in chunks, so the partial file exists while it streams
    let off = 0;
    const push = (): void => {
      if (off >= body.length) return void res.end();
      res.write(body.subarray(off, off + 65536));
      off += 65536;
      setImmediate(push);
    };
    push();
  });
  return `${server.url}/staging/returned.ova?X-Amz-Signature=secret`;
}

describe('downloadImage', () => {
  it('streams to <out>.part, verifies the SHA-256, renames, reports progress', async () => {
    const url = await serveImage(image);
    const out = join(dir, 'ok.ova');
    const seen: Array<[number, number | undefined]> = [];
    const result = await downloadImage(url, out, {
      expectedSha256: sha,
      expectedSize: image.length,
      onProgress: (n, total) => seen.push([n, total]),
    });
    expect(result).toEqual({ path: out, sizeBytes: image.length, sha256: sha });
    expect(readFileSync(out).equals(image)).toBe(true);
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toEqual([image.length, image.length]);
  });

  it('deletes the partial file and throws `integrity` when the hash does not match', async () => {
    const corrupted = Buffer.from(image);
    corrupted[1234] = corrupted[1234]! ^ 0xff;
    const url = await serveImage(corrupted);
    const out = join(dir, 'bad.ova');
    const err = (await downloadImage(url, out, { expectedSha256: sha }).catch(
      (e: unknown) => e,
    )) as GatewayClientError;
    expect(err).toBeInstanceOf(GatewayClientError);
    expect(err.kind).toBe('integrity');
    expect(err.message).toContain(`not the ${sha} the gateway announced`);
    expect(err.message).toContain('partial file was deleted');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  it('throws `transfer` on a non-200 answer without leaving a file', async () => {
    const url = await serveImage(
      Buffer.from('<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>'),
      403,
    );
    const out = join(dir, 'denied.ova');
    const err = (await downloadImage(url, out, { expectedSha256: sha }).catch(
      (e: unknown) => e,
    )) as GatewayClientError;
    expect(err.kind).toBe('transfer');
    expect(err.status).toBe(403);
    expect(err.message).toContain('AccessDenied: Request has expired');
    expect(err.url).not.toContain('Signature');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  it('throws `unreachable` when the storage endpoint is down', async () => {
    const port = await closedPort();
    const err = (await downloadImage(`http://127.0.0.1:${port}/x`, join(dir, 'x.ova')).catch(
      (e: unknown) => e,
    )) as GatewayClientError;
    expect(err.kind).toBe('unreachable');
  });

  it('deletes the partial file when the connection breaks mid-way', async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': 100_000 });
      res.write(Buffer.alloc(10_000));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const out = join(dir, 'broken.ova');
    const err = (await downloadImage(`${server.url}/x`, out, { expectedSha256: sha }).catch(
      (e: unknown) => e,
    )) as GatewayClientError;
    expect(err).toBeInstanceOf(GatewayClientError);
    expect(err.kind).toBe('unreachable');
    expect(existsSync(`${out}.part`)).toBe(false);
    expect(existsSync(out)).toBe(false);
  });
});
