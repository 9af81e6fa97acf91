/**
 * The delta artifact of a return (#4 Azure, #5 AWS): the ranges a VM changed in the cloud, published
 * in S3 by a Lambda and applied on-prem to the original image by the CLI. Only changed bytes cross
 * the WAN. The format (README.md, "Delta artifact") is written front to back without knowing any
 * hash before its data has passed — each extent's SHA-256 follows its data and the resulting disk's
 * SHA-256 comes in the trailer — so a Lambda can stream it into an S3 multipart upload; it is read
 * front to back too, each extent verified as it ends, the whole disk at the end.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { ByteReader } from './byte-reader';
import { WRITERS, withImageFile, type ConvertTarget } from './convert';
import { detectImageFormat, type ImageFormat } from './detect';
import { ImageError } from './errors';
import { normalizeExtents, splitZeroBlocks, zeros, type DiskExtent, type DiskStream } from './extents';
import { listOvaEntries, subSource, writeOva } from './ova';
import { parseOvf } from './ovf-parse';
import type { OvfHardware } from './ovf-profile';
import { openRandomAccess } from './random-access';
import type { RandomAccessDisk } from './random-access-disk';
import { fileSource, type ByteSource } from './source';
import { resolveInDirectory } from './vmdk-flat';

/** Version written in the header; readers refuse others (BG_DELTA_UNSUPPORTED_VERSION). */
export const DELTA_FORMAT_VERSION = 1;
/** The first 8 bytes of every delta file. */
export const DELTA_MAGIC = Buffer.from('BGDELTA\n', 'latin1');
/** Bytes of the file header, of an extent record header, of an extent's SHA-256 and of the trailer. */
export const DELTA_HEADER_BYTES = 72;
export const DELTA_RECORD_BYTES = 32;
export const DELTA_HASH_BYTES = 32;
export const DELTA_TRAILER_BYTES = 72;

const TAG_DATA = 'DATA';
const TAG_ZERO = 'ZERO';
const TAG_TAIL = 'TAIL';
const FLAG_BASE_SHA256 = 1;
const FLAG_BASE_CAPACITY = 2;
const KNOWN_FLAGS = FLAG_BASE_SHA256 | FLAG_BASE_CAPACITY;
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const HEX64 = /^[0-9a-f]{64}$/;

/** What the header says: the disk to rebuild and, optionally, the base it must be applied to. */
export interface DeltaHeader {
  version: number;
  /** Virtual size in bytes of the resulting disk (may differ from the base's: a grown disk). */
  virtualSize: number;
  /** Virtual size of the base the delta was taken against, when the writer knew it. */
  baseCapacity?: number;
  /** SHA-256 (hex) of the base's logical content (as `hashDisk`), when the writer knew it. */
  baseSha256?: string;
}

/** What the trailer says, checked against what was read. */
export interface DeltaTrailer {
  extents: number;
  /** Bytes carried as data. */
  dataBytes: number;
  /** Bytes declared zero by zero extents (carried as a length only). */
  zeroBytes: number;
  /** SHA-256 (hex) of the resulting disk's logical content, zeros included (as `hashDisk`). */
  resultSha256: string;
}

export interface DeltaLimits {
  /** Most extent records accepted (default 4 Mi). */
  maxExtents?: number;
  /** Longest extent accepted, data or zero (default 1 TiB). */
  maxExtentBytes?: number;
  /** Largest virtual size (and base capacity) accepted (default 64 TiB, as the image readers). */
  maxVirtualSize?: number;
}

export interface ReadDeltaOptions extends DeltaLimits {
  /** Largest data piece handed out at a time (default 1 MiB): the reader's memory bound. */
  chunkSize?: number;
  /** Name used in error messages (a path, an S3 key; default "delta"). */
  name?: string;
}

const DEFAULT_LIMITS: Required<DeltaLimits> = {
  maxExtents: 4 * 1024 * 1024,
  maxExtentBytes: TiB,
  maxVirtualSize: 64 * TiB,
};

function invalidArgument(message: string): ImageError {
  return new ImageError('BG_IMAGE_INVALID_ARGUMENT', message);
}

function checkSize(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${what} must be a non-negative safe integer number of bytes, got ${value}`);
  }
}

function checkHex(value: string, what: string): void {
  if (!HEX64.test(value)) throw invalidArgument(`${what} must be 64 lowercase hex digits, got "${value}"`);
}

/** CRC-32 (IEEE, as zlib and `python -c 'zlib.crc32'` compute it) of buf[0..at) stored at `at`. */
function sealCrc(buf: Buffer, at: number): Buffer {
  buf.writeUInt32BE(crc32(buf.subarray(0, at)) >>> 0, at);
  return buf;
}

function crcOk(buf: Buffer, at: number): boolean {
  return crc32(buf.subarray(0, at)) >>> 0 === buf.readUInt32BE(at);
}

function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeBigUInt64BE(BigInt(value), at);
}

/** A u64 field as a safe integer, or undefined when it is past 2^53 (no disk is that large). */
function readU64(buf: Buffer, at: number): number | undefined {
  const v = buf.readBigUInt64BE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}

/** The bytes of a header. */
export function encodeDeltaHeader(h: Omit<DeltaHeader, 'version'>): Buffer {
  checkSize(h.virtualSize, 'delta virtualSize');
  if (h.baseCapacity !== undefined) checkSize(h.baseCapacity, 'delta baseCapacity');
  if (h.baseSha256 !== undefined) checkHex(h.baseSha256, 'delta baseSha256');
  const b = Buffer.alloc(DELTA_HEADER_BYTES);
  DELTA_MAGIC.copy(b, 0);
  b.writeUInt32BE(DELTA_FORMAT_VERSION, 8);
  const flags =
    (h.baseSha256 !== undefined ? FLAG_BASE_SHA256 : 0) |
    (h.baseCapacity !== undefined ? FLAG_BASE_CAPACITY : 0);
  b.writeUInt32BE(flags, 12);
  writeU64(b, h.virtualSize, 16);
  writeU64(b, h.baseCapacity ?? 0, 24);
  if (h.baseSha256 !== undefined) Buffer.from(h.baseSha256, 'hex').copy(b, 32);
  return sealCrc(b, 68);
}

/** Parses and checks a header (magic, version, CRC, flags, limits). */
export function parseDeltaHeader(b: Buffer, opts: ReadDeltaOptions = {}): DeltaHeader {
  const name = opts.name ?? 'delta';
  const limits = { ...DEFAULT_LIMITS, ...opts };
  const bad = (why: string) =>
    new ImageError(
      'BG_DELTA_BAD_HEADER',
      `${name}: ${why}; this is not a burstgate delta, or it is damaged — download it again`,
    );
  if (b.length < DELTA_HEADER_BYTES)
    throw bad(`the header is ${b.length} bytes, expected ${DELTA_HEADER_BYTES}`);
  if (!b.subarray(0, 8).equals(DELTA_MAGIC)) {
    throw bad(
      `it does not start with "BGDELTA\\n" (found ${JSON.stringify(b.subarray(0, 8).toString('latin1'))})`,
    );
  }
  const version = b.readUInt32BE(8);
  if (version !== DELTA_FORMAT_VERSION) {
    throw new ImageError(
      'BG_DELTA_UNSUPPORTED_VERSION',
      `${name}: delta format version ${version}; this burstgate reads version ${DELTA_FORMAT_VERSION} — use the burstgate release that made the delta, or a newer one`,
    );
  }
  if (!crcOk(b, 68)) throw bad('the header checksum (CRC-32 at byte 68) does not match');
  const flags = b.readUInt32BE(12);
  if ((flags & ~KNOWN_FLAGS) !== 0) throw bad(`unknown header flags 0x${flags.toString(16)}`);
  if (b.readUInt32BE(64) !== 0) throw bad('reserved header bytes 64..68 are not zero');
  const virtualSize = readU64(b, 16);
  const baseCapacity = readU64(b, 24);
  for (const [what, v] of [
    ['virtual size', virtualSize],
    ['base capacity', flags & FLAG_BASE_CAPACITY ? baseCapacity : 0],
  ] as const) {
    if (v === undefined || v > limits.maxVirtualSize) {
      throw new ImageError(
        'BG_DELTA_LIMIT',
        `${name}: the delta's ${what} ${b.readBigUInt64BE(what === 'virtual size' ? 16 : 24)} bytes is over maxVirtualSize (${limits.maxVirtualSize}); raise the option if the disk is really that large`,
      );
    }
  }
  if (!(flags & FLAG_BASE_CAPACITY) && b.readBigUInt64BE(24) !== 0n)
    throw bad('a base capacity without its flag');
  const sha = b.subarray(32, 64);
  if (!(flags & FLAG_BASE_SHA256) && !sha.equals(zeros(32))) throw bad('a base SHA-256 without its flag');
  return {
    version,
    virtualSize: virtualSize!,
    ...(flags & FLAG_BASE_CAPACITY ? { baseCapacity: baseCapacity! } : {}),
    ...(flags & FLAG_BASE_SHA256 ? { baseSha256: sha.toString('hex') } : {}),
  };
}

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
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
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

/** A piece of a delta as read: data (at most `chunkSize` bytes) or a zero extent. */
export type DeltaPiece =
  /** `extentEnd`: the last piece of its extent, yielded only after the extent's SHA-256 matched. */
  | { kind: 'data'; offset: number; data: Buffer; extentEnd: boolean }
  | { kind: 'zero'; offset: number; length: number };

export interface DeltaReader {
  readonly header: DeltaHeader;
  /**
   * The extents' pieces in ascending order; consumed once. Record checksums, order, bounds and limits
   * are checked as records arrive, each extent's SHA-256 before its last piece is handed out, the
   * trailer's counts and the end of the input after the last one.
   */
  readonly pieces: AsyncIterable<DeltaPiece>;
  /** The trailer, once `pieces` has been read to its end. */
  trailer(): DeltaTrailer | undefined;
  /** Stops reading (closes the input) without reading further. */
  close(): Promise<void>;
}

/** Opens a delta read front to back: the header is read and checked before this resolves. */
export async function readDelta(
  src: AsyncIterable<Buffer>,
  opts: ReadDeltaOptions = {},
): Promise<DeltaReader> {
  const name = opts.name ?? 'delta';
  const limits = { ...DEFAULT_LIMITS, ...opts };
  const chunkSize = opts.chunkSize ?? MiB;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw invalidArgument(`readDelta: chunkSize must be a positive integer, got ${chunkSize}`);
  }
  const r = new ByteReader(src, name);
  const need = async (n: number, context: string): Promise<Buffer> => {
    if (!(await r.fill(n))) {
      const at = r.position + r.available;
      await r.close();
      throw new ImageError(
        'BG_DELTA_TRUNCATED',
        `${name} ends early: ${context} at byte ${r.position} needs ${n} bytes but the input ended at byte ${at}; the download was cut — fetch the delta again`,
      );
    }
    return r.read(n, context);
  };
  let header: DeltaHeader;
  try {
    header = parseDeltaHeader(await need(DELTA_HEADER_BYTES, 'the header'), opts);
  } catch (err) {
    await r.close();
    throw err;
  }
  let trailer: DeltaTrailer | undefined;
  const badRecord = (at: number, why: string) =>
    new ImageError(
      'BG_DELTA_BAD_RECORD',
      `${name}: record at byte ${at}: ${why}; the delta is damaged — fetch it again`,
    );

  async function* pieces(): AsyncGenerator<DeltaPiece> {
    let pos = 0;
    const counts = { extents: 0, dataBytes: 0, zeroBytes: 0 };
    try {
      for (;;) {
        const at = r.position;
        const rec = await need(DELTA_RECORD_BYTES, 'an extent record or the trailer');
        const tag = rec.subarray(0, 4).toString('latin1');
        if (tag === TAG_TAIL) {
          const t = Buffer.concat([rec, await need(DELTA_TRAILER_BYTES - DELTA_RECORD_BYTES, 'the trailer')]);
          const bad = (why: string) =>
            new ImageError(
              'BG_DELTA_BAD_TRAILER',
              `${name}: trailer at byte ${at}: ${why}; the delta is damaged — fetch it again`,
            );
          if (!crcOk(t, 68)) throw bad('its checksum (CRC-32 at byte 68 of the trailer) does not match');
          if (t.readUInt32BE(4) !== 0 || t.readUInt32BE(64) !== 0) throw bad('reserved bytes are not zero');
          const declared = { extents: readU64(t, 8), dataBytes: readU64(t, 16), zeroBytes: readU64(t, 24) };
          for (const key of ['extents', 'dataBytes', 'zeroBytes'] as const) {
            if (declared[key] !== counts[key]) {
              throw bad(
                `it declares ${key} ${t.readBigUInt64BE(key === 'extents' ? 8 : key === 'dataBytes' ? 16 : 24)} but the delta holds ${counts[key]}; records are missing`,
              );
            }
          }
          if (!(await r.atEnd())) {
            throw new ImageError(
              'BG_DELTA_TRAILING_DATA',
              `${name}: data after the trailer at byte ${r.position}; the file is not one delta (two concatenated, or junk appended)`,
            );
          }
          trailer = { ...counts, resultSha256: t.subarray(32, 64).toString('hex') };
          return;
        }
        if (tag !== TAG_DATA && tag !== TAG_ZERO) {
          throw badRecord(at, `unknown record type ${JSON.stringify(tag)} (expected DATA, ZERO or TAIL)`);
        }
        if (!crcOk(rec, 28))
          throw badRecord(at, 'its checksum (CRC-32 at byte 28 of the record) does not match');
        if (rec.readUInt32BE(4) !== 0 || rec.readUInt32BE(24) !== 0)
          throw badRecord(at, 'reserved bytes are not zero');
        const offset = readU64(rec, 8);
        const length = readU64(rec, 16);
        if (
          offset === undefined ||
          length === undefined ||
          length === 0 ||
          offset + length > header.virtualSize
        ) {
          throw badRecord(
            at,
            `extent ${rec.readBigUInt64BE(8)}+${rec.readBigUInt64BE(16)} is empty or runs past the virtual size ${header.virtualSize}`,
          );
        }
        if (offset < pos) {
          throw badRecord(
            at,
            `extent at ${offset} starts before the previous one ended (${pos}); extents must ascend`,
          );
        }
        if (length > limits.maxExtentBytes) {
          throw new ImageError(
            'BG_DELTA_LIMIT',
            `${name}: record at byte ${at}: extent of ${length} bytes is over maxExtentBytes (${limits.maxExtentBytes}); raise the option if it is genuine`,
          );
        }
        if (counts.extents + 1 > limits.maxExtents) {
          throw new ImageError(
            'BG_DELTA_LIMIT',
            `${name}: more than maxExtents (${limits.maxExtents}) extents; raise the option if the delta is genuine`,
          );
        }
        counts.extents++;
        pos = offset + length;
        if (tag === TAG_ZERO) {
          counts.zeroBytes += length;
          yield { kind: 'zero', offset, length };
          continue;
        }
        const h = createHash('sha256');
        for (let done = 0; done < length;) {
          const n = Math.min(chunkSize, length - done);
          const data = await need(n, `the data of the extent at ${offset}`);
          h.update(data);
          done += n;
          counts.dataBytes += n;
          if (done < length) {
            yield { kind: 'data', offset: offset + done - n, data, extentEnd: false };
            continue;
          }
          const stored = await need(DELTA_HASH_BYTES, `the SHA-256 of the extent at ${offset}`);
          const computed = h.digest();
          if (!computed.equals(stored)) {
            throw new ImageError(
              'BG_DELTA_EXTENT_MISMATCH',
              `${name}: the extent ${offset}+${length} (record at byte ${at}) has SHA-256 ${computed.toString('hex')} but the delta says ${stored.toString('hex')}; the delta is damaged — fetch it again`,
            );
          }
          yield { kind: 'data', offset: offset + done - n, data, extentEnd: true };
        }
      }
    } finally {
      await r.close();
    }
  }
  return { header, pieces: pieces(), trailer: () => trailer, close: () => r.close() };
}

/** Reads a whole delta, checking everything but the result hash (which needs the base). */
export async function verifyDelta(
  src: AsyncIterable<Buffer>,
  opts: ReadDeltaOptions = {},
): Promise<{ header: DeltaHeader; trailer: DeltaTrailer }> {
  const d = await readDelta(src, opts);
  for await (const _ of d.pieces) {
    // every check happens as the pieces pass
  }
  return { header: d.header, trailer: d.trailer()! };
}

/** Fails with BG_DELTA_WRONG_BASE when `base` is not the disk the delta was taken against. */
export async function checkDeltaBase(
  header: DeltaHeader,
  base: RandomAccessDisk,
  opts: { name?: string; hash?: boolean } = {},
): Promise<void> {
  const name = opts.name ?? 'base';
  if (header.baseCapacity !== undefined && header.baseCapacity !== base.capacity) {
    throw new ImageError(
      'BG_DELTA_WRONG_BASE',
      `${name} is a ${base.capacity}-byte disk but the delta was taken against a ${header.baseCapacity}-byte disk; pass the image the VM was offloaded from`,
    );
  }
  if (header.baseSha256 !== undefined && (opts.hash ?? true)) {
    const h = new OverlayHasher(base, base.capacity);
    const sha = await h.digest();
    if (sha !== header.baseSha256) {
      throw new ImageError(
        'BG_DELTA_WRONG_BASE',
        `${name} has content SHA-256 ${sha} but the delta was taken against ${header.baseSha256}; pass the image the VM was offloaded from`,
      );
    }
  }
}

export interface ApplySummary {
  /** SHA-256 (hex) of the resulting disk, equal to the delta's `resultSha256`. */
  sha256: string;
  extents: number;
  /** Bytes taken from the delta's data extents. */
  bytesApplied: number;
  /** Bytes set to zero by zero extents. */
  zeroBytes: number;
}

export interface AppliedDelta extends DiskStream {
  /** Set once the extents have been read to their end and the result's SHA-256 matched. */
  summary(): ApplySummary | undefined;
}

/**
 * The resulting disk as a stream: the base's bytes where the delta has no extent (mapped-zero
 * ranges are not read; past the base's end, zeros), the delta's data where it has one (zero-detected
 * in 64 KiB blocks), zero extents as zero extents. Memory: one delta piece or one base chunk. A base
 * of the wrong size fails at once (BG_DELTA_WRONG_BASE; its hash is `checkDeltaBase`'s job); a bad
 * extent fails before its last piece, a wrong result (BG_DELTA_RESULT_MISMATCH) at the end — errors
 * surface from the iteration, so a writer must not keep what it wrote (see `writeFileAtomically`).
 */
export function applyDelta(
  base: RandomAccessDisk,
  delta: DeltaReader,
  opts: { chunkSize?: number; name?: string } = {},
): AppliedDelta {
  const capacity = delta.header.virtualSize;
  const chunkSize = opts.chunkSize ?? 4 * MiB;
  if (delta.header.baseCapacity !== undefined && delta.header.baseCapacity !== base.capacity) {
    throw new ImageError(
      'BG_DELTA_WRONG_BASE',
      `${opts.name ?? 'base'} is a ${base.capacity}-byte disk but the delta was taken against a ${delta.header.baseCapacity}-byte disk; pass the image the VM was offloaded from`,
    );
  }
  let summary: ApplySummary | undefined;

  async function* fromBase(from: number, to: number): AsyncGenerator<DiskExtent> {
    const inBase = Math.min(to, base.capacity);
    if (from < inBase) {
      for await (const r of base.map(from, inBase - from)) {
        if (r.zero) {
          yield { kind: 'zero', offset: r.offset, length: r.length };
          continue;
        }
        for (let off = r.offset; off < r.offset + r.length; off += chunkSize) {
          yield* splitZeroBlocks(await base.read(off, Math.min(chunkSize, r.offset + r.length - off)), off);
        }
      }
    }
    const zeroFrom = Math.max(from, inBase);
    if (zeroFrom < to) yield { kind: 'zero', offset: zeroFrom, length: to - zeroFrom };
  }

  async function* merged(): AsyncGenerator<DiskExtent> {
    let pos = 0;
    for await (const p of delta.pieces) {
      if (p.offset > pos) yield* fromBase(pos, p.offset);
      if (p.kind === 'zero') {
        yield { kind: 'zero', offset: p.offset, length: p.length };
        pos = p.offset + p.length;
      } else {
        yield* splitZeroBlocks(p.data, p.offset);
        pos = p.offset + p.data.length;
      }
    }
    if (pos < capacity) yield* fromBase(pos, capacity);
  }

  async function* verified(): AsyncGenerator<DiskExtent> {
    const h = createHash('sha256');
    for await (const e of normalizeExtents(merged(), capacity, 'delta applied to its base')) {
      if (e.kind === 'data') h.update(e.data);
      else for (let left = e.length; left > 0; left -= MiB) h.update(zeros(Math.min(left, MiB)));
      yield e;
    }
    const t = delta.trailer()!;
    const sha = h.digest('hex');
    if (sha !== t.resultSha256) {
      throw new ImageError(
        'BG_DELTA_RESULT_MISMATCH',
        `the disk rebuilt from ${opts.name ?? 'the base'} and the delta has SHA-256 ${sha} but the delta expects ${t.resultSha256}; the base differs from the one the delta was taken against (in bytes the delta did not change), or the delta is wrong — nothing was kept`,
      );
    }
    summary = { sha256: sha, extents: t.extents, bytesApplied: t.dataBytes, zeroBytes: t.zeroBytes };
  }

  return { capacity, extents: verified(), summary: () => summary };
}

/**
 * Runs `write(tmpPath)` and renames the temporary file to `path` only when it succeeds; on any error
 * the temporary file is removed, so `path` is either the complete output or untouched.
 */
export async function writeFileAtomically<T>(
  path: string,
  write: (tmpPath: string) => Promise<T>,
): Promise<T> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  try {
    const result = await write(tmp);
    await rename(tmp, path);
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** A base image opened for random access; for an OVA, its first disk and its descriptor. */
export interface OpenedBase {
  disk: RandomAccessDisk;
  format: ImageFormat;
  /** For an OVA base: what its descriptor says (the VM profile an OVA output keeps). */
  ovf?: OvfHardware;
  /** For an OVA base: the disk's file name inside it. */
  diskFileName?: string;
  close(): Promise<void>;
}

const MAX_OVF_BYTES = 16 * MiB;

/**
 * Opens an image file for random access in any format `openRandomAccess` reads; a VMDK descriptor's
 * extent files are looked up next to it; an OVA's first disk is opened in place (no copy).
 */
export async function openBaseImage(path: string): Promise<OpenedBase> {
  const src = await fileSource(path);
  const opened: ByteSource[] = [src];
  const close = async () => {
    for (const s of opened) await s.close();
  };
  try {
    const head = await src.read(0, Math.min(64 * 1024, src.size));
    const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : undefined;
    const format = detectImageFormat(head, src.size, tail);
    if (format !== 'ova') {
      const resolveNext = resolveInDirectory(dirname(resolvePath(path)));
      const disk = await openRandomAccess(src, {
        format,
        resolve: async (name) => {
          const s = await resolveNext(name);
          opened.push(s);
          return s;
        },
      });
      return { disk, format, close };
    }
    const entries = await listOvaEntries(src);
    const first = entries[0];
    if (!first || !first.name.toLowerCase().endsWith('.ovf')) {
      const ovf = entries.find((e) => e.name.toLowerCase().endsWith('.ovf'));
      throw new ImageError(
        ovf ? 'BG_OVA_DESCRIPTOR_NOT_FIRST' : 'BG_OVA_NO_DESCRIPTOR',
        `${path}: ${ovf ? `the descriptor "${ovf.name}" is not the first entry` : 'no .ovf descriptor'}; this is not an OVA as VMware writes them — pass the disk image itself as the base`,
      );
    }
    if (first.size > MAX_OVF_BYTES) {
      throw new ImageError('BG_OVA_LIMIT', `${path}: the descriptor is over ${MAX_OVF_BYTES} bytes`);
    }
    const ovf = parseOvf((await src.read(first.offset, first.size)).toString('utf8'));
    const href = ovf.profile.disks.find((d) => d.href !== undefined)?.href;
    if (href === undefined) throw new ImageError('BG_OVA_NO_DISK', `${path}: the OVF names no disk file`);
    const entry = entries.find((e) => e.name === href);
    if (!entry) {
      throw new ImageError(
        'BG_OVA_MISSING_DISK',
        `${path}: the OVF's first disk "${href}" is not in the archive`,
      );
    }
    const disk = await openRandomAccess(subSource(src, entry.offset, entry.size, `${path}:${href}`));
    return { disk, format, ovf, diskFileName: href, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface RebuildFromDeltaOptions extends DeltaLimits {
  /** The on-prem original the VM was offloaded from: any format `openBaseImage` reads. */
  base: string;
  /** The delta: a file (checked whole before anything is written) or a stream (checked as it is applied). */
  delta: AsyncIterable<Buffer> | string;
  out: string;
  /** Output format (default streamOptimized VMDK). */
  to?: ConvertTarget | 'ova';
  /** Hash the base before writing when the delta names its SHA-256 (default true). */
  checkBase?: boolean;
  /** Read the written file back and compare its content hash (default true). */
  verifyOutput?: boolean;
  /** OVA output from a non-OVA base: the VM's name (default: the output file's name). */
  vmName?: string;
  /** Where writeOva stages its VMDK (default os.tmpdir()). */
  tmpDir?: string;
}

export interface RebuildResult {
  /** SHA-256 of the rebuilt disk's content, verified against the delta. */
  sha256: string;
  bytesApplied: number;
  zeroBytes: number;
  extents: number;
  virtualSize: number;
  baseFormat: ImageFormat;
  outputBytes: number;
}

/**
 * `burstgate return --base --out --to`: the base image with the delta applied, written as `to`.
 * Nothing is written until the delta (when it is a file) and the base have been checked; the output
 * appears under its name only when complete and verified.
 */
export async function rebuildFromDelta(opts: RebuildFromDeltaOptions): Promise<RebuildResult> {
  const to = opts.to ?? 'vmdk-stream';
  const writer = to === 'ova' ? undefined : WRITERS[to];
  if (to !== 'ova' && !writer) {
    throw new ImageError(
      'BG_IMAGE_UNSUPPORTED_FORMAT',
      `cannot write "${to}" (supported: ova, ${Object.keys(WRITERS).join(', ')})`,
    );
  }
  if (resolvePath(opts.out) === resolvePath(opts.base)) {
    throw invalidArgument(`the output ${opts.out} is the base image; write the rebuilt disk elsewhere`);
  }
  const limits: DeltaLimits = {
    ...(opts.maxExtents !== undefined ? { maxExtents: opts.maxExtents } : {}),
    ...(opts.maxExtentBytes !== undefined ? { maxExtentBytes: opts.maxExtentBytes } : {}),
    ...(opts.maxVirtualSize !== undefined ? { maxVirtualSize: opts.maxVirtualSize } : {}),
  };
  const deltaName = typeof opts.delta === 'string' ? opts.delta : 'delta';
  const deltaStream = () =>
    typeof opts.delta === 'string'
      ? (createReadStream(opts.delta, { highWaterMark: MiB }) as AsyncIterable<Buffer>)
      : opts.delta;
  // A delta on disk is checked whole first, so a damaged one fails before the base is even opened.
  if (typeof opts.delta === 'string') await verifyDelta(deltaStream(), { ...limits, name: deltaName });
  const delta = await readDelta(deltaStream(), { ...limits, name: deltaName });
  let base: OpenedBase | undefined;
  try {
    base = await openBaseImage(opts.base);
    await checkDeltaBase(delta.header, base.disk, { name: opts.base, hash: opts.checkBase ?? true });
    const applied = applyDelta(base.disk, delta, { name: opts.base });
    const opened = base;
    const outputBytes = await writeFileAtomically(opts.out, async (tmp) => {
      if (writer) {
        await writer(applied, tmp, {});
      } else {
        const profile = opened.ovf?.profile;
        const diskName =
          opened.diskFileName && /^[A-Za-z0-9._-]+\.vmdk$/.test(opened.diskFileName)
            ? opened.diskFileName
            : 'disk1.vmdk';
        const controller = profile?.disks.find((d) => d.href === opened.diskFileName)?.controller;
        await pipeline(
          Readable.from(
            writeOva({
              vmName: profile?.name ?? opts.vmName ?? (basename(opts.out, extname(opts.out)) || 'vm'),
              ...(profile
                ? {
                    vcpus: profile.vcpus,
                    memoryBytes: profile.memoryBytes,
                    firmware: profile.firmware,
                    nics: profile.nics,
                    ...(profile.osType ? { osType: profile.osType } : {}),
                  }
                : {}),
              disks: [{ fileName: diskName, disk: applied, ...(controller ? { controller } : {}) }],
              ...(opts.tmpDir !== undefined ? { tmpDir: opts.tmpDir } : {}),
            }),
          ),
          createWriteStream(tmp),
        );
      }
      const s = applied.summary();
      if (!s)
        throw new ImageError(
          'BG_IMAGE_STREAM_STATE',
          `${opts.out}: the writer stopped before the end of the disk`,
        );
      if (opts.verifyOutput ?? true) {
        const written = await withImageFile(
          tmp,
          async (disk) => {
            for await (const _ of disk.extents) {
              // hashed as it passes
            }
          },
          { hash: true },
        );
        if (written.sha256 !== s.sha256 || written.capacity !== applied.capacity) {
          throw new ImageError(
            'BG_DELTA_RESULT_MISMATCH',
            `${opts.out}: the written ${to} reads back as ${written.capacity} bytes with SHA-256 ${written.sha256}, not the rebuilt ${applied.capacity} bytes with ${s.sha256}; nothing was kept — report this as a bug`,
          );
        }
      }
      return (await stat(tmp)).size;
    });
    const s = applied.summary()!;
    return {
      sha256: s.sha256,
      bytesApplied: s.bytesApplied,
      zeroBytes: s.zeroBytes,
      extents: s.extents,
      virtualSize: applied.capacity,
      baseFormat: base.format,
      outputBytes,
    };
  } finally {
    await delta.close();
    await base?.close();
  }
}
