/**
 * Writing a delta front to back (README.md, "Delta artifact"): `DeltaWriter` hands out the bytes to
 * append call by call, `writeDelta` turns a list of extents into the file's chunks (an S3 multipart
 * upload, a file), computing the result's SHA-256 on the way when given the base.
 */
import { createHash, type Hash } from 'node:crypto';
import { ImageError, invalidArgument } from './errors';
import { checkHex, checkSize, sealCrc, TAG_DATA, TAG_TAIL, TAG_ZERO, writeU64 } from './delta-fields';
import {
  DEFAULT_DELTA_LIMITS,
  DELTA_RECORD_BYTES,
  DELTA_TRAILER_BYTES,
  encodeDeltaHeader,
  type DeltaLimits,
} from './delta-format';
import { OverlayHasher } from './overlay-hasher';
import type { RandomAccessDisk } from './random-access-disk';

/** A DATA or ZERO record header (its CRC sealed). */
function recordHeader(tag: string, offset: number, length: number): Buffer {
  const b = Buffer.alloc(DELTA_RECORD_BYTES);
  b.write(tag, 0, 'latin1');
  writeU64(b, offset, 8);
  writeU64(b, length, 16);
  return sealCrc(b, 28);
}

export interface DeltaWriterOptions {
  virtualSize: number;
  baseCapacity?: number;
  baseSha256?: string;
  /** Refused on the writer side too, so a Lambda never publishes what the CLI would refuse. */
  limits?: DeltaLimits;
}

/**
 * Push-style writer: each call returns the bytes to append (to an S3 multipart upload, a file).
 * Calls, in order: `header()` once, then per extent either `beginExtent(offset, length)` + `data(...)`
 * until `length` bytes + `endExtent()`, or `zeroExtent(offset, length)`; then `finish(resultSha256)`.
 * Extents must ascend without overlapping. Misuse throws BG_IMAGE_INVALID_ARGUMENT (order, bounds)
 * or BG_IMAGE_STREAM_STATE (data longer or shorter than declared, calls out of turn).
 */
export class DeltaWriter {
  private readonly limits: Required<DeltaLimits>;
  private state: 'new' | 'between' | 'extent' | 'done' = 'new';
  private pos = 0;
  private extentEnd = 0;
  private extentLeft = 0;
  private extentLength = 0;
  private hash: Hash | undefined;
  private counts = { extents: 0, dataBytes: 0, zeroBytes: 0 };
  /** Bytes returned so far (the size of the delta file once finished). */
  bytesOut = 0;

  constructor(private readonly opts: DeltaWriterOptions) {
    this.limits = { ...DEFAULT_DELTA_LIMITS, ...opts.limits };
    checkSize(opts.virtualSize, 'DeltaWriter virtualSize');
    if (opts.virtualSize > this.limits.maxVirtualSize) {
      throw new ImageError(
        'BG_DELTA_LIMIT',
        `DeltaWriter: virtual size ${opts.virtualSize} is over maxVirtualSize (${this.limits.maxVirtualSize})`,
      );
    }
  }

  private out(b: Buffer): Buffer {
    this.bytesOut += b.length;
    return b;
  }

  private expect(state: DeltaWriter['state'], call: string): void {
    if (this.state !== state) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `DeltaWriter.${call}() called out of turn (writer state: ${this.state}); order: header, extents, finish`,
      );
    }
  }

  header(): Buffer {
    this.expect('new', 'header');
    const b = encodeDeltaHeader(this.opts);
    this.state = 'between';
    return this.out(b);
  }

  private checkExtent(offset: number, length: number, call: string): void {
    checkSize(offset, `DeltaWriter.${call} offset`);
    checkSize(length, `DeltaWriter.${call} length`);
    if (length === 0) throw invalidArgument(`DeltaWriter.${call}: an extent at ${offset} of 0 bytes`);
    if (offset < this.pos) {
      throw invalidArgument(
        `DeltaWriter.${call}: extent at ${offset} starts before the previous one ended (${this.pos}); extents must ascend without overlapping`,
      );
    }
    if (offset + length > this.opts.virtualSize) {
      throw invalidArgument(
        `DeltaWriter.${call}: extent ${offset}+${length} runs past the virtual size ${this.opts.virtualSize}`,
      );
    }
    if (length > this.limits.maxExtentBytes) {
      throw new ImageError(
        'BG_DELTA_LIMIT',
        `DeltaWriter.${call}: extent of ${length} bytes is over maxExtentBytes (${this.limits.maxExtentBytes}); split it`,
      );
    }
    if (this.counts.extents + 1 > this.limits.maxExtents) {
      throw new ImageError(
        'BG_DELTA_LIMIT',
        `DeltaWriter.${call}: more than maxExtents (${this.limits.maxExtents}) extents; merge neighbouring ones`,
      );
    }
  }

  /** Starts a data extent of `length` bytes at `offset`; returns its record header. */
  beginExtent(offset: number, length: number): Buffer {
    this.expect('between', 'beginExtent');
    this.checkExtent(offset, length, 'beginExtent');
    this.state = 'extent';
    this.extentEnd = offset + length;
    this.extentLeft = length;
    this.extentLength = length;
    this.hash = createHash('sha256');
    return this.out(recordHeader(TAG_DATA, offset, length));
  }

  /** The next bytes of the current extent (returned as they are, to append). */
  data(chunk: Buffer): Buffer {
    this.expect('extent', 'data');
    if (chunk.length > this.extentLeft) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `DeltaWriter.data: ${chunk.length} bytes but only ${this.extentLeft} are left in the extent ending at ${this.extentEnd}`,
      );
    }
    this.hash!.update(chunk);
    this.extentLeft -= chunk.length;
    return this.out(chunk);
  }

  /** Ends the current extent; returns its SHA-256 (32 bytes). */
  endExtent(): Buffer {
    this.expect('extent', 'endExtent');
    if (this.extentLeft !== 0) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `DeltaWriter.endExtent: ${this.extentLeft} bytes of the extent ending at ${this.extentEnd} were never written`,
      );
    }
    const digest = this.hash!.digest();
    this.hash = undefined;
    this.counts.extents++;
    this.counts.dataBytes += this.extentLength;
    this.pos = this.extentEnd;
    this.state = 'between';
    return this.out(digest);
  }

  /** A whole data extent held in memory: record header, data, SHA-256. */
  extent(offset: number, data: Buffer): Buffer[] {
    const head = this.beginExtent(offset, data.length);
    return [head, this.data(data), this.endExtent()];
  }

  /** A range the result holds as zeros (trimmed or zeroed by the guest): no data, no hash. */
  zeroExtent(offset: number, length: number): Buffer {
    this.expect('between', 'zeroExtent');
    this.checkExtent(offset, length, 'zeroExtent');
    this.counts.extents++;
    this.counts.zeroBytes += length;
    this.pos = offset + length;
    return this.out(recordHeader(TAG_ZERO, offset, length));
  }

  /** The trailer, with the resulting disk's SHA-256 (hex). */
  finish(resultSha256: string): Buffer {
    this.expect('between', 'finish');
    checkHex(resultSha256, 'DeltaWriter.finish resultSha256');
    const b = Buffer.alloc(DELTA_TRAILER_BYTES);
    b.write(TAG_TAIL, 0, 'latin1');
    writeU64(b, this.counts.extents, 8);
    writeU64(b, this.counts.dataBytes, 16);
    writeU64(b, this.counts.zeroBytes, 24);
    Buffer.from(resultSha256, 'hex').copy(b, 32);
    sealCrc(b, 68);
    this.state = 'done';
    return this.out(b);
  }

  /** What has been written so far. */
  get summary(): { extents: number; dataBytes: number; zeroBytes: number } {
    return { ...this.counts };
  }
}

/** One extent handed to `writeDelta`: data in memory, data streamed (length declared), or zeros. */
export type DeltaExtentInput =
  | { kind: 'data'; offset: number; data: Buffer }
  | { kind: 'data'; offset: number; length: number; data: AsyncIterable<Buffer> | Iterable<Buffer> }
  | { kind: 'zero'; offset: number; length: number };

export interface WriteDeltaOptions extends DeltaWriterOptions {
  /** The resulting disk's SHA-256 (hex), or a function asked once every extent has been written. */
  resultSha256?: string | (() => string | Promise<string>);
  /**
   * The base the delta applies to: the resulting disk's SHA-256 is computed on the way (bytes
   * between extents read from it, see OverlayHasher), and `baseCapacity` defaults to its capacity.
   * Exactly one of `resultSha256` and `base` is needed.
   */
  base?: RandomAccessDisk;
}

/**
 * A delta file as a stream of chunks, front to back (feed it to an S3 multipart upload). Extents
 * must ascend without overlapping; a streamed extent must deliver exactly its declared length.
 */
export async function* writeDelta(
  opts: WriteDeltaOptions,
  extents: AsyncIterable<DeltaExtentInput> | Iterable<DeltaExtentInput>,
): AsyncGenerator<Buffer> {
  if ((opts.resultSha256 === undefined) === (opts.base === undefined)) {
    throw invalidArgument('writeDelta: give exactly one of resultSha256 and base (to compute it from)');
  }
  const baseCapacity = opts.baseCapacity ?? opts.base?.capacity;
  const w = new DeltaWriter({ ...opts, ...(baseCapacity !== undefined ? { baseCapacity } : {}) });
  const overlay = opts.base ? new OverlayHasher(opts.base, opts.virtualSize) : undefined;
  yield w.header();
  for await (const e of extents) {
    if (e.kind === 'zero') {
      const rec = w.zeroExtent(e.offset, e.length);
      await overlay?.advanceTo(e.offset);
      overlay?.zero(e.length);
      yield rec;
      continue;
    }
    const length = Buffer.isBuffer(e.data) ? e.data.length : (e as { length: number }).length;
    const head = w.beginExtent(e.offset, length);
    await overlay?.advanceTo(e.offset);
    yield head;
    const parts: AsyncIterable<Buffer> | Iterable<Buffer> = Buffer.isBuffer(e.data) ? [e.data] : e.data;
    for await (const chunk of parts) {
      if (chunk.length === 0) continue;
      const out = w.data(chunk);
      overlay?.data(chunk);
      yield out;
    }
    yield w.endExtent();
  }
  const result =
    overlay !== undefined
      ? await overlay.digest()
      : typeof opts.resultSha256 === 'function'
        ? await opts.resultSha256()
        : opts.resultSha256!;
  yield w.finish(result);
}
