/**
 * Downloads the returned image (or delta) from its presigned URL: streamed to `<out>.part` while
 * hashing, then checked against the size and SHA-256 the gateway announced and renamed into place.
 * A mismatch or a failed transfer removes the partial file, so `<out>` only ever holds a verified
 * file. A body longer than announced is cut off as soon as it passes the announced size.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GatewayClientError, describeCause, isNetworkError, redactUrl } from './errors';
import { readText, s3ErrorSummary, transfer } from './http-transfer';

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
