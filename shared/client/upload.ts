/**
 * Uploads an image file to the presigned multipart-upload URLs the gateway handed out. Each part
 * is streamed from disk (memory stays bounded whatever the file size), a few parts at a time; a
 * part that fails on the network or with a 5xx is sent again, up to `retries` times.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayClientError, describeCause, isNetworkError, redactUrl } from './errors';
import { readText, s3ErrorSummary, transfer } from './http-transfer';
import type { UploadInstructions, UploadedPart } from './types';

export interface UploadOptions {
  /** Called as bytes go out (bytes of a failed attempt are taken back). */
  onProgress?: (bytesSent: number, total: number) => void;
  /** Parts in flight at once (default 4). */
  concurrency?: number;
  /** Extra attempts per part after a network error or a 5xx/429 (default 3). */
  retries?: number;
  /** First back-off delay; doubles per attempt (default 500 ms). */
  retryDelayMs?: number;
  signal?: AbortSignal;
  /** Socket idle timeout per request (default 60 s). */
  idleTimeoutMs?: number;
}

interface PartPlan {
  partNumber: number;
  url: string;
  start: number;
  /** Inclusive, as createReadStream wants it. */
  end: number;
  length: number;
}

/** Byte ranges of each part; checks the gateway's plan covers the file exactly. */
export function planParts(fileSize: number, upload: UploadInstructions): PartPlan[] {
  const { partSizeBytes } = upload;
  const parts = [...upload.parts].sort((a, b) => a.partNumber - b.partNumber);
  const expected = Math.max(1, Math.ceil(fileSize / partSizeBytes));
  if (parts.length !== expected || parts.some((p, i) => p.partNumber !== i + 1)) {
    throw new GatewayClientError(
      'protocol',
      `the gateway planned parts ${parts.map((p) => p.partNumber).join(',')} of ${partSizeBytes} bytes, ` +
        `but the file is ${fileSize} bytes (${expected} part(s)): did the file change after the offload was created? ` +
        'start a new offload',
    );
  }
  return parts.map((p, i) => {
    const start = i * partSizeBytes;
    const length = Math.min(partSizeBytes, fileSize - start);
    return { partNumber: p.partNumber, url: p.url, start, end: start + length - 1, length };
  });
}

export async function uploadImage(
  filePath: string,
  upload: UploadInstructions,
  opts: UploadOptions = {},
): Promise<UploadedPart[]> {
  const { size } = await stat(filePath);
  if (size === 0) {
    throw new GatewayClientError('transfer', `${filePath} is empty: there is nothing to upload`);
  }
  const plan = planParts(size, upload);
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 4, plan.length));
  const retries = Math.max(0, opts.retries ?? 3);
  const baseDelay = opts.retryDelayMs ?? 500;

  // One failure stops the other parts (their bytes are wasted anyway).
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort(opts.signal?.reason);
  if (opts.signal?.aborted) throw opts.signal.reason;
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let sent = 0;
  const report = (delta: number): void => {
    sent += delta;
    opts.onProgress?.(sent, size);
  };
  const etags = new Map<number, string>();
  let next = 0;
  let failure: unknown;

  const worker = async (): Promise<void> => {
    while (failure === undefined && next < plan.length) {
      const part = plan[next++]!;
      for (let attempt = 0; ; attempt++) {
        let partSent = 0;
        try {
          const etag = await putPart(filePath, part, upload, stop.signal, opts.idleTimeoutMs, (n) => {
            partSent += n;
            report(n);
          });
          etags.set(part.partNumber, etag);
          break;
        } catch (err) {
          report(-partSent);
          if (stop.signal.aborted) {
            failure ??= stop.signal.reason ?? err;
            return;
          }
          const retryable = err instanceof GatewayClientError ? err.transient : isNetworkError(err);
          if (!retryable || attempt >= retries) {
            failure ??= asUploadError(err, part, attempt + 1);
            stop.abort(failure);
            return;
          }
          await sleep(baseDelay * 2 ** attempt, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
  if (failure !== undefined) throw failure;
  return plan.map((p) => ({ partNumber: p.partNumber, etag: etags.get(p.partNumber)! }));
}

async function putPart(
  filePath: string,
  part: PartPlan,
  upload: UploadInstructions,
  signal: AbortSignal,
  idleTimeoutMs: number | undefined,
  onBytes: (n: number) => void,
): Promise<string> {
  const file = createReadStream(filePath, { start: part.start, end: part.end, highWaterMark: 256 * 1024 });
  file.on('data', (chunk) => onBytes(chunk.length));
  let res;
  try {
    res = await transfer({
      method: 'PUT',
      url: part.url,
      headers: { 'content-length': part.length, 'content-type': 'application/octet-stream' },
      body: file,
      signal,
      ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    });
  } finally {
    if (!file.destroyed && !file.readableEnded) file.destroy();
  }
  const text = await readText(res.body);
  if (res.status < 200 || res.status >= 300) {
    const s3 = s3ErrorSummary(text);
    const expired = res.status === 403 && Date.parse(upload.expiresAt) < Date.now();
    const advice = expired
      ? `the upload URLs expired at ${upload.expiresAt}; cancel this offload and start a new one`
      : res.status >= 500 || res.status === 429
        ? 'the storage service failed; retry later'
        : 'the storage service refused the part; cancel this offload and start a new one';
    throw new GatewayClientError(
      'transfer',
      `part ${part.partNumber} was refused with HTTP ${res.status}${s3 ? ` (${s3})` : ''}: ${advice}`,
      { status: res.status, url: redactUrl(part.url) },
    );
  }
  const etag = res.headers.etag;
  if (!etag) {
    throw new GatewayClientError(
      'protocol',
      `the storage service accepted part ${part.partNumber} but sent no ETag header; cannot complete the upload`,
      { status: res.status, url: redactUrl(part.url) },
    );
  }
  return etag;
}

function asUploadError(err: unknown, part: PartPlan, attempts: number): unknown {
  const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
  if (err instanceof GatewayClientError) {
    if (!tries) return err;
    return new GatewayClientError(err.kind, `${err.message}${tries}`, {
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.url !== undefined ? { url: err.url } : {}),
      cause: err,
    });
  }
  if (isNetworkError(err)) {
    return new GatewayClientError(
      'unreachable',
      `uploading part ${part.partNumber} to ${new URL(part.url).host} failed${tries} (${describeCause(err)}): ` +
        'check the network to the storage endpoint, then run the offload again',
      { url: redactUrl(part.url), cause: err },
    );
  }
  return err;
}
