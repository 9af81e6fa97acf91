/**
 * Downloads the returned image (or delta) from its presigned URL: streamed to `<out>.part` while
 * hashing, then checked against the size and SHA-256 the gateway announced and renamed into place.
 * A mismatch or a failed transfer removes the partial file, so `<out>` only ever holds a verified
 * file. A body longer than announced is cut off as soon as it passes the announced size.
 *
 * Also: the AWS direct image cache's block manifest (GET /image-cache/{region}/{vmName} → its
 * presigned `manifest.url`), read into memory, parsed and checked.
 */
import { constants as bufferConstants } from 'node:buffer';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GatewayClientError, describeCause, isNetworkError, redactUrl } from './errors';
import { readText, s3ErrorSummary, transfer } from './http-transfer';
import { parseBlockManifest, type BlockManifest } from '../clouds/aws/ebs-blocks';

export interface DownloadOptions {
  /** Lowercase hex SHA-256 the file must have; without it the file is kept unverified. */
  expectedSha256?: string;
  /** Size the file must have, when known. */
  expectedSize?: number;
  onProgress?: (bytesReceived: number, total: number | undefined) => void;
  signal?: AbortSignal;
  idleTimeoutMs?: number;
  /** What is downloaded, for messages (default "image"; a return may download a "delta"). */
  what?: string;
}

export interface DownloadResult {
  path: string;
  sizeBytes: number;
  sha256: string;
}

export async function downloadImage(
  url: string,
  outPath: string,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const partial = `${outPath}.part`;
  const where = redactUrl(url);
  const what = opts.what ?? 'image';
  let res;
  try {
    res = await transfer({
      method: 'GET',
      url,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    });
  } catch (err) {
    if (isNetworkError(err)) {
      throw new GatewayClientError(
        'unreachable',
        `cannot download the ${what} from ${where} (${describeCause(err)}): check the network, then run the command again`,
        { url: where, cause: err },
      );
    }
    throw err;
  }
  if (res.status !== 200) {
    const text = await readText(res.body).catch(() => '');
    const s3 = s3ErrorSummary(text);
    const advice =
      res.status === 403
        ? 'the download URL may have expired; fetch a fresh one with `burstgate status <job>` and retry'
        : res.status >= 500
          ? 'the storage service failed; retry later'
          : `the ${what} is not where the gateway said it is`;
    throw new GatewayClientError(
      'transfer',
      `downloading the ${what} failed with HTTP ${res.status}${s3 ? ` (${s3})` : ''}: ${advice}`,
      { status: res.status, url: where },
    );
  }
  const lengthHeader = Number(res.headers['content-length']);
  const total =
    opts.expectedSize ?? (Number.isFinite(lengthHeader) && lengthHeader >= 0 ? lengthHeader : undefined);
  const hash = createHash('sha256');
  let received = 0;
  const tooLong = (): GatewayClientError =>
    new GatewayClientError(
      'integrity',
      `the downloaded ${what} is longer than the ${opts.expectedSize} bytes the gateway announced; ` +
        'the partial file was deleted; run the command again',
      { url: where },
    );
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      // a wrong (or hostile) answer must not fill the disk before the size check at the end
      if (opts.expectedSize !== undefined && received > opts.expectedSize) return cb(tooLong());
      hash.update(chunk);
      opts.onProgress?.(received, total);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(res.body, meter, createWriteStream(partial), opts.signal ? { signal: opts.signal } : {});
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof GatewayClientError) throw err;
    if (isNetworkError(err) || (err as { code?: string }).code === 'ECONNRESET') {
      throw new GatewayClientError(
        'unreachable',
        `the download of the ${what} from ${where} broke off after ${received} bytes (${describeCause(err)}); run the command again`,
        { url: where, cause: err },
      );
    }
    throw err;
  }
  const sha256 = hash.digest('hex');
  if (opts.expectedSize !== undefined && received !== opts.expectedSize) {
    await rm(partial, { force: true });
    throw new GatewayClientError(
      'integrity',
      `the downloaded ${what} has ${received} bytes, not the ${opts.expectedSize} the gateway announced; ` +
        'the partial file was deleted; run the command again',
      { url: where },
    );
  }
  if (opts.expectedSha256 && sha256 !== opts.expectedSha256.toLowerCase()) {
    await rm(partial, { force: true });
    throw new GatewayClientError(
      'integrity',
      `the downloaded ${what}'s SHA-256 is ${sha256}, not the ${opts.expectedSha256} the gateway announced; ` +
        `the partial file was deleted; run the command again (the ${what} stays in staging)`,
      { url: where },
    );
  }
  await rename(partial, outPath);
  return { path: outPath, sizeBytes: received, sha256 };
}

/**
 * The most manifest JSON read into memory: the longest string V8 makes (about 512 MiB; a manifest
 * takes about 60 bytes per non-zero 512 KiB block, so some 4 TiB of disk data).
 */
export const MAX_BLOCK_MANIFEST_BYTES = bufferConstants.MAX_STRING_LENGTH;

export interface BlockManifestDownloadOptions {
  signal?: AbortSignal;
  /** Socket idle timeout (default 60 s). */
  idleTimeoutMs?: number;
  /** Cap on the body (default MAX_BLOCK_MANIFEST_BYTES). */
  maxBytes?: number;
}

/**
 * Downloads a block manifest from its presigned URL (`ImageCacheView.manifest.url`) and checks it:
 * `{version: 1, blockBytes, capacity, blocks: {"<index>": "<base64 SHA-256>"}}`. Every failure is a
 * GatewayClientError: `unreachable` (no answer, or the body broke off), `transfer` (S3 said no: an
 * expired URL, a manifest that is gone), `protocol` (not a manifest, or too large).
 */
export async function downloadBlockManifest(
  url: string,
  opts: BlockManifestDownloadOptions = {},
): Promise<BlockManifest> {
  const where = redactUrl(url);
  const maxBytes = opts.maxBytes ?? MAX_BLOCK_MANIFEST_BYTES;
  let res;
  try {
    res = await transfer({
      method: 'GET',
      url,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    });
  } catch (err) {
    if (isNetworkError(err)) {
      throw new GatewayClientError(
        'unreachable',
        `cannot download the block manifest from ${where} (${describeCause(err)}): check the network, then try again`,
        { url: where, cause: err },
      );
    }
    throw err;
  }
  if (res.status !== 200) {
    const text = await readText(res.body).catch(() => '');
    const s3 = s3ErrorSummary(text);
    const advice =
      res.status === 403
        ? 'the manifest URL may have expired; fetch the image cache entry again for a fresh one'
        : res.status === 404
          ? 'the manifest is gone (a newer offload of the VM may have replaced the entry); fetch the entry again'
          : res.status >= 500
            ? 'the storage service failed; retry later'
            : 'the manifest is not where the gateway said it is';
    throw new GatewayClientError(
      'transfer',
      `downloading the block manifest failed with HTTP ${res.status}${s3 ? ` (${s3})` : ''}: ${advice}`,
      { status: res.status, url: where },
    );
  }

  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      received += b.length;
      if (received > maxBytes) {
        res.body.destroy();
        throw new GatewayClientError(
          'protocol',
          `the block manifest at ${where} is larger than ${maxBytes} bytes, more than the client can read`,
          { url: where },
        );
      }
      chunks.push(b);
    }
  } catch (err) {
    if (err instanceof GatewayClientError) throw err;
    if (isNetworkError(err) || (err as { code?: string }).code === 'ECONNRESET') {
      throw new GatewayClientError(
        'unreachable',
        `the download of the block manifest from ${where} broke off after ${received} bytes (${describeCause(err)}); try again`,
        { url: where, cause: err },
      );
    }
    throw err;
  }

  try {
    return parseBlockManifest(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  } catch (err) {
    throw new GatewayClientError(
      'protocol',
      `the object at ${where} is not a version 1 block manifest (${describeCause(err)}): ` +
        'check that the client and gateway versions match',
      { url: where, cause: err },
    );
  }
}
