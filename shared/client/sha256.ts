/** SHA-256 of a file, streamed (bounded memory), with optional progress. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export async function sha256File(
  path: string,
  opts: { onProgress?: (bytesRead: number) => void; signal?: AbortSignal } = {},
): Promise<string> {
  const hash = createHash('sha256');
  let n = 0;
  const stream = createReadStream(path, {
    highWaterMark: 1024 * 1024,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    hash.update(b);
    n += b.length;
    opts.onProgress?.(n);
  }
  return hash.digest('hex');
}
