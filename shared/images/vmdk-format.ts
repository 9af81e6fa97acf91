import { ImageError } from './errors';

/** "KDMV" read as a little-endian uint32. */
export const VMDK_MAGIC = 0x564d444b;
export const SECTOR = 512;
export const GD_AT_END = 0xffffffffffffffffn;
export const FLAG_NEWLINE_TEST = 1 << 0;
export const FLAG_REDUNDANT_GT = 1 << 1;
export const FLAG_ZERO_GRAIN_GTE = 1 << 2;
export const FLAG_COMPRESSED = 1 << 16;
export const FLAG_MARKERS = 1 << 17;
export const COMPRESSION_DEFLATE = 1;

export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;

/** The 512-byte SparseExtentHeader (little-endian, packed). Sizes and offsets in sectors. */
export interface VmdkHeader {
  version: number;
  flags: number;
  capacity: bigint;
  grainSize: bigint;
  descriptorOffset: bigint;
  descriptorSize: bigint;
  numGTEsPerGT: number;
  rgdOffset: bigint;
  gdOffset: bigint;
  overHead: bigint;
  uncleanShutdown: number;
  compressAlgorithm: number;
}

export function parseVmdkHeader(buf: Buffer): VmdkHeader & { magic: number } {
  return {
    magic: buf.readUInt32LE(0),
    version: buf.readUInt32LE(4),
    flags: buf.readUInt32LE(8),
    capacity: buf.readBigUInt64LE(12),
    grainSize: buf.readBigUInt64LE(20),
    descriptorOffset: buf.readBigUInt64LE(28),
    descriptorSize: buf.readBigUInt64LE(36),
    numGTEsPerGT: buf.readUInt32LE(44),
    rgdOffset: buf.readBigUInt64LE(48),
    gdOffset: buf.readBigUInt64LE(56),
    overHead: buf.readBigUInt64LE(64),
    uncleanShutdown: buf.readUInt8(72),
    compressAlgorithm: buf.readUInt16LE(77),
  };
}

export function encodeVmdkHeader(h: VmdkHeader): Buffer {
  const buf = Buffer.alloc(SECTOR);
  buf.writeUInt32LE(VMDK_MAGIC, 0);
  buf.writeUInt32LE(h.version, 4);
  buf.writeUInt32LE(h.flags, 8);
  buf.writeBigUInt64LE(h.capacity, 12);
  buf.writeBigUInt64LE(h.grainSize, 20);
  buf.writeBigUInt64LE(h.descriptorOffset, 28);
  buf.writeBigUInt64LE(h.descriptorSize, 36);
  buf.writeUInt32LE(h.numGTEsPerGT, 44);
  buf.writeBigUInt64LE(h.rgdOffset, 48);
  buf.writeBigUInt64LE(h.gdOffset, 56);
  buf.writeBigUInt64LE(h.overHead, 64);
  buf.writeUInt8(h.uncleanShutdown, 72);
  buf.write('\n \r\n', 73, 4, 'latin1');
  buf.writeUInt16LE(h.compressAlgorithm, 77);
  return buf;
}

export interface VmdkExtentLine {
  access: string;
  sectors: number;
  type: string;
  fileName?: string;
  offset?: number;
}

export interface VmdkDescriptor {
  version?: number;
  /** Content ID, lowercase hex as written (e.g. "255a27cd"). */
  cid?: string;
  parentCid?: string;
  createType?: string;
  extents: VmdkExtentLine[];
  /** All ddb.* entries, keys without the "ddb." prefix. */
  ddb: Record<string, string>;
  adapterType?: string;
  geometry?: { cylinders: number; heads: number; sectors: number };
  virtualHWVersion?: string;
  /** Sum of the extents' sizes, in 512-byte sectors. */
  capacitySectors: number;
  /** Other top-level key/value pairs (e.g. parentFileNameHint, encoding). */
  fields: Record<string, string>;
}

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/**
 * Parses a VMDK text descriptor (embedded or standalone). Tolerant of spacing, quotes, comments and
 * unknown keys; BG_VMDK_BAD_DESCRIPTOR only when an extent line or a numeric field is unreadable.
 */
export function parseVmdkDescriptor(text: string): VmdkDescriptor {
  const desc: VmdkDescriptor = { extents: [], ddb: {}, capacitySectors: 0, fields: {} };
  const lines = text.replace(/\0+$/, '').split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const line = raw.replace(/\0/g, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const ext = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\S+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/i.exec(line);
    if (ext) {
      const e: VmdkExtentLine = {
        access: ext[1]!.toUpperCase(),
        sectors: Number(ext[2]),
        type: ext[3]!.toUpperCase(),
      };
      if (ext[4] !== undefined) e.fileName = ext[4];
      if (ext[5] !== undefined) e.offset = Number(ext[5]);
      if (!Number.isSafeInteger(e.sectors)) {
        throw new ImageError(
          'BG_VMDK_BAD_DESCRIPTOR',
          `VMDK descriptor line ${idx + 1}: extent size "${ext[2]}" is not a usable number of sectors`,
        );
      }
      desc.extents.push(e);
      desc.capacitySectors += e.sectors;
      return;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) return; // unknown line: ignored
    const key = line.slice(0, eq).trim();
    const value = unquote(line.slice(eq + 1));
    if (key.startsWith('ddb.')) {
      desc.ddb[key.slice(4)] = value;
      return;
    }
    switch (key) {
      case 'version':
        desc.version = Number(value);
        break;
      case 'CID':
        desc.cid = value.toLowerCase();
        break;
      case 'parentCID':
        desc.parentCid = value.toLowerCase();
        break;
      case 'createType':
        desc.createType = value;
        break;
      default:
        desc.fields[key] = value;
    }
  });
  if (desc.ddb.adapterType !== undefined) desc.adapterType = desc.ddb.adapterType;
  if (desc.ddb.virtualHWVersion !== undefined) desc.virtualHWVersion = desc.ddb.virtualHWVersion;
  const c = Number(desc.ddb['geometry.cylinders']);
  const h = Number(desc.ddb['geometry.heads']);
  const s = Number(desc.ddb['geometry.sectors']);
  if (
    Number.isFinite(c) &&
    Number.isFinite(h) &&
    Number.isFinite(s) &&
    desc.ddb['geometry.cylinders'] !== undefined
  ) {
    desc.geometry = { cylinders: c, heads: h, sectors: s };
  }
  return desc;
}

export interface FormatDescriptorOptions {
  cid: number;
  capacitySectors: number;
  fileName: string;
  adapterType: string;
  hwVersion?: string;
  createType?: string;
  extra?: Record<string, string>;
}

/** Disk geometry as VMware writes it for the adapter type. */
export function vmdkGeometry(
  capacitySectors: number,
  adapterType: string,
): { cylinders: number; heads: number; sectors: number } {
  const ide = adapterType === 'ide';
  const heads = ide ? 16 : 255;
  const sectors = 63;
  const cylinders = Math.max(
    1,
    Math.min(ide ? 16383 : 65535, Math.floor(capacitySectors / (heads * sectors))),
  );
  return { cylinders, heads, sectors };
}

export function formatVmdkDescriptor(o: FormatDescriptorOptions): string {
  const g = vmdkGeometry(o.capacitySectors, o.adapterType);
  const lines = [
    '# Disk DescriptorFile',
    'version=1',
    `CID=${(o.cid >>> 0).toString(16).padStart(8, '0')}`,
    'parentCID=ffffffff',
    `createType="${o.createType ?? 'streamOptimized'}"`,
    '',
    '# Extent description',
    `RW ${o.capacitySectors} SPARSE "${o.fileName}"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    `ddb.virtualHWVersion = "${o.hwVersion ?? '4'}"`,
    `ddb.adapterType = "${o.adapterType}"`,
    `ddb.geometry.cylinders = "${g.cylinders}"`,
    `ddb.geometry.heads = "${g.heads}"`,
    `ddb.geometry.sectors = "${g.sectors}"`,
  ];
  for (const [k, v] of Object.entries(o.extra ?? {})) lines.push(`ddb.${k} = "${v}"`);
  return lines.join('\n') + '\n';
}

/**
 * The checks every VMDK sparse-header reader makes on the grain size and capacity: a power-of-two
 * grain within `maxGrainSizeSectors`, a capacity within `maxCapacityBytes` (hostile headers must
 * not make a reader allocate or iterate without bound).
 */
export function checkVmdkGrainAndCapacity(
  h: VmdkHeader,
  name: string,
  limits: { maxGrainSizeSectors: number; maxCapacityBytes: number },
): void {
  if (h.grainSize === 0n || (h.grainSize & (h.grainSize - 1n)) !== 0n) {
    throw new ImageError(
      'BG_VMDK_BAD_HEADER',
      `${name}: grain size ${h.grainSize} sectors at byte 20 is not a power of two; the header is corrupt`,
    );
  }
  if (h.grainSize > BigInt(limits.maxGrainSizeSectors)) {
    throw new ImageError(
      'BG_VMDK_LIMIT',
      `${name}: grain size ${h.grainSize} sectors at byte 20 exceeds the limit of ${limits.maxGrainSizeSectors} sectors (maxGrainSizeSectors)`,
    );
  }
  if (h.capacity * BigInt(SECTOR) > BigInt(limits.maxCapacityBytes)) {
    throw new ImageError(
      'BG_VMDK_LIMIT',
      `${name}: capacity ${h.capacity} sectors at byte 12 (${h.capacity * 512n} bytes) exceeds the limit of ${limits.maxCapacityBytes} bytes (maxCapacityBytes)`,
    );
  }
}

/** The parent named by a descriptor of a differencing disk; undefined for a standalone disk. */
export function vmdkParentOf(desc: VmdkDescriptor): string | undefined {
  const hint = desc.fields.parentFileNameHint;
  if (desc.parentCid === undefined || desc.parentCid === 'ffffffff' || hint === undefined) return undefined;
  return hint;
}

/** BG_VMDK_DIFFERENCING naming the parent when the descriptor is a differencing disk's. */
export function refuseDifferencing(desc: VmdkDescriptor, name: string): void {
  const parent = vmdkParentOf(desc);
  if (parent !== undefined) {
    throw new ImageError(
      'BG_VMDK_DIFFERENCING',
      `${name}: unsupported: differencing disk (a snapshot delta), parent "${parent}" (parentCID ${desc.parentCid}); convert the chain into one disk first, e.g. "qemu-img convert -O vmdk ${name} flat.vmdk", or consolidate the snapshots`,
    );
  }
}
