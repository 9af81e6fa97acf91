/**
 * Plain HTTP(S) requests for the presigned-URL transfers (part uploads, the image download).
 * node:http rather than fetch: a streamed body goes out with an exact Content-Length (S3 wants
 * one; fetch would send it chunked) and backpressure keeps memory bounded.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface TransferResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The response body; the caller must consume or destroy it. */
  body: http.IncomingMessage;
}

export interface TransferRequest {
  method: 'GET' | 'PUT';
  url: string;
  headers?: Record<string, string | number>;
  /** Streamed request body; Content-Length must be set in headers. */
  body?: Readable;
  signal?: AbortSignal;
  /** Socket idle timeout (default 60 s). */
  idleTimeoutMs?: number;
}

export function transfer(req: TransferRequest): Promise<TransferResponse> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(req.url);
    } catch (err) {
      reject(err);
      return;
    }
    const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!lib) {
      reject(new Error(`unsupported URL scheme ${u.protocol}`));
      return;
    }
    const idle = req.idleTimeoutMs ?? 60_000;
    const r = lib.request(u, {
      method: req.method,
      headers: req.headers,
      agent: false,
      ...(req.signal ? { signal: req.signal } : {}),
    });
    r.setTimeout(idle, () => {
      const err = Object.assign(new Error(`no data for ${Math.round(idle / 1000)} s`), { code: 'ETIMEDOUT' });
      r.destroy(err);
    });
    r.once('error', (err) => {
      req.body?.destroy();
      reject(err);
    });
    r.once('response', (res) => {
      // The body stream may still be pushing (an early error answer); stop reading the file.
      if (req.body && !req.body.readableEnded) req.body.unpipe(r);
      res.setTimeout(idle, () => {
        res.destroy(
          Object.assign(new Error(`no data for ${Math.round(idle / 1000)} s`), { code: 'ETIMEDOUT' }),
        );
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    if (req.body) {
      req.body.once('error', (err) => r.destroy(err));
      req.body.pipe(r);
    } else {
      r.end();
    }
  });
}

/** Reads a (small) response body as text, at most `limit` bytes. */
export async function readText(body: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    if (n < limit) chunks.push(b.subarray(0, limit - n));
    n += b.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `<Code>X</Code><Message>Y</Message>` of an S3-style XML error, if there is one. */
export function s3ErrorSummary(text: string): string | undefined {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  if (!code && !message) return undefined;
  return [code, message].filter(Boolean).join(': ');
}
