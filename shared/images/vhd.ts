import { randomBytes } from 'node:crypto';
import { ByteReader } from './byte-reader';
import { ImageError } from './errors';
import { diskToRaw, normalizeExtents, rawToDisk, zeros, type DiskExtent, type DiskStream } from './extents';
import { checkDiskRange, type RandomAccessOpener } from './random-access-disk';
import { readSourceInto, type ByteSource } from './source';

const FOOTER = 512;
const COOKIE = 'conectix';
const VHD_EPOCH_MS = Date.UTC(2000, 0, 1);
const MAX_CHS_SECTORS = 65535 * 16 * 255;

export type VhdDiskType = 'fixed' | 'dynamic' | 'differencing';

export interface VhdFooter {
  cookie: string;
  features: number;
  formatVersion: number;
  /** 0xFFFFFFFFFFFFFFFF for fixed disks; the dynamic header's offset otherwise. */
  dataOffset: bigint;
  /** Seconds since 2000-01-01T00:00:00Z. */
  timestamp: number;
  creatorApp: string;
  creatorVersion: number;
  creatorHostOs: string;
  originalSize: number;
  currentSize: number;
  geometry: { cylinders: number; heads: number; sectorsPerTrack: number };
  diskType: VhdDiskType;
  checksum: number;
  uniqueId: string;
  savedState: number;
}

/** CHS geometry per the VHD specification's algorithm (Appendix "CHS calculation"). */
export function vhdGeometry(totalSectorsIn: number): {
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
} {
  const totalSectors = Math.min(totalSectorsIn, MAX_CHS_SECTORS);
  let spt: number;
  let heads: number;
  let cth: number;
  if (totalSectors >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(totalSectors / spt);
  } else {
    spt = 17;
    cth = Math.floor(totalSectors / spt);
    heads = Math.floor((cth + 1023) / 1024);
    if (heads < 4) heads = 4;
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(totalSectors / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(totalSectors / spt);
    }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectorsPerTrack: spt };
}

function checksumOf(footer: Buffer): number {
  let sum = 0;
  for (let i = 0; i < FOOTER; i++) if (i < 64 || i >= 68) sum += footer[i]!;
  return ~sum >>> 0;
}

export interface FixedVhdOptions {
  /** Creator application, 4 characters (default "bgwy"; "win " with roundToMiB). */
  creatorApp?: string;
  /** 16 bytes; random by default. */
  uniqueId?: Buffer;
  /** Footer timestamp (default now). */
  timestamp?: Date;
  /**
   * Azure: round the virtual size up to a whole MiB, zero-padded (Azure rejects other sizes). The
   * footer is then written as Hyper-V writes it (creator "win ", the spec's CHS geometry), which
   * qemu and Azure read as "trust current_size". A capacity that is not a multiple of 512 is padded too.
   */
  roundToMiB?: boolean;
}

const MiB = 1024 * 1024;
const HYPER_V = 'win ';

/** @internal Shared by the fixed and dynamic writers. */
export function buildVhdFooter(
  capacity: number,
  diskType: 2 | 3,
  dataOffset: bigint,
  opts: FixedVhdOptions = {},
): Buffer {
  const f = Buffer.alloc(FOOTER);
  f.write(COOKIE, 0, 'latin1');
  f.writeUInt32BE(2, 8); // features: reserved bit always set
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(dataOffset, 16);
  const ts = Math.max(0, Math.floor(((opts.timestamp ?? new Date()).getTime() - VHD_EPOCH_MS) / 1000));
  f.writeUInt32BE(ts >>> 0, 24);
  const creator = (opts.creatorApp ?? (opts.roundToMiB ? HYPER_V : 'bgwy')).padEnd(4, ' ').slice(0, 4);
  f.write(creator, 28, 'latin1');
  f.writeUInt32BE(creator === HYPER_V ? 0x000a0000 : 0x00010000, 32);
  f.write('Wi2k', 36, 'latin1');
  f.writeBigUInt64BE(BigInt(capacity), 40);
  f.writeBigUInt64BE(BigInt(capacity), 48);
  const sectors = capacity / 512;
  let g = vhdGeometry(sectors);
  // qemu trusts current_size for creator "win " (Hyper-V), or when the geometry is the maximum.
  if (creator !== HYPER_V && g.cylinders * g.heads * g.sectorsPerTrack !== sectors)
    g = { cylinders: 65535, heads: 16, sectorsPerTrack: 255 };
  f.writeUInt16BE(g.cylinders, 56);
  f.writeUInt8(g.heads, 58);
  f.writeUInt8(g.sectorsPerTrack, 59);
  f.writeUInt32BE(diskType, 60);
  (opts.uniqueId ?? randomBytes(16)).copy(f, 68, 0, 16);
  f.writeUInt32BE(checksumOf(f), 64);
  return f;
}

/**
 * Builds a fixed-disk VHD footer. The geometry follows the VHD spec's CHS algorithm when that
 * geometry covers the size exactly; otherwise it is 65535/16/255, the value readers (qemu, Hyper-V
 * tools) take as "trust current_size", so no reader truncates the disk to its CHS size. With
 * creator "win " (the default with roundToMiB) the spec geometry is kept, as Hyper-V does.
 */
export function buildFixedVhdFooter(capacity: number, opts: FixedVhdOptions = {}): Buffer {
  return buildVhdFooter(capacity, 2, 0xffffffffffffffffn, opts);
}

/** The virtual size writeFixedVhd gives a disk of `capacity` bytes. */
export function fixedVhdCapacity(capacity: number, opts: { roundToMiB?: boolean } = {}): number {
  return opts.roundToMiB ? Math.ceil(capacity / MiB) * MiB : capacity;
}

/**
 * A fixed VHD: the raw content followed by the 512-byte footer. Throws BG_IMAGE_UNALIGNED at once
 * when the capacity is not a positive multiple of 512 bytes, unless roundToMiB pads it to a whole
 * MiB (Azure's requirement).
 */
export function writeFixedVhd(disk: DiskStream, opts: FixedVhdOptions = {}): AsyncIterable<Buffer> {
  const capacity = fixedVhdCapacity(disk.capacity, opts);
  if (capacity % 512 !== 0 || capacity <= 0 || !Number.isSafeInteger(capacity)) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `writeFixedVhd: the disk capacity ${disk.capacity} bytes is not a positive multiple of 512; resize the disk first (or pass roundToMiB)`,
    );
  }
  const footer = buildFixedVhdFooter(capacity, opts);
  return (async function* () {
    yield* diskToRaw(disk);
    for (let left = capacity - disk.capacity; left > 0; left -= MiB) yield zeros(Math.min(left, MiB));
    yield footer;
  })();
}

const DISK_TYPES: Record<number, VhdDiskType> = { 2: 'fixed', 3: 'dynamic', 4: 'differencing' };

/** Parses and verifies a VHD footer (cookie, checksum, disk type) or throws BG_VHD_BAD_FOOTER. */
export function parseVhdFooter(footer: Buffer): VhdFooter {
  if (footer.length < FOOTER) {
    throw new ImageError(
      'BG_VHD_BAD_FOOTER',
      `VHD footer is ${footer.length} bytes, expected 512; the file is truncated`,
    );
  }
  const f = footer.subarray(footer.length - FOOTER);
  const cookie = f.subarray(0, 8).toString('latin1');
  if (cookie !== COOKIE) {
    throw new ImageError(
      'BG_VHD_BAD_FOOTER',
      `VHD footer does not start with "conectix" (found ${JSON.stringify(cookie)}); this is not a VHD or it is truncated`,
    );
  }
  const stored = f.readUInt32BE(64);
  const computed = checksumOf(f);
  if (stored !== computed) {
    throw new ImageError(
      'BG_VHD_BAD_FOOTER',
      `VHD footer checksum is 0x${stored.toString(16)} but the footer sums to 0x${computed.toString(16)}; the footer is corrupt`,
    );
  }
  const typeNum = f.readUInt32BE(60);
  const diskType = DISK_TYPES[typeNum];
  if (diskType === undefined) {
    throw new ImageError(
      'BG_VHD_BAD_FOOTER',
      `VHD footer has disk type ${typeNum} (byte 60); expected 2, 3 or 4`,
    );
  }
  const currentSize = f.readBigUInt64BE(48);
  const originalSize = f.readBigUInt64BE(40);
  if (currentSize > BigInt(Number.MAX_SAFE_INTEGER) || originalSize > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ImageError('BG_VHD_BAD_FOOTER', `VHD footer size ${currentSize} bytes is out of range`);
  }
  return {
    cookie,
    features: f.readUInt32BE(8),
    formatVersion: f.readUInt32BE(12),
    dataOffset: f.readBigUInt64BE(16),
    timestamp: f.readUInt32BE(24),
    creatorApp: f.subarray(28, 32).toString('latin1'),
    creatorVersion: f.readUInt32BE(32),
    creatorHostOs: f.subarray(36, 40).toString('latin1'),
    originalSize: Number(originalSize),
    currentSize: Number(currentSize),
    geometry: { cylinders: f.readUInt16BE(56), heads: f.readUInt8(58), sectorsPerTrack: f.readUInt8(59) },
    diskType,
    checksum: stored,
    uniqueId: f.subarray(68, 84).toString('hex'),
    savedState: f.readUInt8(84),
  };
}

/**
 * Reads a fixed VHD of totalSize bytes as a stream: the content is [0, totalSize - 512); the footer
 * is checked when the extents reach it (BG_VHD_BAD_FOOTER, BG_VHD_NOT_FIXED, BG_VHD_SIZE_MISMATCH
 * are thrown from the extents iteration, after the data).
 */
export function readFixedVhd(input: AsyncIterable<Buffer>, totalSize: number): DiskStream {
  if (!Number.isSafeInteger(totalSize) || totalSize < FOOTER || (totalSize - FOOTER) % 512 !== 0) {
    throw new ImageError(
      'BG_VHD_BAD_FOOTER',
      `a fixed VHD is its content (a multiple of 512 bytes) plus a 512-byte footer; ${totalSize} bytes cannot be one`,
    );
  }
  const capacity = totalSize - FOOTER;
  const r = new ByteReader(input, 'fixed VHD');
  async function* content(): AsyncGenerator<Buffer> {
    let left = capacity;
    while (left > 0) {
      const c = await r.readSome(Math.min(left, 1024 * 1024));
      if (c.length === 0) throw r.truncated(left + FOOTER, 'the disk content and footer');
      left -= c.length;
      yield c;
    }
  }
  async function* gen(): AsyncGenerator<DiskExtent> {
    try {
      yield* rawToDisk(content(), capacity, { what: 'fixed VHD' }).extents;
      const f = parseVhdFooter(await r.read(FOOTER, 'the VHD footer'));
      if (!(await r.atEnd())) {
        throw new ImageError(
          'BG_IMAGE_TRAILING_DATA',
          `fixed VHD has data after its footer at byte ${totalSize}`,
        );
      }
      if (f.diskType !== 'fixed') {
        throw new ImageError(
          'BG_VHD_NOT_FIXED',
          `the VHD footer says this is a ${f.diskType} VHD, not a fixed one`,
        );
      }
      if (f.currentSize !== capacity) {
        throw new ImageError(
          'BG_VHD_SIZE_MISMATCH',
          `the VHD footer says the disk is ${f.currentSize} bytes but the file holds ${capacity} bytes before its footer`,
        );
      }
    } finally {
      await r.close();
    }
  }
  return { capacity, extents: normalizeExtents(gen(), capacity, 'fixed VHD') };
}

/**
 * Random access to a fixed VHD: the content is the file's first size - 512 bytes; the footer is
 * checked at open (BG_VHD_BAD_FOOTER, BG_VHD_NOT_FIXED, BG_VHD_SIZE_MISMATCH).
 */
export const openFixedVhd: RandomAccessOpener = async (src: ByteSource) => {
  if (src.size < FOOTER || (src.size - FOOTER) % 512 !== 0) {
    throw new ImageError(
      'BG_VHD_BAD_FOOTER',
      `${src.name}: a fixed VHD is its content (a multiple of 512 bytes) plus a 512-byte footer; ${src.size} bytes cannot be one`,
    );
  }
  const capacity = src.size - FOOTER;
  const f = parseVhdFooter(await src.read(capacity, FOOTER));
  if (f.diskType !== 'fixed') {
    throw new ImageError(
      'BG_VHD_NOT_FIXED',
      `${src.name}: the VHD footer says this is a ${f.diskType} VHD, not a fixed one`,
    );
  }
  if (f.currentSize !== capacity) {
    throw new ImageError(
      'BG_VHD_SIZE_MISMATCH',
      `${src.name}: the VHD footer says the disk is ${f.currentSize} bytes but the file holds ${capacity} bytes before its footer`,
    );
  }

  return {
    format: 'vhd-fixed',
    capacity,
    map: async function* (offset = 0, length = capacity - offset) {
      checkDiskRange(src.name, capacity, offset, length);
      if (length > 0) yield { offset, length, zero: false };
    },
    read: async (offset, length) => {
      checkDiskRange(src.name, capacity, offset, length);
      return src.read(offset, length);
    },
    readInto: async (offset, target) => {
      checkDiskRange(src.name, capacity, offset, target.length);
      await readSourceInto(src, offset, target);
    },
  };
};
