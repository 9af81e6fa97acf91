/**
 * VHDX reader ([MS-VHDX]). Layout: file type identifier "vhdxfile" at 0; two 4 KiB headers at
 * 64 KiB and 128 KiB (CRC-32C; the valid one with the higher sequence number is current); two
 * 64 KiB region tables at 192 KiB and 256 KiB (CRC-32C) locating the BAT and metadata regions by
 * GUID; the metadata table (file parameters, virtual disk size, logical sector size, parent
 * locator); the BAT, 64-bit entries (state in bits 0-2, file offset in MiB in bits 20-63) with a
 * sector bitmap entry after every `chunkRatio` payload entries. All integers little-endian; GUIDs
 * mixed-endian (first three fields little-endian). Differencing disks and files with an
 * unreplayed log are refused with typed errors. Memory: the BAT (8 bytes per block, limited).
 */
import { ImageError } from './errors';
import type { RandomAccessDisk, RandomAccessOpener } from './random-access-disk';
import { blockTableDisk } from './block-table';
import type { ByteSource } from './source';

const KiB = 1024;
const MiB = 1024 * KiB;
const TiB = 1024 * 1024 * MiB;
const HEADER_SIZE = 4 * KiB;
const REGION_TABLE_SIZE = 64 * KiB;
const METADATA_TABLE_SIZE = 64 * KiB;

/** GUID string → its 16 on-disk bytes (Data1..Data3 little-endian, Data4 as is). */
export function guidBytes(guid: string): Buffer {
  const h = guid.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  return Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8, 16),
  ]);
}

export const VHDX_GUIDS = {
  bat: guidBytes('2DC27766-F623-4200-9D64-115E9BFD4A08'),
  metadata: guidBytes('8B7CA206-4790-4B9A-B8FE-575F050F886E'),
  fileParameters: guidBytes('CAA16737-FA36-4D43-B3B6-33F0AA44E76B'),
  virtualDiskSize: guidBytes('2FA54224-CD1B-4876-B211-5DBED83BF4B8'),
  page83: guidBytes('BECA12AB-B2E6-4523-93EF-C309E000C746'),
  logicalSectorSize: guidBytes('8141BF1D-A96F-4709-BA47-F233A8FAAB5F'),
  physicalSectorSize: guidBytes('CDA348C7-445D-4471-9CC9-E9885251C556'),
  parentLocator: guidBytes('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C'),
} as const;

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as VHDX checksums use it. */
export function crc32c(buf: Buffer, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < buf.length; i++) c = CRC32C_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** The CRC-32C of a structure whose checksum field (4 bytes at `at`) counts as zero. */
export function vhdxChecksum(buf: Buffer, at = 4): number {
  const c = crc32c(buf.subarray(0, at));
  const z = crc32c(Buffer.alloc(4), c);
  return crc32c(buf.subarray(at + 4), z);
}

export interface VhdxLimits {
  /** Largest virtual size accepted (default 64 TiB, the format's maximum). */
  maxVirtualSize?: number;
  /** Largest number of BAT entries read into memory (default 4 Mi entries = 32 MiB). */
  maxBatEntries?: number;
  /** Largest block size accepted (default 256 MiB, the format's maximum). */
  maxBlockSize?: number;
  /** Largest log scanned for unreplayed entries when the header names one (default 64 MiB). */
  maxLogBytes?: number;
}

export interface VhdxHeader {
  sequenceNumber: bigint;
  logGuid: Buffer;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

export interface VhdxInfo {
  header: VhdxHeader;
  blockSize: number;
  logicalSectorSize: number;
  virtualSize: number;
  chunkRatio: number;
  batOffset: number;
  metadataOffset: number;
}

function fail(
  code:
    | 'BG_VHDX_BAD_HEADER'
    | 'BG_VHDX_BAD_REGION_TABLE'
    | 'BG_VHDX_BAD_METADATA'
    | 'BG_VHDX_BAD_BAT'
    | 'BG_VHDX_LIMIT',
  msg: string,
): never {
  throw new ImageError(code, msg);
}

function u64(buf: Buffer, at: number, what: string, code: Parameters<typeof fail>[0]): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(code, `${what} ${v} is out of range`);
  return Number(v);
}

function parseHeader(h: Buffer): VhdxHeader | undefined {
  if (h.subarray(0, 4).toString('latin1') !== 'head') return undefined;
  if (h.readUInt32LE(4) !== vhdxChecksum(h)) return undefined;
  const version = h.readUInt16LE(66);
  if (version !== 1) return undefined;
  return {
    sequenceNumber: h.readBigUInt64LE(8),
    logGuid: Buffer.from(h.subarray(48, 64)),
    logVersion: h.readUInt16LE(64),
    version,
    logLength: h.readUInt32LE(68),
    logOffset: Number(h.readBigUInt64LE(72) > BigInt(Number.MAX_SAFE_INTEGER) ? -1n : h.readBigUInt64LE(72)),
  };
}

function parseRegionTable(
  t: Buffer,
): Map<string, { offset: number; length: number; required: boolean }> | undefined {
  if (t.subarray(0, 4).toString('latin1') !== 'regi') return undefined;
  if (t.readUInt32LE(4) !== vhdxChecksum(t)) return undefined;
  const count = t.readUInt32LE(8);
  if (count > 2047) return undefined;
  const out = new Map<string, { offset: number; length: number; required: boolean }>();
  for (let i = 0; i < count; i++) {
    const e = t.subarray(16 + i * 32, 48 + i * 32);
    const off = e.readBigUInt64LE(16);
    out.set(e.subarray(0, 16).toString('hex'), {
      offset: off > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(off),
      length: e.readUInt32LE(24),
      required: (e.readUInt32LE(28) & 1) !== 0,
    });
  }
  return out;
}

const KNOWN_REGIONS = new Set([VHDX_GUIDS.bat.toString('hex'), VHDX_GUIDS.metadata.toString('hex')]);
const KNOWN_METADATA = new Set(
  [
    VHDX_GUIDS.fileParameters,
    VHDX_GUIDS.virtualDiskSize,
    VHDX_GUIDS.page83,
    VHDX_GUIDS.logicalSectorSize,
    VHDX_GUIDS.physicalSectorSize,
    VHDX_GUIDS.parentLocator,
  ].map((g) => g.toString('hex')),
);

/** Best-effort name of the parent from a parent locator item's key/value pairs. */
function parentName(loc: Buffer | undefined): string {
  if (!loc || loc.length < 20) return 'unknown (no parent locator)';
  const count = loc.readUInt16LE(18);
  const kv = new Map<string, string>();
  for (let i = 0; i < count && 20 + i * 12 + 12 <= loc.length; i++) {
    const e = 20 + i * 12;
    const ko = loc.readUInt32LE(e);
    const vo = loc.readUInt32LE(e + 4);
    const kl = loc.readUInt16LE(e + 8);
    const vl = loc.readUInt16LE(e + 10);
    if (ko + kl > loc.length || vo + vl > loc.length) continue;
    kv.set(loc.subarray(ko, ko + kl).toString('utf16le'), loc.subarray(vo, vo + vl).toString('utf16le'));
  }
  return (
    kv.get('relative_path') ??
    kv.get('absolute_win32_path') ??
    kv.get('volume_path') ??
    (kv.has('parent_linkage') ? `with linkage ${kv.get('parent_linkage')}` : 'unknown')
  );
}

const BAT_NOT_PRESENT = 0;
const BAT_UNDEFINED = 1;
const BAT_ZERO = 2;
const BAT_UNMAPPED = 3;
const BAT_FULLY_PRESENT = 6;
const BAT_PARTIALLY_PRESENT = 7;

/** Random access to a VHDX with limits other than the defaults. */
export function vhdxOpener(limits: VhdxLimits = {}): RandomAccessOpener {
  const maxVirtualSize = limits.maxVirtualSize ?? 64 * TiB;
  const maxBatEntries = limits.maxBatEntries ?? 4 * MiB;
  const maxBlockSize = limits.maxBlockSize ?? 256 * MiB;
  const maxLogBytes = limits.maxLogBytes ?? 64 * MiB;
  return async (src): Promise<RandomAccessDisk> => {
    const name = src.name;
    if (src.size < 1 * MiB) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${name}: ${src.size} bytes cannot hold a VHDX (its header section alone is 1 MiB); the file is incomplete`,
      );
    }
    const ident = await src.read(0, 8);
    if (ident.toString('latin1') !== 'vhdxfile') {
      fail('BG_VHDX_BAD_HEADER', `${name}: does not start with "vhdxfile"; this is not a VHDX`);
    }
    // headers: the valid one with the higher sequence number
    const h1 = parseHeader(await src.read(64 * KiB, HEADER_SIZE));
    const h2 = parseHeader(await src.read(128 * KiB, HEADER_SIZE));
    const header = h1 && h2 ? (h2.sequenceNumber > h1.sequenceNumber ? h2 : h1) : (h1 ?? h2);
    if (!header) {
      fail(
        'BG_VHDX_BAD_HEADER',
        `${name}: neither VHDX header (at 64 KiB and 128 KiB) is valid (signature, CRC-32C, version 1)`,
      );
    }
    if (!header.logGuid.equals(Buffer.alloc(16))) await checkLog(src, header, maxLogBytes);
    // region table: the first valid copy
    const regions =
      parseRegionTable(await src.read(192 * KiB, REGION_TABLE_SIZE)) ??
      parseRegionTable(await src.read(256 * KiB, REGION_TABLE_SIZE));
    if (!regions) {
      fail(
        'BG_VHDX_BAD_REGION_TABLE',
        `${name}: neither VHDX region table (at 192 KiB and 256 KiB) is valid (signature, CRC-32C, entry count)`,
      );
    }
    for (const [guid, r] of regions) {
      if (r.required && !KNOWN_REGIONS.has(guid)) {
        fail(
          'BG_VHDX_BAD_REGION_TABLE',
          `${name}: the VHDX has a required region this reader does not know (GUID bytes ${guid})`,
        );
      }
    }
    const batRegion = regions.get(VHDX_GUIDS.bat.toString('hex'));
    const metaRegion = regions.get(VHDX_GUIDS.metadata.toString('hex'));
    if (!batRegion || !metaRegion || batRegion.offset < MiB || metaRegion.offset < MiB) {
      fail('BG_VHDX_BAD_REGION_TABLE', `${name}: the VHDX region table lacks a valid BAT or metadata region`);
    }
    // metadata
    if (metaRegion.length < METADATA_TABLE_SIZE) {
      fail(
        'BG_VHDX_BAD_METADATA',
        `${name}: the metadata region is ${metaRegion.length} bytes, smaller than its 64 KiB table`,
      );
    }
    const table = await src.read(metaRegion.offset, METADATA_TABLE_SIZE);
    if (table.subarray(0, 8).toString('latin1') !== 'metadata') {
      fail('BG_VHDX_BAD_METADATA', `${name}: the metadata table does not start with "metadata"`);
    }
    const count = table.readUInt16LE(10);
    if (count > 2047)
      fail('BG_VHDX_BAD_METADATA', `${name}: the metadata table has ${count} entries (at most 2047)`);
    const items = new Map<string, Buffer>();
    for (let i = 0; i < count; i++) {
      const e = table.subarray(32 + i * 32, 64 + i * 32);
      const id = e.subarray(0, 16).toString('hex');
      const off = e.readUInt32LE(16);
      const len = e.readUInt32LE(20);
      const required = (e.readUInt32LE(24) & 4) !== 0;
      if (!KNOWN_METADATA.has(id)) {
        if (required)
          fail(
            'BG_VHDX_BAD_METADATA',
            `${name}: the VHDX has a required metadata item this reader does not know (GUID bytes ${id})`,
          );
        continue;
      }
      if (len > MiB || off + len > metaRegion.length || (len > 0 && off < METADATA_TABLE_SIZE)) {
        fail(
          'BG_VHDX_BAD_METADATA',
          `${name}: metadata item ${id} (${len} bytes at ${off}) lies outside its region`,
        );
      }
      items.set(id, await src.read(metaRegion.offset + off, len));
    }
    const item = (g: Buffer, len: number, what: string): Buffer => {
      const b = items.get(g.toString('hex'));
      if (!b || b.length < len)
        fail('BG_VHDX_BAD_METADATA', `${name}: the VHDX lacks its ${what} metadata item`);
      return b;
    };
    const params = item(VHDX_GUIDS.fileParameters, 8, 'file parameters');
    const blockSize = params.readUInt32LE(0);
    const hasParent = (params.readUInt32LE(4) & 2) !== 0;
    if (hasParent) {
      throw new ImageError(
        'BG_VHDX_DIFFERENCING',
        `${name}: unsupported: differencing disk, parent ${parentName(items.get(VHDX_GUIDS.parentLocator.toString('hex')))}; merge it first (Hyper-V "Edit Disk → Merge" or Merge-VHD)`,
      );
    }
    const virtualSize = u64(
      item(VHDX_GUIDS.virtualDiskSize, 8, 'virtual disk size'),
      0,
      `${name}: virtual disk size`,
      'BG_VHDX_BAD_METADATA',
    );
    const sector = item(VHDX_GUIDS.logicalSectorSize, 4, 'logical sector size').readUInt32LE(0);
    if (sector !== 512 && sector !== 4096) {
      fail('BG_VHDX_BAD_METADATA', `${name}: logical sector size ${sector} is neither 512 nor 4096`);
    }
    if ((blockSize & (blockSize - 1)) !== 0 || blockSize < MiB || blockSize > 256 * MiB) {
      fail(
        'BG_VHDX_BAD_METADATA',
        `${name}: block size ${blockSize} is not a power of two from 1 MiB to 256 MiB`,
      );
    }
    if (blockSize > maxBlockSize) {
      fail(
        'BG_VHDX_LIMIT',
        `${name}: block size ${blockSize} bytes exceeds the limit of ${maxBlockSize} (option maxBlockSize)`,
      );
    }
    if (virtualSize === 0 || virtualSize % sector !== 0) {
      fail(
        'BG_VHDX_BAD_METADATA',
        `${name}: virtual size ${virtualSize} is not a positive multiple of the ${sector}-byte sector`,
      );
    }
    if (virtualSize > maxVirtualSize) {
      fail(
        'BG_VHDX_LIMIT',
        `${name}: virtual size ${virtualSize} bytes exceeds the limit of ${maxVirtualSize} bytes (option maxVirtualSize)`,
      );
    }
    const chunkRatio = (2 ** 23 * sector) / blockSize;
    const blocks = Math.ceil(virtualSize / blockSize);
    const entries = blocks + Math.floor((blocks - 1) / chunkRatio);
    if (entries > maxBatEntries) {
      fail(
        'BG_VHDX_LIMIT',
        `${name}: ${entries} BAT entries exceed the limit of ${maxBatEntries} (option maxBatEntries)`,
      );
    }
    if (entries * 8 > batRegion.length) {
      fail(
        'BG_VHDX_BAD_BAT',
        `${name}: the BAT region holds ${batRegion.length} bytes, too few for ${entries} entries`,
      );
    }
    const batRaw = await src.read(batRegion.offset, entries * 8);
    // per payload block: file offset of its data, -1 zero
    const bat = new Float64Array(blocks);
    for (let i = 0; i < blocks; i++) {
      const at = (i + Math.floor(i / chunkRatio)) * 8;
      const lo = batRaw.readUInt32LE(at);
      const hi = batRaw.readUInt32LE(at + 4);
      const state = lo & 7;
      if (
        state === BAT_NOT_PRESENT ||
        state === BAT_UNDEFINED ||
        state === BAT_ZERO ||
        state === BAT_UNMAPPED
      ) {
        bat[i] = -1;
      } else if (state === BAT_FULLY_PRESENT) {
        const offset = (hi * 4096 + (lo >>> 20)) * MiB;
        const need = Math.min(blockSize, virtualSize - i * blockSize);
        if (offset < MiB)
          fail(
            'BG_VHDX_BAD_BAT',
            `${name}: payload block ${i} is at file offset ${offset}, inside the header section`,
          );
        if (offset + need > src.size) {
          throw new ImageError(
            'BG_IMAGE_TRUNCATED',
            `${name}: payload block ${i} at byte ${offset} runs past the end of the ${src.size}-byte file; the file is incomplete — transfer it again`,
          );
        }
        bat[i] = offset;
      } else if (state === BAT_PARTIALLY_PRESENT) {
        fail(
          'BG_VHDX_BAD_BAT',
          `${name}: payload block ${i} is partially present, which only a differencing disk may be`,
        );
      } else {
        fail('BG_VHDX_BAD_BAT', `${name}: payload block ${i} has the invalid state ${state}`);
      }
    }
    const capacity = virtualSize;
    return blockTableDisk({
      format: 'vhdx',
      name,
      capacity,
      blockSize,
      table: bat,
      readPart: async (at, inBlock, out, outOff, n) => {
        (await src.read(at + inBlock, n)).copy(out, outOff);
      },
    });
  };
}

/**
 * A header with a non-zero LogGuid may have writes in its log that never reached the file. Scans
 * the log for an entry ("loge") carrying that GUID: one means the file needs a replay.
 */
async function checkLog(src: ByteSource, header: VhdxHeader, maxLogBytes: number): Promise<void> {
  const advice =
    'the VHDX has unreplayed writes in its log (it was not closed cleanly); open it once in Hyper-V (or Mount-VHD), or run "qemu-img check -r all" on it, then try again';
  if (
    header.logOffset < MiB ||
    header.logLength > maxLogBytes ||
    header.logOffset + header.logLength > src.size
  ) {
    throw new ImageError('BG_VHDX_LOG_REPLAY', `${src.name}: ${advice}`);
  }
  for (let off = 0; off < header.logLength; off += MiB) {
    const chunk = await src.read(header.logOffset + off, Math.min(MiB, header.logLength - off));
    for (let s = 0; s + 48 <= chunk.length; s += 4 * KiB) {
      if (
        chunk.subarray(s, s + 4).toString('latin1') === 'loge' &&
        chunk.subarray(s + 32, s + 48).equals(header.logGuid)
      ) {
        throw new ImageError('BG_VHDX_LOG_REPLAY', `${src.name}: ${advice}`);
      }
    }
  }
}

/** Random access to a VHDX (default limits). */
export const openVhdx: RandomAccessOpener = vhdxOpener();
