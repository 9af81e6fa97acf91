/**
 * Random access to VMDK hosted sparse extents: monolithicSparse (uncompressed grains) and
 * streamOptimized (zlib grains behind a 12-byte grain marker), through the grain directory and
 * grain tables. streamOptimized files in VMware's layout (GD_AT_END in the header) are located
 * through the footer at size-1024; qemu's layout has gdOffset in the header. The redundant grain
 * directory is ignored. Memory: the grain directory (4 bytes per grain table), an LRU of grain
 * tables and one decompressed grain. The monolithicSparse writer is vmdk-sparse-writer.ts.
 */
import type { ImageFormat } from './detect';
import { ImageError } from './errors';
import { inflateGrainInto } from './grain-inflate';
import {
  checkDiskRange,
  type MappedRange,
  type OpenRandomAccessOptions,
  type RandomAccessDisk,
} from './random-access-disk';
import { readSourceInto, type ByteSource } from './source';
import {
  checkVmdkGrainAndCapacity,
  COMPRESSION_DEFLATE,
  FLAG_COMPRESSED,
  FLAG_MARKERS,
  GD_AT_END,
  SECTOR,
  VMDK_MAGIC,
  parseVmdkDescriptor,
  parseVmdkHeader,
  refuseDifferencing,
  type VmdkDescriptor,
  type VmdkHeader,
} from './vmdk-format';

export interface SparseVmdkLimits {
  /** Largest virtual capacity accepted (default 64 TiB). */
  maxCapacityBytes?: number;
  /** Largest grain accepted, in 512-byte sectors (default 2048 = 1 MiB). */
  maxGrainSizeSectors?: number;
  /** Largest numGTEsPerGT accepted (default 512, the only value VMware, VirtualBox and qemu write). */
  maxGTEsPerGT?: number;
  /** Largest grain directory accepted (default 16 MiB: 64 TiB of 64 KiB grains needs 8 MiB). */
  maxGrainDirectoryBytes?: number;
  /** Largest embedded descriptor accepted (default 64 KiB). */
  maxDescriptorBytes?: number;
  /** Grain tables kept in memory (default 64; an LRU). */
  grainTableCache?: number;
}

/** Options of openSparseVmdk: the common ones plus `vmdk` limits. */
export interface VmdkRandomAccessOptions extends OpenRandomAccessOptions {
  vmdk?: SparseVmdkLimits & { maxDescriptorFileBytes?: number; maxExtents?: number };
}

export interface SparseVmdkDisk extends RandomAccessDisk {
  readonly header: VmdkHeader;
  /** The embedded descriptor; undefined when the extent has none (an extent of a descriptor file). */
  readonly descriptor: VmdkDescriptor | undefined;
  readonly compressed: boolean;
  /** Where the grain directory came from: the header, or the footer (VMware's streamOptimized layout). */
  readonly gdFrom: 'header' | 'footer';
}

const DEFAULTS = {
  maxCapacityBytes: 64 * 1024 ** 4,
  maxGrainSizeSectors: 2048,
  maxGTEsPerGT: 512,
  maxGrainDirectoryBytes: 16 * 1024 * 1024,
  maxDescriptorBytes: 64 * 1024,
  grainTableCache: 64,
} satisfies Required<SparseVmdkLimits>;

/** Appends a range to a list, merging it with the previous one when both are of one kind. */
function pushRange(out: MappedRange[], offset: number, length: number, zero: boolean): void {
  const last = out[out.length - 1];
  if (last && last.zero === zero && last.offset + last.length === offset) last.length += length;
  else out.push({ offset, length, zero });
}

/**
 * Opens one hosted sparse extent (the 512-byte header with magic "KDMV") for random access.
 * `format` is what the returned disk reports.
 */
export async function openSparseVmdkExtent(
  src: ByteSource,
  limits: SparseVmdkLimits = {},
  format?: ImageFormat,
): Promise<SparseVmdkDisk> {
  const L = { ...DEFAULTS, ...limits };
  const name = src.name;
  const h = parseVmdkHeader(await src.read(0, SECTOR));
  if (h.magic !== VMDK_MAGIC) {
    throw new ImageError(
      'BG_VMDK_BAD_MAGIC',
      `${name}: byte 0 holds 0x${h.magic.toString(16).padStart(8, '0')} instead of the VMDK magic "KDMV" (0x564d444b); this is not a VMDK sparse extent`,
    );
  }
  if (h.version < 1 || h.version > 3) {
    throw new ImageError(
      'BG_VMDK_BAD_VERSION',
      `${name}: header version ${h.version} at byte 4 is not supported (expected 1 to 3)`,
    );
  }
  const compressed = (h.flags & FLAG_COMPRESSED) !== 0;
  const markers = (h.flags & FLAG_MARKERS) !== 0;
  if (compressed && h.compressAlgorithm !== COMPRESSION_DEFLATE) {
    throw new ImageError(
      'BG_VMDK_BAD_HEADER',
      `${name}: compressAlgorithm ${h.compressAlgorithm} at byte 77 is not deflate (1); the header is corrupt or from an unknown tool`,
    );
  }
  checkVmdkGrainAndCapacity(h, name, L);
  if (h.numGTEsPerGT === 0 || h.numGTEsPerGT > L.maxGTEsPerGT) {
    throw new ImageError(
      h.numGTEsPerGT === 0 ? 'BG_VMDK_BAD_HEADER' : 'BG_VMDK_LIMIT',
      `${name}: numGTEsPerGT ${h.numGTEsPerGT} at byte 44 is out of range (1 to ${L.maxGTEsPerGT}, maxGTEsPerGT; VMware writes 512)`,
    );
  }
  if (h.descriptorSize * BigInt(SECTOR) > BigInt(L.maxDescriptorBytes)) {
    throw new ImageError(
      'BG_VMDK_LIMIT',
      `${name}: embedded descriptor of ${h.descriptorSize} sectors (byte 36) exceeds the limit of ${L.maxDescriptorBytes} bytes (maxDescriptorBytes)`,
    );
  }
  const sectorsInFile = BigInt(Math.floor(src.size / SECTOR));
  let descriptor: VmdkDescriptor | undefined;
  if (h.descriptorSize > 0n && h.descriptorOffset > 0n) {
    if (h.descriptorOffset + h.descriptorSize > sectorsInFile) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${name} ends early: its embedded descriptor (sectors ${h.descriptorOffset}..${h.descriptorOffset + h.descriptorSize}) lies beyond the end of the file (${src.size} bytes); the file is incomplete — transfer it again`,
      );
    }
    const text = (
      await src.read(Number(h.descriptorOffset) * SECTOR, Number(h.descriptorSize) * SECTOR)
    ).toString('latin1');
    descriptor = parseVmdkDescriptor(text.replace(/\0[\s\S]*$/, ''));
    refuseDifferencing(descriptor, name);
  }

  let gdOffset = h.gdOffset;
  let gdFrom: SparseVmdkDisk['gdFrom'] = 'header';
  if (gdOffset === GD_AT_END) {
    // VMware's streamOptimized layout: footer marker, footer (a header copy with the real gdOffset), EOS
    if (src.size < 3 * SECTOR) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${name} ends early: the header says the grain directory is at the end (GD_AT_END) but the file (${src.size} bytes) has no room for the footer; the file is incomplete — transfer it again`,
      );
    }
    const footerAt = (Math.floor(src.size / SECTOR) - 2) * SECTOR;
    const footer = parseVmdkHeader(await src.read(footerAt, SECTOR));
    if (footer.magic !== VMDK_MAGIC || footer.gdOffset === GD_AT_END) {
      throw new ImageError(
        'BG_IMAGE_TRUNCATED',
        `${name}: the header says the grain directory is at the end (GD_AT_END), but byte ${footerAt} holds no footer with its offset; the file is incomplete or corrupt — transfer it again`,
      );
    }
    gdOffset = footer.gdOffset;
    gdFrom = 'footer';
  }
  const grainSectors = Number(h.grainSize);
  const grainBytes = grainSectors * SECTOR;
  const capacity = Number(h.capacity) * SECTOR;
  const gtes = h.numGTEsPerGT;
  const numGrains = Math.ceil(Number(h.capacity) / grainSectors);
  const numGTs = Math.ceil(numGrains / gtes);
  const gdBytes = numGTs * 4;
  if (gdBytes > L.maxGrainDirectoryBytes) {
    throw new ImageError(
      'BG_VMDK_LIMIT',
      `${name}: the grain directory needs ${gdBytes} bytes (capacity ${h.capacity} sectors, grains of ${grainSectors} sectors, ${gtes} per table), more than the limit of ${L.maxGrainDirectoryBytes} bytes (maxGrainDirectoryBytes)`,
    );
  }
  if (numGTs > 0 && gdOffset === 0n) {
    throw new ImageError(
      'BG_VMDK_BAD_HEADER',
      `${name}: gdOffset at byte 56 is 0; the grain directory cannot overlap the header — the header is corrupt`,
    );
  }
  if (numGTs > 0 && gdOffset * BigInt(SECTOR) + BigInt(gdBytes) > BigInt(src.size)) {
    throw new ImageError(
      'BG_IMAGE_TRUNCATED',
      `${name} ends early: the grain directory (${gdBytes} bytes at sector ${gdOffset}) lies beyond the end of the file (${src.size} bytes); the file is incomplete — transfer it again`,
    );
  }
  const gd = numGTs > 0 ? await src.read(Number(gdOffset) * SECTOR, gdBytes) : Buffer.alloc(0);
  const gtBytes = gtes * 4;

  const gtCache = new Map<number, Promise<Buffer>>();
  const cacheSize = Math.max(1, L.grainTableCache);
  // read-ahead of grain tables in map(); never so many that the table in use could be evicted
  const GT_PREFETCH = Math.min(8, cacheSize - 1);
  function grainTable(i: number): Promise<Buffer> | undefined {
    const sector = gd.readUInt32LE(i * 4);
    if (sector === 0) return undefined;
    const hit = gtCache.get(i);
    if (hit) {
      gtCache.delete(i);
      gtCache.set(i, hit);
      return hit;
    }
    const off = sector * SECTOR;
    const p =
      off + gtBytes > src.size
        ? Promise.reject(
            new ImageError(
              'BG_IMAGE_TRUNCATED',
              `${name} ends early: grain table ${i} (${gtBytes} bytes at sector ${sector}) lies beyond the end of the file (${src.size} bytes); the file is incomplete or corrupt — transfer it again`,
            ),
          )
        : src.read(off, gtBytes);
    p.catch(() => {
      if (gtCache.get(i) === p) gtCache.delete(i);
    });
    gtCache.set(i, p);
    while (gtCache.size > cacheSize) {
      const oldest = gtCache.keys().next().value as number;
      gtCache.delete(oldest);
    }
    return p;
  }

  /** The grain table entry of grain g: 0 unallocated, 1 zero grain, else the grain's sector. */
  async function gte(g: number): Promise<number> {
    const t = grainTable(Math.floor(g / gtes));
    if (!t) return 0;
    return (await t).readUInt32LE((g % gtes) * 4);
  }

  const maxCompressed = grainBytes * 2 + 4096;
  let lastGrain: { g: number; data: Buffer } | undefined;
  // One buffer for compressed grains, reused while no other read is between its await and its
  // inflate (reads of one disk may overlap): a grain costs no allocation but its inflated copy.
  let scratch: Buffer | undefined;
  let scratchBusy = false;
  async function readCompressed(at: number, n: number): Promise<Buffer> {
    if (scratchBusy || !src.readInto) return src.read(at, n);
    scratch ??= Buffer.allocUnsafe(maxCompressed + 12);
    const into = scratch.subarray(0, n);
    scratchBusy = true;
    try {
      await src.readInto(at, into);
    } catch (err) {
      scratchBusy = false;
      throw err;
    }
    return into; // released by inflateCompressed
  }
  /**
   * Inflates the grain g, stored at `sector`, into `dest` (grainBytes long) and returns its length.
   * A source that can lend a view of its bytes (`peek`: the worker's read-ahead window) is read
   * without copies: marker, compressed data and output buffer are never allocated per grain.
   */
  async function inflateGrain(g: number, sector: number, dest: Buffer): Promise<number> {
    const at = sector * SECTOR;
    const corrupt = (why: string, cause?: unknown): ImageError =>
      new ImageError(
        'BG_VMDK_CORRUPT_GRAIN',
        `${name}: the grain for LBA ${g * grainSectors} at byte ${at} ${why}; the file is corrupt`,
        cause === undefined ? undefined : { cause },
      );
    const checkMarker = (m: Buffer): number => {
      const lba = m.readBigUInt64LE(0);
      const size = m.readUInt32LE(8);
      if (lba !== BigInt(g * grainSectors)) throw corrupt(`starts with a grain marker for LBA ${lba}`);
      if (size === 0 || size > maxCompressed) {
        throw corrupt(
          `claims ${size} compressed bytes (a ${grainBytes}-byte grain needs 1 to ${maxCompressed})`,
        );
      }
      return size;
    };
    const inflate = (zdata: Buffer): number => {
      try {
        return inflateGrainInto(zdata, dest);
      } catch (err) {
        throw corrupt(`does not decompress (zlib: ${(err as Error).message})`, err);
      }
    };
    let n: number;
    const peekable = src.peek && at + 12 <= src.size;
    const marker = markers && peekable ? src.peek?.(at, 12) : undefined;
    if (marker) {
      const size = checkMarker(marker);
      const zdata = at + 12 + size <= src.size ? src.peek?.(at + 12, size) : undefined;
      n = zdata ? inflate(zdata) : await inflateRead(at + 12, size);
    } else if (markers) {
      const m = await readCompressed(at, 12);
      let size: number;
      try {
        size = checkMarker(m);
      } finally {
        if (scratch && m.buffer === scratch.buffer) scratchBusy = false; // parsed: the scratch is free again
      }
      n = await inflateRead(at + 12, size);
    } else {
      n = await inflateRead(at, Math.min(maxCompressed, src.size - at));
    }
    const expected = Math.min(grainBytes, capacity - g * grainBytes);
    if (n !== grainBytes && n !== expected) {
      throw corrupt(`decompresses to ${n} bytes instead of ${grainBytes}`);
    }
    return n;

    async function inflateRead(from: number, size: number): Promise<number> {
      const zdata = await readCompressed(from, size);
      try {
        return inflate(zdata);
      } finally {
        if (scratch && zdata.buffer === scratch.buffer) scratchBusy = false;
      }
    }
  }

  /** The grain g's data (the last one read is kept: reads of parts of one grain follow each other). */
  async function compressedGrain(g: number, sector: number): Promise<Buffer> {
    if (lastGrain?.g === g) return lastGrain.data;
    const data = Buffer.allocUnsafe(grainBytes);
    const n = await inflateGrain(g, sector, data);
    lastGrain = { g, data: data.subarray(0, n) };
    return lastGrain.data;
  }

  async function* map(offset = 0, length = capacity - offset): AsyncGenerator<MappedRange> {
    checkDiskRange(name, capacity, offset, length);
    const end = offset + length;
    let pos = offset;
    while (pos < end) {
      const out: MappedRange[] = [];
      // one grain table's span per round: a whole unallocated table is one range
      const g0 = Math.floor(pos / grainBytes);
      const tableIdx = Math.floor(g0 / gtes);
      const tableEnd = Math.min(end, (tableIdx + 1) * gtes * grainBytes);
      const t = grainTable(tableIdx);
      // the next tables are asked for now, so their reads overlap (one at a time, each is a round
      // trip: 64 tables of a 2 GiB disk took 13-30 ms through libuv, far more over S3)
      const lastTable = Math.min(numGTs - 1, Math.floor((end - 1) / (gtes * grainBytes)));
      for (let k = 1; k <= GT_PREFETCH && tableIdx + k <= lastTable; k++) void grainTable(tableIdx + k);
      if (!t) {
        pushRange(out, pos, tableEnd - pos, true);
      } else {
        const table = await t;
        while (pos < tableEnd) {
          const g = Math.floor(pos / grainBytes);
          const next = Math.min(tableEnd, (g + 1) * grainBytes);
          const e = table.readUInt32LE((g % gtes) * 4);
          pushRange(out, pos, next - pos, e <= 1);
          pos = next;
        }
      }
      pos = tableEnd;
      yield* out;
    }
  }

  async function read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    await readInto(offset, out);
    return out;
  }

  async function readInto(offset: number, out: Buffer): Promise<void> {
    const length = out.length;
    checkDiskRange(name, capacity, offset, length);
    let pos = offset;
    const end = offset + length;
    while (pos < end) {
      const g = Math.floor(pos / grainBytes);
      const inGrain = pos - g * grainBytes;
      const n = Math.min(end, (g + 1) * grainBytes) - pos;
      const e = await gte(g);
      if (e > 1) {
        if (compressed && inGrain === 0 && n === grainBytes) {
          // a whole grain: inflated in place
          await inflateGrain(g, e, out.subarray(pos - offset, pos - offset + n));
        } else if (compressed) {
          const data = await compressedGrain(g, e);
          data.copy(out, pos - offset, inGrain, inGrain + n);
        } else {
          const at = e * SECTOR + inGrain;
          if (at + n > src.size) {
            throw new ImageError(
              'BG_IMAGE_TRUNCATED',
              `${name} ends early: the grain for LBA ${g * grainSectors} (sector ${e}) lies beyond the end of the file (${src.size} bytes); the file is incomplete or corrupt — transfer it again`,
            );
          }
          await readSourceInto(src, at, out.subarray(pos - offset, pos - offset + n));
        }
      } else {
        out.fill(0, pos - offset, pos - offset + n);
      }
      pos += n;
    }
  }

  /** What map() reports as data: one pass over the grain tables (a 2 GiB disk: 32768 entries). */
  async function allocatedBytes(): Promise<number> {
    let grains = 0;
    let lastAllocated = false;
    for (let i = 0; i < numGTs; i++) {
      const t = grainTable(i);
      if (!t) continue;
      const table = await t;
      const entries = Math.min(gtes, numGrains - i * gtes);
      for (let k = 0; k < entries; k++) {
        if (table.readUInt32LE(k * 4) > 1) {
          grains++;
          if (i * gtes + k === numGrains - 1) lastAllocated = true;
        }
      }
    }
    // the last grain may reach past the capacity
    return grains * grainBytes - (lastAllocated ? numGrains * grainBytes - capacity : 0);
  }

  return {
    format: format ?? (compressed ? 'vmdk-stream-optimized' : 'vmdk-monolithic-sparse'),
    capacity,
    header: { ...h, gdOffset },
    descriptor,
    compressed,
    gdFrom,
    map,
    read,
    readInto,
    allocatedBytes,
  };
}

/**
 * RandomAccessOpener for monolithicSparse and streamOptimized VMDKs (both layouts). Limits in
 * `opts.vmdk`. A differencing disk (parentCID set, parentFileNameHint) is refused with
 * BG_VMDK_DIFFERENCING naming the parent.
 */
export function openSparseVmdk(src: ByteSource, opts: VmdkRandomAccessOptions = {}): Promise<SparseVmdkDisk> {
  return openSparseVmdkExtent(src, opts.vmdk, opts.format);
}
