/** Byte helpers tests of every kind use: a SHA-256 in hex, and a byte stream gathered into one Buffer. */
import { createHash } from 'node:crypto';

export function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

export async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}
