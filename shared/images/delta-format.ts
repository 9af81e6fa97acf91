/**
 * The delta artifact of a return (#4 Azure, #5 AWS): the ranges a VM changed in the cloud, published
 * in S3 by a Lambda and applied on-prem to the original image by the CLI. Only changed bytes cross
 * the WAN. The format (README.md, "Delta artifact") is written front to back without knowing any
 * hash before its data has passed — each extent's SHA-256 follows its data and the resulting disk's
 * SHA-256 comes in the trailer — so a Lambda can stream it into an S3 multipart upload; it is read
 * front to back too, each extent verified as it ends, the whole disk at the end.
 *
 * This module holds the format's constants, header and limits; delta-writer.ts writes it,
 * delta-reader.ts reads it, delta-apply.ts applies it to its base and delta-rebuild.ts is
 * `burstgate return` (base + delta → an image file).
 */
import { ImageError } from './errors';
import { zeros } from './extents';
import { checkHex, checkSize, crcOk, readU64, sealCrc, writeU64 } from './delta-fields';

/** Version written in the header; readers refuse others (BG_DELTA_UNSUPPORTED_VERSION). */
export const DELTA_FORMAT_VERSION = 1;
/** The first 8 bytes of every delta file. */
export const DELTA_MAGIC = Buffer.from('BGDELTA\n', 'latin1');
/** Bytes of the file header, of an extent record header, of an extent's SHA-256 and of the trailer. */
export const DELTA_HEADER_BYTES = 72;
export const DELTA_RECORD_BYTES = 32;
export const DELTA_HASH_BYTES = 32;
export const DELTA_TRAILER_BYTES = 72;

const FLAG_BASE_SHA256 = 1;
const FLAG_BASE_CAPACITY = 2;
const KNOWN_FLAGS = FLAG_BASE_SHA256 | FLAG_BASE_CAPACITY;

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

const TiB = 1024 ** 4;

/** The limits readers and writers apply unless given others (README.md lists them). */
export const DEFAULT_DELTA_LIMITS: Readonly<Required<DeltaLimits>> = Object.freeze({
  maxExtents: 4 * 1024 * 1024,
  maxExtentBytes: TiB,
  maxVirtualSize: 64 * TiB,
});

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
  const limits = { ...DEFAULT_DELTA_LIMITS, ...opts };
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
