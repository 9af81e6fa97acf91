/**
 * Dynamic VHD (Microsoft "Virtual Hard Disk Image Format Specification"): a copy of the footer at
 * offset 0, the dynamic disk header ("cxsparse") at footer.dataOffset, the Block Allocation Table
 * (big-endian uint32 sector offsets, 0xFFFFFFFF = not allocated), then blocks (default 2 MiB), each
 * preceded by a sector bitmap (bit set = the sector holds data; MSB of byte 0 is sector 0), and the
 * footer at the end. Differencing disks (type 4) are refused with the parent's name.
 */
import { ImageError } from './errors';
import { zeros, type DiskStream } from './extents';
import type { MappedRange, RandomAccessDisk, RandomAccessOpener } from './random-access-disk';
import { blockTableDisk } from './block-table';
import type { ByteSource } from './source';
import { buildVhdFooter, parseVhdFooter, type FixedVhdOptions, type VhdFooter } from './vhd';

const SECTOR = 512;
const FOOTER = 512;
const HEADER = 1024;
const HEADER_COOKIE = 'cxsparse';
const UNALLOCATED = 0xffffffff;
const MiB = 1024 * 1024;
export const DEFAULT_VHD_BLOCK_SIZE = 2 * MiB;

export interface DynamicVhdHeader {
  tableOffset: number;
  headerVersion: number;
  maxTableEntries: number;
  blockSize: number;
  checksum: number;
  parentUniqueId: string;
  parentTimestamp: number;
  /** The parent's file name (UTF-16BE in the header), '' when none. */
  parentName: string;
}

export interface DynamicVhdLimits {
  /** Largest virtual size accepted (default 2040 GiB, the format's maximum). */
  maxVirtualSize?: number;
  /** Largest number of BAT entries read into memory (default 4 Mi entries = 16 MiB). */
  maxBatEntries?: number;
  /** Largest block size accepted (default 256 MiB). */
  maxBlockSize?: number;
}

function headerChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < HEADER; i++) if (i < 36 || i >= 40) sum += h[i]!;
  return ~sum >>> 0;
}

function utf16be(buf: Buffer): string {
  const even = buf.subarray(0, buf.length - (buf.length % 2));
  const le = Buffer.from(even).swap16().toString('utf16le');
  const nul = le.indexOf('\0');
  return nul < 0 ? le : le.slice(0, nul);
}

/** Parses and verifies a dynamic disk header (cookie, checksum) or throws BG_VHD_BAD_HEADER. */
export function parseDynamicVhdHeader(h: Buffer, where = 'VHD'): DynamicVhdHeader {
  if (h.length < HEADER) {
    throw new ImageError('BG_IMAGE_TRUNCATED', `${where}: the dynamic disk header is cut short`);
  }
  const cookie = h.subarray(0, 8).toString('latin1');
  if (cookie !== HEADER_COOKIE) {
    throw new ImageError(
      'BG_VHD_BAD_HEADER',
      `${where}: the dynamic disk header does not start with "cxsparse" (found ${JSON.stringify(cookie)})`,
    );
  }
  const stored = h.readUInt32BE(36);
  const computed = headerChecksum(h);
  if (stored !== computed) {
    throw new ImageError(
      'BG_VHD_BAD_HEADER',
      `${where}: the dynamic disk header checksum is 0x${stored.toString(16)} but the header sums to 0x${computed.toString(16)}; the header is corrupt`,
    );
  }
  const tableOffset = h.readBigUInt64BE(16);
  if (tableOffset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ImageError('BG_VHD_BAD_HEADER', `${where}: BAT offset ${tableOffset} is out of range`);
  }
  return {
    tableOffset: Number(tableOffset),
    headerVersion: h.readUInt32BE(24),
    maxTableEntries: h.readUInt32BE(28),
    blockSize: h.readUInt32BE(32),
    checksum: stored,
    parentUniqueId: h.subarray(40, 56).toString('hex'),
    parentTimestamp: h.readUInt32BE(56),
    parentName: utf16be(h.subarray(64, 576)),
  };
}

/** @internal Builds a dynamic disk header (for the writer and the tests' differencing disks). */
export function buildDynamicVhdHeader(fields: {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
  parentName?: string;
  parentUniqueId?: Buffer;
}): Buffer {
  const h = Buffer.alloc(HEADER);
  h.write(HEADER_COOKIE, 0, 'latin1');
  h.writeBigUInt64BE(0xffffffffffffffffn, 8);
  h.writeBigUInt64BE(BigInt(fields.tableOffset), 16);
  h.writeUInt32BE(0x00010000, 24);
  h.writeUInt32BE(fields.maxTableEntries, 28);
  h.writeUInt32BE(fields.blockSize, 32);
  fields.parentUniqueId?.copy(h, 40, 0, 16);
  if (fields.parentName) Buffer.from(fields.parentName, 'utf16le').swap16().copy(h, 64, 0, 512);
  h.writeUInt32BE(headerChecksum(h), 36);
  return h;
}

function bitmapBytes(blockSize: number): number {
  return Math.ceil(blockSize / SECTOR / 8 / SECTOR) * SECTOR;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Reads the footer: the copy at offset 0, or the one at the end when the copy is damaged. */
async function readFooter(src: ByteSource): Promise<VhdFooter> {
  const head = await src.read(0, FOOTER);
  try {
    return parseVhdFooter(head);
  } catch (err) {
    if (src.size < 2 * FOOTER) throw err;
    try {
      return parseVhdFooter(await src.read(src.size - FOOTER, FOOTER));
    } catch {
      throw err;
    }
  }
}

/** Random access to a dynamic VHD with limits other than the defaults. */
export function dynamicVhdOpener(limits: DynamicVhdLimits = {}): RandomAccessOpener {
  const maxVirtualSize = limits.maxVirtualSize ?? 2040 * 1024 * MiB;
  const maxBatEntries = limits.maxBatEntries ?? 4 * 1024 * 1024;
  const maxBlockSize = limits.maxBlockSize ?? 256 * MiB;
  return async (src): Promise<RandomAccessDisk> => {
    const name = src.name;
    if (src.size < FOOTER + HEADER) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${name}: ${src.size} bytes cannot hold a dynamic VHD (footer copy, header, footer); the file is incomplete`,
      );
    }
    const footer = await readFooter(src);
    if (footer.diskType === 'fixed') {
      throw new ImageError(
        'BG_VHD_BAD_HEADER',
        `${name}: the VHD footer says this is a fixed VHD, not a dynamic one; open it as vhd-fixed`,
      );
    }
    if (footer.dataOffset > BigInt(src.size - HEADER)) {
      throw new ImageError(
        footer.dataOffset > BigInt(Number.MAX_SAFE_INTEGER) ? 'BG_VHD_BAD_HEADER' : 'BG_IMAGE_TRUNCATED',
        `${name}: the dynamic disk header is at byte ${footer.dataOffset}, past the end of the ${src.size}-byte file`,
      );
    }
    const header = parseDynamicVhdHeader(await src.read(Number(footer.dataOffset), HEADER), name);
    if (footer.diskType === 'differencing') {
      const parent = header.parentName || `with unique id ${header.parentUniqueId}`;
      throw new ImageError(
        'BG_VHD_DIFFERENCING',
        `${name}: unsupported: differencing disk, parent ${parent}; merge it first (e.g. "qemu-img convert -O vpc" of the child, or Hyper-V "Edit Disk → Merge")`,
      );
    }
    const capacity = footer.currentSize;
    if (capacity > maxVirtualSize) {
      throw new ImageError(
        'BG_VHD_LIMIT',
        `${name}: virtual size ${capacity} bytes exceeds the limit of ${maxVirtualSize} bytes (option maxVirtualSize)`,
      );
    }
    const { blockSize } = header;
    if (!isPow2(blockSize) || blockSize < SECTOR || blockSize > maxBlockSize) {
      throw new ImageError(
        blockSize > maxBlockSize && isPow2(blockSize) ? 'BG_VHD_LIMIT' : 'BG_VHD_BAD_HEADER',
        `${name}: block size ${blockSize} bytes is not a power of two between 512 and ${maxBlockSize} bytes`,
      );
    }
    const blocks = Math.ceil(capacity / blockSize);
    if (blocks > maxBatEntries) {
      throw new ImageError(
        'BG_VHD_LIMIT',
        `${name}: ${blocks} BAT entries exceed the limit of ${maxBatEntries} (option maxBatEntries)`,
      );
    }
    if (header.maxTableEntries < blocks) {
      throw new ImageError(
        'BG_VHD_BAD_HEADER',
        `${name}: the BAT has ${header.maxTableEntries} entries but ${blocks} blocks of ${blockSize} bytes are needed for ${capacity} bytes`,
      );
    }
    const batBuf = await src.read(header.tableOffset, blocks * 4);
    const bmBytes = bitmapBytes(blockSize);
    const bat = new Float64Array(blocks); // byte offsets of the bitmaps, -1 unallocated
    for (let i = 0; i < blocks; i++) {
      const e = batBuf.readUInt32BE(i * 4);
      if (e === UNALLOCATED) {
        bat[i] = -1;
        continue;
      }
      const at = e * SECTOR;
      const need = bmBytes + Math.min(blockSize, capacity - i * blockSize);
      if (at + need > src.size) {
        throw new ImageError(
          'BG_IMAGE_TRUNCATED',
          `${name}: block ${i} at byte ${at} runs past the end of the ${src.size}-byte file; the file is incomplete — transfer it again`,
        );
      }
      bat[i] = at;
    }
    async function readBlockPart(at: number, inBlock: number, out: Buffer, outOff: number, n: number) {
      const data = await src.read(at + bmBytes + inBlock, n);
      data.copy(out, outOff);
      // sectors whose bitmap bit is clear read as zero
      const s0 = Math.floor(inBlock / SECTOR);
      const s1 = Math.floor((inBlock + n - 1) / SECTOR);
      const bm = await src.read(at + (s0 >> 3), (s1 >> 3) - (s0 >> 3) + 1);
      const base = (s0 >> 3) * 8;
      for (let s = s0; s <= s1; s++) {
        const bit = (bm[(s - base) >> 3]! >> (7 - (s & 7))) & 1;
        if (bit === 0) {
          const a = Math.max(s * SECTOR, inBlock) - inBlock + outOff;
          const b = Math.min((s + 1) * SECTOR, inBlock + n) - inBlock + outOff;
          out.fill(0, a, b);
        }
      }
    }
    return blockTableDisk({
      format: 'vhd-dynamic',
      name,
      capacity,
      blockSize,
      table: bat,
      readPart: readBlockPart,
    });
  };
}

/** Random access to a dynamic VHD (default limits). */
export const openDynamicVhd: RandomAccessOpener = dynamicVhdOpener();

export interface DynamicVhdOptions extends Omit<FixedVhdOptions, 'roundToMiB'> {
  /** Block size, a power of two from 512 bytes (default 2 MiB, what Hyper-V and qemu write). */
  blockSize?: number;
  /**
   * Which ranges hold data, known before the data streams (e.g. `RandomAccessDisk.map()`): the BAT
   * precedes the blocks in the file, so a byte stream can only be written with this up front.
   * A block that the allocation calls zero but the stream has data in → BG_IMAGE_STREAM_STATE.
   */
  allocation?: Iterable<MappedRange> | AsyncIterable<MappedRange>;
}

interface Layout {
  capacity: number;
  blockSize: number;
  blocks: number;
  bmBytes: number;
  batBytes: number;
  dataStart: number;
  stride: number;
}

function layout(disk: DiskStream, opts: DynamicVhdOptions, what: string): Layout {
  const capacity = disk.capacity;
  if (capacity % SECTOR !== 0 || capacity <= 0 || !Number.isSafeInteger(capacity)) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `${what}: the disk capacity ${capacity} bytes is not a positive multiple of 512; resize the disk first`,
    );
  }
  const blockSize = opts.blockSize ?? DEFAULT_VHD_BLOCK_SIZE;
  if (!isPow2(blockSize) || blockSize < SECTOR || blockSize > 256 * MiB) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `${what}: block size ${blockSize} is not a power of two between 512 bytes and 256 MiB`,
    );
  }
  const blocks = Math.ceil(capacity / blockSize);
  const bmBytes = bitmapBytes(blockSize);
  const batBytes = Math.ceil((blocks * 4) / SECTOR) * SECTOR;
  const dataStart = FOOTER + HEADER + batBytes;
  const stride = bmBytes + blockSize;
  if ((dataStart + blocks * stride) / SECTOR > UNALLOCATED - 1) {
    throw new ImageError('BG_IMAGE_INVALID_ARGUMENT', `${what}: ${capacity} bytes is too large for a VHD`);
  }
  return { capacity, blockSize, blocks, bmBytes, batBytes, dataStart, stride };
}

/**
 * Yields each block (index and its blockSize bytes, zero-padded past capacity) that holds
 * non-zero data. Memory: one block.
 */
async function* dataBlocks(disk: DiskStream, l: Layout): AsyncGenerator<{ index: number; data: Buffer }> {
  let cur = -1;
  let buf: Buffer | undefined;
  let pos = 0;
  for await (const e of disk.extents) {
    if (e.offset !== pos) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `writeDynamicVhd: extent at byte ${e.offset} does not follow the previous one, which ended at byte ${pos}`,
      );
    }
    const len = e.kind === 'data' ? e.data.length : e.length;
    if (pos + len > l.capacity) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `writeDynamicVhd: extent at byte ${e.offset} runs past the capacity of ${l.capacity} bytes`,
      );
    }
    if (e.kind === 'data') {
      let done = 0;
      while (done < len) {
        const at = pos + done;
        const i = Math.floor(at / l.blockSize);
        if (i !== cur) {
          if (buf) yield { index: cur, data: buf };
          cur = i;
          buf = Buffer.alloc(l.blockSize);
        }
        const inBlock = at - i * l.blockSize;
        const n = Math.min(len - done, l.blockSize - inBlock);
        e.data.copy(buf!, inBlock, done, done + n);
        done += n;
      }
    }
    pos += len;
  }
  if (pos !== l.capacity) {
    throw new ImageError(
      'BG_IMAGE_STREAM_STATE',
      `writeDynamicVhd: extents end at byte ${pos} but the capacity is ${l.capacity} bytes`,
    );
  }
  if (buf) yield { index: cur, data: buf };
}

function isZeroBuf(b: Buffer): boolean {
  for (let off = 0; off < b.length; off += MiB) {
    const part = b.subarray(off, Math.min(b.length, off + MiB));
    if (!part.equals(zeros(part.length))) return false;
  }
  return true;
}

function metadata(l: Layout, opts: DynamicVhdOptions, bat: Buffer): { head: Buffer; footer: Buffer } {
  const footer = buildVhdFooter(l.capacity, 3, BigInt(FOOTER), opts);
  const header = buildDynamicVhdHeader({
    tableOffset: FOOTER + HEADER,
    maxTableEntries: l.blocks,
    blockSize: l.blockSize,
  });
  return { head: Buffer.concat([footer, header, bat]), footer };
}

function emptyBat(l: Layout): Buffer {
  return Buffer.alloc(l.batBytes, 0xff);
}

/**
 * A dynamic VHD as a byte stream, in file order: footer copy, header, BAT, the blocks that hold
 * data (full sector bitmaps), footer. The BAT comes first, so the allocation must be known up
 * front: pass `opts.allocation` (e.g. from `RandomAccessDisk.map()`); without it → use
 * `writeDynamicVhdTo`, which writes the BAT last. Memory: the BAT (4 bytes per block) and one block.
 */
export function writeDynamicVhd(disk: DiskStream, opts: DynamicVhdOptions = {}): AsyncIterable<Buffer> {
  const l = layout(disk, opts, 'writeDynamicVhd');
  const allocation = opts.allocation;
  if (!allocation) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      'writeDynamicVhd: a dynamic VHD byte stream needs the allocation up front (opts.allocation, e.g. disk.map()); use writeDynamicVhdTo to write a file from any stream',
    );
  }
  return (async function* () {
    const allocated = new Uint8Array(l.blocks);
    let pos = 0;
    for await (const r of allocation) {
      if (r.offset !== pos || r.length < 0 || r.offset + r.length > l.capacity) {
        throw new ImageError(
          'BG_IMAGE_INVALID_ARGUMENT',
          `writeDynamicVhd: allocation range ${r.offset}+${r.length} does not follow byte ${pos} within ${l.capacity} bytes`,
        );
      }
      if (!r.zero && r.length > 0) {
        const last = Math.floor((r.offset + r.length - 1) / l.blockSize);
        for (let i = Math.floor(r.offset / l.blockSize); i <= last; i++) allocated[i] = 1;
      }
      pos += r.length;
    }
    if (pos !== l.capacity) {
      throw new ImageError(
        'BG_IMAGE_INVALID_ARGUMENT',
        `writeDynamicVhd: the allocation covers ${pos} bytes but the disk has ${l.capacity}`,
      );
    }
    const bat = emptyBat(l);
    let k = 0;
    for (let i = 0; i < l.blocks; i++) {
      if (allocated[i]) bat.writeUInt32BE((l.dataStart + k++ * l.stride) / SECTOR, i * 4);
    }
    const { head, footer } = metadata(l, opts, bat);
    yield head;
    const bitmap = Buffer.alloc(l.bmBytes, 0xff);
    let next = 0; // next block index to emit
    const emitZeroBlocksUpTo = function* (end: number): Generator<Buffer> {
      for (; next < end; next++) {
        if (!allocated[next]) continue;
        yield bitmap;
        for (let left = l.blockSize; left > 0; left -= MiB) yield zeros(Math.min(left, MiB));
      }
    };
    for await (const b of dataBlocks(disk, l)) {
      yield* emitZeroBlocksUpTo(b.index);
      if (!allocated[b.index]) {
        if (isZeroBuf(b.data)) continue;
        throw new ImageError(
          'BG_IMAGE_STREAM_STATE',
          `writeDynamicVhd: block ${b.index} holds data but the allocation passed in calls it zero`,
        );
      }
      yield bitmap;
      yield b.data;
      next = b.index + 1;
    }
    yield* emitZeroBlocksUpTo(l.blocks);
    yield footer;
  })();
}

/** Where writeDynamicVhdTo writes: positioned writes, e.g. a FileHandle's. */
export interface PositionalSink {
  write(data: Buffer, position: number): Promise<unknown>;
}

/**
 * Writes a dynamic VHD from any DiskStream with positioned writes: blocks that hold non-zero data
 * go out in order after the space left for the BAT, then the footer, then the footer copy, header
 * and BAT at the start. Returns the file size. Memory: the BAT and one block.
 */
export async function writeDynamicVhdTo(
  disk: DiskStream,
  sink: PositionalSink,
  opts: Omit<DynamicVhdOptions, 'allocation'> = {},
): Promise<{ size: number; allocatedBlocks: number }> {
  const l = layout(disk, opts, 'writeDynamicVhdTo');
  const bat = emptyBat(l);
  const bitmap = Buffer.alloc(l.bmBytes, 0xff);
  let k = 0;
  for await (const b of dataBlocks(disk, l)) {
    if (isZeroBuf(b.data)) continue;
    const at = l.dataStart + k++ * l.stride;
    bat.writeUInt32BE(at / SECTOR, b.index * 4);
    await sink.write(Buffer.concat([bitmap, b.data]), at);
  }
  const { head, footer } = metadata(l, opts, bat);
  const end = l.dataStart + k * l.stride;
  await sink.write(footer, end);
  await sink.write(head, 0);
  return { size: end + FOOTER, allocatedBlocks: k };
}
