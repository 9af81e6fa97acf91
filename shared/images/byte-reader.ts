import { ImageError } from './errors';

/**
 * Pulls exact byte counts out of an async stream of arbitrarily sized chunks (1-byte chunks work).
 * Internal helper: every parser in this module reads its input through one of these.
 */
export class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  /** Bytes handed out (read or skipped) so far: the offset of the next byte in the input. */
  position = 0;

  constructor(
    input: AsyncIterable<Buffer>,
    private readonly what = 'input',
  ) {
    this.it = input[Symbol.asyncIterator]();
  }

  /** Makes at least n bytes available if the input has them; returns whether it does. */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const chunk = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
      if (chunk.length > 0) {
        this.chunks.push(chunk);
        this.buffered += chunk.length;
      }
    }
    return this.buffered >= n;
  }

  get available(): number {
    return this.buffered;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first !== undefined && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let got = 0;
      let i = 0;
      while (got < n) {
        const c = this.chunks[i]!;
        const use = Math.min(c.length, n - got);
        c.copy(out, got, 0, use);
        got += use;
        if (use === c.length) i++;
        else this.chunks[i] = c.subarray(use);
      }
      // one splice instead of a shift per chunk: 1-byte chunks stay linear
      this.chunks.splice(0, i);
    }
    this.buffered -= n;
    this.position += n;
    return out;
  }

  /** Exactly n bytes, or BG_IMAGE_TRUNCATED naming `context` and the offset. */
  async read(n: number, context: string): Promise<Buffer> {
    if (!(await this.fill(n))) throw this.truncated(n, context);
    return this.take(n);
  }

  /** Up to n bytes; fewer only at the end of the input (empty buffer at the end). */
  async readUpTo(n: number): Promise<Buffer> {
    await this.fill(n);
    return this.take(Math.min(n, this.buffered));
  }

  /** Whatever is buffered (or the next chunk), at most max bytes; empty only at the end. */
  async readSome(max: number): Promise<Buffer> {
    if (this.buffered === 0) await this.fill(1);
    return this.take(Math.min(max, this.buffered));
  }

  /** Discards exactly n bytes without holding them, or BG_IMAGE_TRUNCATED. */
  async skip(n: number, context: string): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.fill(1))) throw this.truncated(left, context);
      const c = this.chunks[0]!;
      const use = Math.min(c.length, left);
      if (use === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(use);
      this.buffered -= use;
      this.position += use;
      left -= use;
    }
  }

  /** Closes the underlying iterator (file handles, sockets) without reading further. */
  async close(): Promise<void> {
    this.chunks = [];
    this.buffered = 0;
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }

  truncated(wanted: number, context: string): ImageError {
    return new ImageError(
      'BG_IMAGE_TRUNCATED',
      `${this.what} ends early: needed ${wanted} more byte(s) for ${context} at byte offset ${this.position + this.buffered} but the input ended at byte ${this.position + this.buffered}; the file is incomplete (interrupted upload or copy?) — transfer it again`,
    );
  }
}
