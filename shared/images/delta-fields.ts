/**
 * Field-level pieces of the delta format (README.md, "Delta artifact") that its writer and reader
 * share: record tags, u64 fields, CRC-32 seals and argument checks. Internal to the delta modules
 * (not in the library's index).
 */
import { crc32 } from 'node:zlib';
import { invalidArgument } from './errors';

export const TAG_DATA = 'DATA';
export const TAG_ZERO = 'ZERO';
export const TAG_TAIL = 'TAIL';

const HEX64 = /^[0-9a-f]{64}$/;

export function checkSize(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(`${what} must be a non-negative safe integer number of bytes, got ${value}`);
  }
}

export function checkHex(value: string, what: string): void {
  if (!HEX64.test(value)) throw invalidArgument(`${what} must be 64 lowercase hex digits, got "${value}"`);
}

/** CRC-32 (IEEE, as zlib and `python -c 'zlib.crc32'` compute it) of buf[0..at) stored at `at`. */
export function sealCrc(buf: Buffer, at: number): Buffer {
  buf.writeUInt32BE(crc32(buf.subarray(0, at)) >>> 0, at);
  return buf;
}

export function crcOk(buf: Buffer, at: number): boolean {
  return crc32(buf.subarray(0, at)) >>> 0 === buf.readUInt32BE(at);
}

export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeBigUInt64BE(BigInt(value), at);
}

/** A u64 field as a safe integer, or undefined when it is past 2^53 (no disk is that large). */
export function readU64(buf: Buffer, at: number): number | undefined {
  const v = buf.readBigUInt64BE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(v);
}
