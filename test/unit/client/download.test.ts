import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { downloadBlockManifest, downloadImage } from '../../../shared/client/download';
import { GatewayClientError } from '../../../shared/client/errors';
import { closedPort, startServer, type TestServer } from '../../helpers/http-server';

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

  it('stops reading a body longer than announced, names what it downloads, keeps no file', async () => {
    // storage serves 300 000 bytes where the gateway announced 100 000: the extra is never written
    const url = await serveImage(image);
    const out = join(dir, 'long.bgdelta');
    const seen: number[] = [];
    const err = (await downloadImage(url, out, {
      expectedSize: 100_000,
      what: 'delta',
      onProgress: (n) => seen.push(n),
    }).catch((e: unknown) => e)) as GatewayClientError;
    expect(err).toBeInstanceOf(GatewayClientError);
    expect(err.kind).toBe('integrity');
    expect(err.message).toBe(
      'the downloaded delta is longer than the 100000 bytes the gateway announced; the partial file was deleted; run the command again',
    );
    expect(Math.max(...seen)).toBeLessThanOrEqual(100_000);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.part`)).toBe(false);
  });

  it('says "delta" in the size and hash mismatch messages when told so', async () => {
    const url = await serveImage(image.subarray(0, 200_000));
    const short = (await downloadImage(url, join(dir, 'short.bgdelta'), {
      expectedSize: image.length,
      what: 'delta',
    }).catch((e: unknown) => e)) as GatewayClientError;
    expect(short.kind).toBe('integrity');
    expect(short.message).toMatch(
      /^the downloaded delta has 200000 bytes, not the 300000 the gateway announced/,
    );
    await server?.close();
    const url2 = await serveImage(image);
    const wrong = (await downloadImage(url2, join(dir, 'wrong.bgdelta'), {
      expectedSha256: 'a'.repeat(64),
      what: 'delta',
    }).catch((e: unknown) => e)) as GatewayClientError;
    expect(wrong.message).toMatch(
      /^the downloaded delta's SHA-256 is [0-9a-f]{64}, not the a{64} the gateway announced/,
    );
    expect(wrong.message).toContain('(the delta stays in staging)');
    expect(existsSync(join(dir, 'short.bgdelta'))).toBe(false);
    expect(existsSync(join(dir, 'wrong.bgdelta'))).toBe(false);
  });
});

describe('downloadBlockManifest', () => {
  const sha = (n: number) => createHash('sha256').update(String(n)).digest('base64');
  const manifest = {
    version: 1,
    blockBytes: 512 * 1024,
    capacity: 4 * 1024 * 1024,
    blocks: { '0': sha(0), '5': sha(5) },
  };
  const serve = async (status: number, body: string, type = 'application/json'): Promise<string> => {
    server = await startServer((_req, res) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return `${server.url}/manifests/job-1/block-manifest.json?X-Amz-Signature=secret`;
  };

  it('downloads and parses the manifest, without sending an API key', async () => {
    // Prepare
    const url = await serve(200, JSON.stringify(manifest));

    // Act
    const got = await downloadBlockManifest(url);

    // Assess
    expect(got).toEqual(manifest);
    expect(server!.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('throws `transfer` naming the status and what to do, without the signature', async () => {
    // Prepare
    const url = await serve(
      403,
      '<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
      'application/xml',
    );

    // Act
    const err = (await downloadBlockManifest(url).catch((e: unknown) => e)) as GatewayClientError;

    // Assess
    expect(err).toBeInstanceOf(GatewayClientError);
    expect(err.kind).toBe('transfer');
    expect(err.status).toBe(403);
    expect(err.message).toContain('HTTP 403 (AccessDenied: Request has expired)');
    expect(err.message).toContain('may have expired');
    expect(err.message).not.toContain('secret');
  });

  it('throws `protocol` for a body that is not a version 1 manifest, or larger than allowed', async () => {
    // Prepare: one object per path
    const bodies: Record<string, [string, string]> = {
      '/html': ['text/html', '<html>'],
      '/v2': ['application/json', JSON.stringify({ ...manifest, version: 2 })],
      '/ok': ['application/json', JSON.stringify(manifest)],
    };
    server = await startServer((req, res) => {
      const [type, body] = bodies[req.url ?? ''] ?? ['text/plain', ''];
      res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    const failure = (path: string, maxBytes?: number) =>
      downloadBlockManifest(`${server!.url}${path}`, maxBytes ? { maxBytes } : {}).then(
        () => undefined,
        (e: unknown) => e as GatewayClientError,
      );

    // Act
    const notJson = await failure('/html');
    const wrongVersion = await failure('/v2');
    const tooLarge = await failure('/ok', 10);

    // Assess
    for (const e of [notJson, wrongVersion, tooLarge]) {
      expect(e).toBeInstanceOf(GatewayClientError);
      expect(e?.kind).toBe('protocol');
    }
    expect(notJson?.message).toContain('not a version 1 block manifest');
    expect(wrongVersion?.message).toContain('not a version 1 block manifest');
    expect(tooLarge?.message).toContain('larger than 10 bytes');
  });

  it('throws `unreachable` when the storage endpoint is down', async () => {
    // Prepare
    const port = await closedPort();

    // Act
    const err = (await downloadBlockManifest(`http://127.0.0.1:${port}/manifests/x.json`).catch(
      (e: unknown) => e,
    )) as GatewayClientError;

    // Assess
    expect(err.kind).toBe('unreachable');
    expect(err.message).toContain('cannot download the block manifest');
  });
});
