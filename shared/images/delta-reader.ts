/**
 * Reading a delta front to back (README.md, "Delta artifact"): every record, extent hash and the
 * trailer checked as they pass, with memory bounded by one data piece.
 */
import { createHash } from 'node:crypto';
import { ByteReader } from './byte-reader';
import { ImageError } from './errors';
import { crcOk, readU64, TAG_DATA, TAG_TAIL, TAG_ZERO } from './delta-fields';
import { invalidArgument } from './errors';
import {
  DEFAULT_DELTA_LIMITS,
  DELTA_HASH_BYTES,
  DELTA_HEADER_BYTES,
  DELTA_RECORD_BYTES,
  DELTA_TRAILER_BYTES,
  parseDeltaHeader,
  type DeltaHeader,
  type DeltaTrailer,
  type ReadDeltaOptions,
} from './delta-format';

const MiB = 1024 * 1024;

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
  const limits = { ...DEFAULT_DELTA_LIMITS, ...opts };
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
