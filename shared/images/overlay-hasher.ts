import { createHash } from 'node:crypto';
import { checkSize } from './delta-fields';
import { invalidArgument } from './errors';
import { zeros } from './extents';
import type { RandomAccessDisk } from './random-access-disk';

const MiB = 1024 * 1024;

/**
 * SHA-256 of a base disk overlaid with extents given in ascending order: the bytes between extents
 * come from the base (mapped-zero ranges are never read; past the base's end the result is zero).
 * A Lambda that writes a delta while reading the base from S3 (#3 random-access readers) gets the
 * resulting disk's hash without reading the cloud disk whole.
 */
export class OverlayHasher {
  private readonly hash = createHash('sha256');
  private pos = 0;

  constructor(
    private readonly base: RandomAccessDisk | undefined,
    readonly virtualSize: number,
    private readonly chunkSize = 4 * MiB,
  ) {
    checkSize(virtualSize, 'OverlayHasher virtualSize');
  }

  private hashZeros(length: number): void {
    for (let left = length; left > 0; left -= MiB) this.hash.update(zeros(Math.min(left, MiB)));
  }

  /** Hashes the base's bytes from where the last extent ended up to `to`. */
  async advanceTo(to: number): Promise<void> {
    if (to < this.pos || to > this.virtualSize) {
      throw invalidArgument(
        `OverlayHasher: cannot move from ${this.pos} to ${to} (virtual size ${this.virtualSize}); extents must ascend`,
      );
    }
    const inBase = Math.min(to, this.base?.capacity ?? 0);
    if (this.base && this.pos < inBase) {
      for await (const r of this.base.map(this.pos, inBase - this.pos)) {
        if (r.zero) {
          this.hashZeros(r.length);
          continue;
        }
        for (let off = r.offset; off < r.offset + r.length; off += this.chunkSize) {
          this.hash.update(await this.base.read(off, Math.min(this.chunkSize, r.offset + r.length - off)));
        }
      }
    }
    this.hashZeros(to - Math.max(this.pos, inBase));
    this.pos = to;
  }

  /** Bytes of the overlay at the current position. */
  data(chunk: Buffer): void {
    if (this.pos + chunk.length > this.virtualSize) {
      throw invalidArgument(
        `OverlayHasher: data at ${this.pos} runs past the virtual size ${this.virtualSize}`,
      );
    }
    this.hash.update(chunk);
    this.pos += chunk.length;
  }

  zero(length: number): void {
    if (this.pos + length > this.virtualSize) {
      throw invalidArgument(
        `OverlayHasher: zeros at ${this.pos} run past the virtual size ${this.virtualSize}`,
      );
    }
    this.hashZeros(length);
    this.pos += length;
  }

  /** Hashes the rest of the base and returns the hex digest. */
  async digest(): Promise<string> {
    await this.advanceTo(this.virtualSize);
    return this.hash.digest('hex');
  }
}
