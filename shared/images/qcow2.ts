/**
 * qcow2 (versions 2 and 3) opened for random access, following qemu's docs/interop/qcow2.txt:
 * a big-endian header in the first cluster, an L1 table of L2-table offsets, L2 tables of cluster
 * descriptors (standard, v3 "reads as zeros", or compressed: raw deflate). The refcount structures
 * are not needed for reading and are not read. Every size taken from the file is checked against
 * documented limits before anything is allocated, so a hostile header cannot make us allocate
 * unbounded memory or loop for long.
 */
import { promisify } from 'node:util';
import { constants as zlibConstants, inflateRaw, type ZlibOptions } from 'node:zlib';
import { ImageError } from './errors';
import {
  checkDiskRange,
  type MappedRange,
  type RandomAccessDisk,
  type RandomAccessOpener,
} from './random-access-disk';
import { readSourceInto, type ByteSource } from './source';

const inflateRawP = promisify<Buffer, ZlibOptions, Buffer>(inflateRaw);

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"

const TIB = 1024 * 1024 * 1024 * 1024;
const V2_HEADER_LENGTH = 72;
const V3_MIN_HEADER_LENGTH = 104;
const MAX_BACKING_NAME = 1023;
const EXT_END = 0x00000000;
const EXT_DATA_FILE = 0x44415441;
const TWO_32 = 0x1_0000_0000;

/** Incompatible feature bits (header byte 72, v3). */
const INCOMPAT_DIRTY = 1;
const INCOMPAT_CORRUPT = 2;
const INCOMPAT_DATA_FILE = 4;
const INCOMPAT_COMPRESSION = 8;
const INCOMPAT_EXTENDED_L2 = 16;
const INCOMPAT_KNOWN =
  INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTENDED_L2;

export interface Qcow2ReaderOptions {
  /** Largest virtual size accepted, in bytes (default 64 TiB). */
  maxVirtualSize?: number;
  /** Largest L1 table accepted, in entries (default 4 Mi entries = 32 MiB, qemu's own limit). */
  maxL1Entries?: number;
  /** Largest cluster size accepted, in bytes (default 2 MiB, qemu's own limit). */
  maxClusterSize?: number;
  /**
   * Bytes of L2 tables kept in the LRU cache (default 4 MiB; at least one table is always kept).
   * A decompressed cluster is never larger than the cluster size.
   */
  l2CacheBytes?: number;
}

export const QCOW2_DEFAULTS = {
  maxVirtualSize: 64 * TIB,
  maxL1Entries: 4 * 1024 * 1024,
  maxClusterSize: 2 * 1024 * 1024,
  l2CacheBytes: 4 * 1024 * 1024,
} as const satisfies Required<Qcow2ReaderOptions>;

export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  /** Virtual size in bytes. */
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  /** Low 32 bits of each feature bitmap (v3; 0 for v2). Higher bits are refused when set. */
  incompatibleFeatures: number;
  compatibleFeatures: number;
  autoclearFeatures: number;
  refcountOrder: number;
  headerLength: number;
  /** 0 zlib (deflate), 1 zstd. */
  compressionType: number;
  /** True when the dirty bit is set (refcounts may be stale; the mapping is still valid). */
  dirty: boolean;
}

/** A qcow2 disk opened for random access; `header` is the parsed header. */
export interface Qcow2Disk extends RandomAccessDisk {
  readonly header: Qcow2Header;
}

function u64(buf: Buffer, off: number): { hi: number; lo: number } {
  return { hi: buf.readUInt32BE(off), lo: buf.readUInt32BE(off + 4) };
}

function badHeader(name: string, what: string): ImageError {
  return new ImageError('BG_QCOW2_BAD_HEADER', `${name}: invalid qcow2 header: ${what}`);
}

function corrupt(name: string, what: string): ImageError {
  return new ImageError(
    'BG_QCOW2_CORRUPT',
    `${name}: corrupt qcow2 image: ${what}; check it with "qemu-img check"`,
  );
}

function limit(name: string, what: string, option: keyof Qcow2ReaderOptions): ImageError {
  return new ImageError('BG_QCOW2_LIMIT', `${name}: ${what} (limit option ${option})`);
}

/** A 64-bit header field as a safe integer, or a typed error. */
function safe64(buf: Buffer, off: number, name: string, field: string): number {
  const { hi, lo } = u64(buf, off);
  if (hi >= 0x20_0000) throw badHeader(name, `${field} ${(BigInt(hi) << 32n) | BigInt(lo)} is out of range`);
  return hi * TWO_32 + lo;
}

function printableName(buf: Buffer): string {
  let out = '';
  for (const ch of buf.toString('utf8')) {
    const code = ch.codePointAt(0) ?? 0;
    out += code < 0x20 || code === 0x7f ? '?' : ch;
  }
  return out;
}

/** Reads what the header extensions say that matters for messages (the external data file name). */
function walkExtensions(cluster: Buffer, start: number, name: string): { dataFile?: string } {
  const out: { dataFile?: string } = {};
  let off = start;
  // Each extension takes at least 8 bytes, so this loop ends within the first cluster.
  while (off + 8 <= cluster.length) {
    const type = cluster.readUInt32BE(off);
    const len = cluster.readUInt32BE(off + 4);
    if (type === EXT_END) break;
    if (len > cluster.length - off - 8) {
      throw badHeader(
        name,
        `header extension 0x${type.toString(16)} of ${len} bytes at byte ${off} runs past the first cluster`,
      );
    }
    if (type === EXT_DATA_FILE) out.dataFile = printableName(cluster.subarray(off + 8, off + 8 + len));
    off += 8 + Math.ceil(len / 8) * 8;
  }
  return out;
}

/**
 * Reads and checks the header (first cluster) of a qcow2 image. Refuses, with typed errors, what
 * this reader cannot give the right bytes for: backing files, encryption, external data files,
 * zstd compression, extended L2 entries, unknown incompatible features, images marked corrupt.
 */
export async function readQcow2Header(src: ByteSource, opts: Qcow2ReaderOptions = {}): Promise<Qcow2Header> {
  const maxClusterSize = opts.maxClusterSize ?? QCOW2_DEFAULTS.maxClusterSize;
  const maxVirtualSize = opts.maxVirtualSize ?? QCOW2_DEFAULTS.maxVirtualSize;
  const name = src.name;
  if (src.size >= 4) {
    const magic = (await src.read(0, 4)).readUInt32BE(0);
    if (magic !== QCOW2_MAGIC) throw badHeader(name, `bad magic 0x${magic.toString(16)} (expected QFI\\xfb)`);
  }
  const fixed = await src.read(0, V2_HEADER_LENGTH); // BG_IMAGE_TRUNCATED when shorter
  const version = fixed.readUInt32BE(4);
  if (version === 1) {
    throw new ImageError(
      'BG_QCOW2_UNSUPPORTED',
      `${name}: unsupported: qcow version 1; convert it with "qemu-img convert -O qcow2"`,
    );
  }
  if (version !== 2 && version !== 3) throw badHeader(name, `version ${version} (expected 2 or 3)`);
  const clusterBits = fixed.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 63)
    throw badHeader(name, `cluster_bits ${clusterBits} (must be 9 or more)`);
  const clusterSize = 2 ** clusterBits;
  if (clusterSize > maxClusterSize) {
    throw limit(
      name,
      `cluster size ${clusterSize} bytes (cluster_bits ${clusterBits}) is larger than the limit of ${maxClusterSize}`,
      'maxClusterSize',
    );
  }
  let headerLength = V2_HEADER_LENGTH;
  if (version === 3) {
    const v3 = await src.read(0, V3_MIN_HEADER_LENGTH);
    headerLength = v3.readUInt32BE(100);
    if (headerLength < V3_MIN_HEADER_LENGTH || headerLength % 8 !== 0 || headerLength > clusterSize) {
      throw badHeader(
        name,
        `header_length ${headerLength} (must be a multiple of 8, at least 104 and within the first cluster)`,
      );
    }
  }
  // The first cluster: header, extensions, backing file name. At most maxClusterSize bytes.
  const cluster = await src.read(0, Math.max(headerLength, Math.min(clusterSize, src.size)));

  const backingOffset = safe64(cluster, 8, name, 'backing_file_offset');
  if (backingOffset !== 0) {
    const len = cluster.readUInt32BE(16);
    let backing = '(name unreadable)';
    if (len > 0 && len <= MAX_BACKING_NAME && backingOffset + len <= src.size) {
      backing = `"${printableName(await src.read(backingOffset, len))}"`;
    }
    throw new ImageError(
      'BG_QCOW2_BACKING_FILE',
      `${name}: unsupported: qcow2 with backing file ${backing}; flatten it with qemu-img convert (e.g. "qemu-img convert -O qcow2 ${name} flat.qcow2")`,
    );
  }
  const cryptMethod = cluster.readUInt32BE(32);
  if (cryptMethod !== 0) {
    const how = cryptMethod === 1 ? 'AES' : cryptMethod === 2 ? 'LUKS' : `method ${cryptMethod}`;
    throw new ImageError(
      'BG_QCOW2_ENCRYPTED',
      `${name}: unsupported: encrypted qcow2 (${how}); decrypt it first with "qemu-img convert" (passing the secret with --object secret,... and --image-opts)`,
    );
  }

  let incompatible = 0;
  let compatible = 0;
  let autoclear = 0;
  let refcountOrder = 4;
  let compressionType = 0;
  if (version === 3) {
    const inc = u64(cluster, 72);
    incompatible = inc.lo;
    compatible = cluster.readUInt32BE(84);
    autoclear = cluster.readUInt32BE(92);
    refcountOrder = cluster.readUInt32BE(96);
    if (headerLength > 104) compressionType = cluster[104] ?? 0;
    const ext = walkExtensions(cluster, headerLength, name);
    if (incompatible & INCOMPAT_CORRUPT) {
      throw corrupt(
        name,
        'the image is marked corrupt (incompatible feature bit 1) by the tool that wrote it',
      );
    }
    if (incompatible & INCOMPAT_DATA_FILE) {
      const file = ext.dataFile === undefined ? '' : ` "${ext.dataFile}"`;
      throw new ImageError(
        'BG_QCOW2_UNSUPPORTED',
        `${name}: unsupported: qcow2 with an external data file${file}; convert it into one file with "qemu-img convert -O qcow2"`,
      );
    }
    if (incompatible & INCOMPAT_COMPRESSION && compressionType === 0) {
      throw badHeader(name, 'the compression type feature bit is set but compression_type is 0');
    }
    if (compressionType !== 0) {
      const what = compressionType === 1 ? 'zstd' : `type ${compressionType}`;
      throw new ImageError(
        'BG_QCOW2_UNSUPPORTED',
        `${name}: unsupported: qcow2 compression ${what} (only zlib/deflate is read); convert it with "qemu-img convert -O qcow2 -o compression_type=zlib"`,
      );
    }
    if (incompatible & INCOMPAT_EXTENDED_L2) {
      throw new ImageError(
        'BG_QCOW2_UNSUPPORTED',
        `${name}: unsupported: qcow2 with extended L2 entries (subclusters); convert it with "qemu-img convert -O qcow2 -o extended_l2=off"`,
      );
    }
    const unknown = (incompatible & ~INCOMPAT_KNOWN) >>> 0;
    if (unknown !== 0 || inc.hi !== 0) {
      const bits: number[] = [];
      for (let b = 0; b < 32; b++) if (unknown & (2 ** b)) bits.push(b);
      for (let b = 0; b < 32; b++) if (inc.hi & (2 ** b)) bits.push(b + 32);
      throw new ImageError(
        'BG_QCOW2_UNSUPPORTED',
        `${name}: unsupported: qcow2 incompatible feature bit(s) ${bits.join(', ')}; convert it with "qemu-img convert -O qcow2"`,
      );
    }
    if (refcountOrder > 6) throw badHeader(name, `refcount_order ${refcountOrder} (at most 6)`);
  } else {
    walkExtensions(cluster, headerLength, name);
  }

  const size = safe64(cluster, 24, name, 'size');
  if (size > maxVirtualSize) {
    throw limit(
      name,
      `virtual size ${size} bytes is larger than the limit of ${maxVirtualSize}`,
      'maxVirtualSize',
    );
  }
  return {
    version,
    clusterBits,
    clusterSize,
    size,
    cryptMethod,
    l1Size: cluster.readUInt32BE(36),
    l1TableOffset: safe64(cluster, 40, name, 'l1_table_offset'),
    refcountTableOffset: safe64(cluster, 48, name, 'refcount_table_offset'),
    refcountTableClusters: cluster.readUInt32BE(56),
    nbSnapshots: cluster.readUInt32BE(60),
    incompatibleFeatures: incompatible,
    compatibleFeatures: compatible,
    autoclearFeatures: autoclear,
    refcountOrder,
    headerLength,
    compressionType,
    dirty: (incompatible & INCOMPAT_DIRTY) !== 0,
  };
}

type Cluster =
  { kind: 'zero' } | { kind: 'data'; host: number } | { kind: 'compressed'; host: number; length: number };

const ZERO: Cluster = { kind: 'zero' };

/** Opens a qcow2 image for random access with the given limits. */
export async function openQcow2Disk(src: ByteSource, opts: Qcow2ReaderOptions = {}): Promise<Qcow2Disk> {
  const name = src.name;
  const header = await readQcow2Header(src, opts);
  const maxL1Entries = opts.maxL1Entries ?? QCOW2_DEFAULTS.maxL1Entries;
  const { clusterBits, clusterSize: C, size: capacity, version } = header;
  const l2Entries = C / 8;
  const span = C * l2Entries; // virtual bytes covered by one L2 table
  const needed = Math.ceil(capacity / span);
  if (header.l1Size > maxL1Entries) {
    throw limit(
      name,
      `L1 table of ${header.l1Size} entries is larger than the limit of ${maxL1Entries}`,
      'maxL1Entries',
    );
  }
  if (header.l1Size < needed) {
    throw corrupt(
      name,
      `the L1 table has ${header.l1Size} entries but the virtual size of ${capacity} bytes needs ${needed}`,
    );
  }
  if (needed > 0 && (header.l1TableOffset === 0 || header.l1TableOffset % C !== 0)) {
    throw corrupt(
      name,
      `L1 table offset ${header.l1TableOffset} is not a non-zero multiple of the cluster size ${C}`,
    );
  }
  // Only the entries that map the virtual disk (the rest would map snapshot VM state).
  const l1 = needed > 0 ? Buffer.from(await src.read(header.l1TableOffset, needed * 8)) : Buffer.alloc(0);

  const cacheTables = Math.max(1, Math.floor((opts.l2CacheBytes ?? QCOW2_DEFAULTS.l2CacheBytes) / C));
  const l2Cache = new Map<number, Promise<Buffer>>();
  function loadL2(offset: number): Promise<Buffer> {
    const hit = l2Cache.get(offset);
    if (hit) {
      l2Cache.delete(offset);
      l2Cache.set(offset, hit);
      return hit;
    }
    const p = src.read(offset, C);
    l2Cache.set(offset, p);
    p.catch(() => l2Cache.delete(offset));
    while (l2Cache.size > cacheTables) {
      const oldest = l2Cache.keys().next();
      if (oldest.done) break;
      l2Cache.delete(oldest.value);
    }
    return p;
  }

  /** The L2 table mapping L1 index i, or undefined when unallocated. */
  async function l2Table(i: number): Promise<Buffer | undefined> {
    const { hi, lo } = u64(l1, i * 8);
    const offset = (hi & 0x00ff_ffff) * TWO_32 + ((lo & 0xffff_fe00) >>> 0);
    if (offset === 0) return undefined;
    if (offset % C !== 0)
      throw corrupt(
        name,
        `L2 table offset ${offset} (L1 index ${i}) is not aligned to the cluster size ${C}`,
      );
    if (offset + C > src.size) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${name} ends early: the L2 table for L1 index ${i} is at byte ${offset} but the file has ${src.size} bytes; the file is incomplete or corrupt`,
      );
    }
    return loadL2(offset);
  }

  // Compressed descriptor: offset in bits 0..x-1, additional 512-byte sectors in bits x..61,
  // with x = 62 - (cluster_bits - 8). x - 32 is between 17 and 29 for cluster_bits 9..21.
  const x32 = 62 - (clusterBits - 8) - 32;
  const offHiMask = 2 ** x32 - 1;
  const sectorsMask = 2 ** (clusterBits - 8) - 1;

  function classify(l2: Buffer, idx: number): Cluster {
    const hi = l2.readUInt32BE(idx * 8);
    const lo = l2.readUInt32BE(idx * 8 + 4);
    if (hi & 0x4000_0000) {
      const host = (hi & offHiMask) * TWO_32 + lo;
      const sectors = ((hi >>> x32) & sectorsMask) + 1;
      return { kind: 'compressed', host, length: sectors * 512 - (host % 512) };
    }
    if (lo & 1) {
      if (version < 3) throw corrupt(name, `a zero-cluster entry in a version 2 image (L2 entry ${idx})`);
      return ZERO;
    }
    const host = (hi & 0x00ff_ffff) * TWO_32 + ((lo & 0xffff_fe00) >>> 0);
    if (host === 0) return ZERO;
    if (host % C !== 0)
      throw corrupt(name, `data cluster offset ${host} is not aligned to the cluster size ${C}`);
    return { kind: 'data', host };
  }

  let lastCompressed: { host: number; data: Buffer } | undefined;
  async function decompress(host: number, length: number): Promise<Buffer> {
    if (lastCompressed?.host === host) return lastCompressed.data;
    if (host >= src.size) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${name} ends early: a compressed cluster starts at byte ${host} but the file has ${src.size} bytes; the file is incomplete or corrupt`,
      );
    }
    // The last sector may run past the end of the file (qemu writes only the compressed bytes).
    const avail = Math.min(length, src.size - host);
    const packed = await src.read(host, avail);
    let data: Buffer | undefined;
    let why = 'it does not inflate to a whole cluster';
    try {
      data = await inflateRawP(packed, { maxOutputLength: C, finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (err) {
      why =
        (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
          ? 'it inflates to more than a cluster'
          : `it does not inflate (${(err as Error).message})`;
    }
    if (data?.length !== C) {
      if (avail < length) {
        throw new ImageError(
          'BG_IMAGE_TRUNCATED',
          `${name} ends early: the compressed cluster at byte ${host} needs ${length} bytes but the file has ${src.size}; the file is incomplete or corrupt`,
        );
      }
      throw corrupt(name, `compressed cluster at byte ${host} (${length} bytes): ${why}`);
    }
    lastCompressed = { host, data };
    return data;
  }

  async function* map(offset = 0, length = capacity - offset): AsyncGenerator<MappedRange> {
    checkDiskRange(`${name} map`, capacity, offset, length);
    const end = offset + length;
    let runStart = offset;
    let runZero: boolean | undefined;
    let pos = offset;
    while (pos < end) {
      const l1i = Math.floor(pos / span);
      const spanEnd = Math.min((l1i + 1) * span, end);
      const l2 = await l2Table(l1i);
      while (pos < spanEnd) {
        let zero = true;
        let next = spanEnd;
        if (l2) {
          const ci = Math.floor(pos / C);
          zero = classify(l2, ci % l2Entries).kind === 'zero';
          next = Math.min((ci + 1) * C, spanEnd);
        }
        if (runZero !== undefined && runZero !== zero) {
          yield { offset: runStart, length: pos - runStart, zero: runZero };
          runStart = pos;
        }
        runZero = zero;
        pos = next;
      }
    }
    if (runZero !== undefined) yield { offset: runStart, length: end - runStart, zero: runZero };
  }

  async function read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    await readInto(offset, out);
    return out;
  }

  async function readInto(offset: number, out: Buffer): Promise<void> {
    const length = out.length;
    checkDiskRange(`${name} read`, capacity, offset, length);
    const end = offset + length;
    // A run of standard clusters contiguous both in the disk and in the file: one source read.
    let runVirt = 0;
    let runHost = 0;
    let runLen = 0;
    const flush = async (): Promise<void> => {
      if (runLen === 0) return;
      await readSourceInto(src, runHost, out.subarray(runVirt - offset, runVirt - offset + runLen));
      runLen = 0;
    };
    let pos = offset;
    while (pos < end) {
      const l1i = Math.floor(pos / span);
      const spanEnd = Math.min((l1i + 1) * span, end);
      const l2 = await l2Table(l1i);
      if (!l2) {
        await flush();
        out.fill(0, pos - offset, spanEnd - offset);
        pos = spanEnd;
        continue;
      }
      while (pos < spanEnd) {
        const ci = Math.floor(pos / C);
        const next = Math.min((ci + 1) * C, spanEnd);
        const inCluster = pos - ci * C;
        const c = classify(l2, ci % l2Entries);
        if (c.kind === 'data') {
          const host = c.host + inCluster;
          if (runLen > 0 && runHost + runLen === host && runVirt + runLen === pos) {
            runLen += next - pos;
          } else {
            await flush();
            runVirt = pos;
            runHost = host;
            runLen = next - pos;
          }
        } else {
          await flush();
          if (c.kind === 'compressed') {
            const data = await decompress(c.host, c.length);
            data.copy(out, pos - offset, inCluster, inCluster + (next - pos));
          } else out.fill(0, pos - offset, next - offset);
        }
        pos = next;
      }
    }
    await flush();
  }

  return { format: 'qcow2', capacity, header, map, read, readInto };
}

/** The qcow2 opener for `openRandomAccess` (default limits). */
export const openQcow2: RandomAccessOpener = (src) => openQcow2Disk(src);
