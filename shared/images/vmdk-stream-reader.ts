import { inflate } from 'node:zlib';
import { promisify } from 'node:util';

const inflateAsync = promisify(inflate);
import { ByteReader } from './byte-reader';
import { ImageError } from './errors';
import { inflateGrainInto } from './grain-inflate';
import { isAllZero, normalizeExtents, type DiskExtent, type DiskStream } from './extents';
import {
  checkVmdkGrainAndCapacity,
  COMPRESSION_DEFLATE,
  FLAG_COMPRESSED,
  FLAG_MARKERS,
  GD_AT_END,
  MARKER_EOS,
  MARKER_FOOTER,
  MARKER_GD,
  MARKER_GT,
  SECTOR,
  VMDK_MAGIC,
  parseVmdkDescriptor,
  parseVmdkHeader,
  type VmdkDescriptor,
  type VmdkHeader,
} from './vmdk-format';

export { parseVmdkDescriptor, type VmdkDescriptor, type VmdkHeader } from './vmdk-format';

export interface VmdkReaderOptions {
  /** Largest virtual capacity accepted (default 64 TiB). */
  maxCapacityBytes?: number;
  /** Largest grain accepted, in 512-byte sectors (default 2048 = 1 MiB). */
  maxGrainSizeSectors?: number;
  /** Largest embedded descriptor accepted (default 64 KiB). */
  maxDescriptorBytes?: number;
  /** Report all-zero grains as zero extents (default true). */
  zeroDetect?: boolean;
  /**
   * Grains inflated at once on the libuv thread pool (default 4): decompression is the heavy part
   * of reading, and the pool spreads it over the cores. Extents still come out in order; memory
   * is bounded by this many grains.
   */
  concurrency?: number;
  /**
   * Require the end-of-stream marker (default true). Every known writer (VMware, VirtualBox, qemu)
   * writes one; without it a file cut at a grain boundary would look complete.
   */
  requireEndOfStream?: boolean;
  /** Name used in error messages (default 'VMDK'). */
  what?: string;
}

export interface VmdkStreamInfo {
  descriptor: VmdkDescriptor;
  header: VmdkHeader;
  /** 'gd-at-end': VMware layout (GD_AT_END in the header, footer, EOS); 'gd-in-header': qemu's. */
  layout: 'gd-at-end' | 'gd-in-header';
}

const DEFAULT_MAX_CAPACITY = 64 * 1024 ** 4;
const DEFAULT_MAX_GRAIN_SECTORS = 2048;
const DEFAULT_MAX_DESCRIPTOR = 64 * 1024;

/**
 * Reads a streamOptimized VMDK sequentially by walking its markers. Works for VMware's layout (grain
 * directory at the end, footer, end-of-stream marker) and qemu's (directory in the header, no
 * footer). Memory stays bounded: one grain at a time. Grain tables and directories are skipped: the
 * markers carry every grain's LBA.
 */
export class VmdkStreamReader {
  private readonly maxCapacity: number;
  private readonly maxGrainSectors: number;
  private readonly maxDescriptor: number;
  private readonly zeroDetect: boolean;
  private readonly what: string;
  private readonly requireEos: boolean;
  private readonly concurrency: number;

  constructor(opts: VmdkReaderOptions = {}) {
    this.maxCapacity = opts.maxCapacityBytes ?? DEFAULT_MAX_CAPACITY;
    this.maxGrainSectors = opts.maxGrainSizeSectors ?? DEFAULT_MAX_GRAIN_SECTORS;
    this.maxDescriptor = opts.maxDescriptorBytes ?? DEFAULT_MAX_DESCRIPTOR;
    this.zeroDetect = opts.zeroDetect ?? true;
    this.what = opts.what ?? 'VMDK';
    this.requireEos = opts.requireEndOfStream ?? true;
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  }

  /**
   * Reads the header and the embedded descriptor now; the returned DiskStream's extents read the
   * grains lazily. Header problems reject this promise; grain problems throw from the extents.
   */
  async read(input: AsyncIterable<Buffer>): Promise<DiskStream & VmdkStreamInfo> {
    const what = this.what;
    const r = new ByteReader(input, what);
    let handedOver = false;
    try {
      const hbuf = await r.read(SECTOR, 'the VMDK header');
      const h = parseVmdkHeader(hbuf);
      if (h.magic !== VMDK_MAGIC) {
        throw new ImageError(
          'BG_VMDK_BAD_MAGIC',
          `${what}: byte 0 holds 0x${h.magic.toString(16).padStart(8, '0')} instead of the VMDK magic "KDMV" (0x564d444b); this is not a VMDK sparse extent (a descriptor-only .vmdk or another format?)`,
        );
      }
      if (h.version < 1 || h.version > 3) {
        throw new ImageError(
          'BG_VMDK_BAD_VERSION',
          `${what}: header version ${h.version} at byte 4 is not supported (expected 1 to 3)`,
        );
      }
      if (
        (h.flags & FLAG_COMPRESSED) === 0 ||
        (h.flags & FLAG_MARKERS) === 0 ||
        h.compressAlgorithm !== COMPRESSION_DEFLATE
      ) {
        throw new ImageError(
          'BG_VMDK_NOT_STREAM_OPTIMIZED',
          `${what}: the header (flags 0x${h.flags.toString(16)} at byte 8, compressAlgorithm ${h.compressAlgorithm} at byte 77) does not describe a streamOptimized VMDK (compressed grains with markers); this looks like a monolithicSparse or hosted VMDK — convert it with "qemu-img convert -O vmdk -o subformat=streamOptimized" or export it as OVA`,
        );
      }
      checkVmdkGrainAndCapacity(h, what, {
        maxGrainSizeSectors: this.maxGrainSectors,
        maxCapacityBytes: this.maxCapacity,
      });
      if (h.numGTEsPerGT === 0 || h.numGTEsPerGT > 65536) {
        throw new ImageError(
          'BG_VMDK_BAD_HEADER',
          `${what}: numGTEsPerGT ${h.numGTEsPerGT} at byte 44 is out of range (VMware uses 512); the header is corrupt`,
        );
      }
      if (h.descriptorSize * BigInt(SECTOR) > BigInt(this.maxDescriptor)) {
        throw new ImageError(
          'BG_VMDK_LIMIT',
          `${what}: embedded descriptor of ${h.descriptorSize} sectors (byte 36) exceeds the limit of ${this.maxDescriptor} bytes (maxDescriptorBytes)`,
        );
      }
      const descStart = h.descriptorOffset * BigInt(SECTOR);
      const descEnd = descStart + h.descriptorSize * BigInt(SECTOR);
      const dataStart = h.overHead * BigInt(SECTOR);
      if (h.descriptorSize > 0n && (h.descriptorOffset < 1n || descEnd > dataStart)) {
        throw new ImageError(
          'BG_VMDK_BAD_HEADER',
          `${what}: the descriptor (sectors ${h.descriptorOffset}..${h.descriptorOffset + h.descriptorSize}) does not lie between the header and the first grain (overHead ${h.overHead} sectors); the header is corrupt`,
        );
      }
      // qemu's layout puts the (redundant) grain directories and all grain tables before overHead
      const grains = (h.capacity + h.grainSize - 1n) / h.grainSize;
      const gts = (grains + BigInt(h.numGTEsPerGT) - 1n) / BigInt(h.numGTEsPerGT);
      const gtSectors = (BigInt(h.numGTEsPerGT) * 4n + 511n) / 512n;
      const maxOverHead = 2n * (gts * gtSectors + (gts * 4n + 511n) / 512n) + h.descriptorSize + 1024n;
      if (h.overHead < 1n || h.overHead > maxOverHead) {
        throw new ImageError(
          'BG_VMDK_BAD_HEADER',
          `${what}: overHead ${h.overHead} sectors at byte 64 is out of range; the header is corrupt`,
        );
      }
      const capacity = Number(h.capacity) * SECTOR;
      let descriptor: VmdkDescriptor;
      if (h.descriptorSize > 0n) {
        await r.skip(Number(descStart) - r.position, 'the gap before the descriptor');
        const text = (await r.read(Number(h.descriptorSize) * SECTOR, 'the embedded descriptor')).toString(
          'latin1',
        );
        descriptor = parseVmdkDescriptor(text.replace(/\0[\s\S]*$/, ''));
        if (descriptor.createType !== undefined && !/^streamOptimized$/i.test(descriptor.createType)) {
          // the header rules; some tools write "monolithicSparse" here for compressed exports
          descriptor.fields['x-burstgate-createTypeMismatch'] = descriptor.createType;
        }
      } else {
        descriptor = {
          createType: 'streamOptimized',
          extents: [{ access: 'RW', sectors: Number(h.capacity), type: 'SPARSE' }],
          ddb: {},
          capacitySectors: Number(h.capacity),
          fields: {},
        };
      }
      const header: VmdkHeader = { ...h };
      const layout = h.gdOffset === GD_AT_END ? 'gd-at-end' : 'gd-in-header';
      const expectedGrains =
        layout === 'gd-in-header' ? await this.countAllocatedGrains(r, h, Number(dataStart)) : undefined;
      await r.skip(Number(dataStart) - r.position, 'the metadata before the first grain');
      handedOver = true;
      return {
        capacity,
        descriptor,
        header,
        layout,
        extents: normalizeExtents(this.walk(r, header, capacity, layout, expectedGrains), capacity, what),
      };
    } finally {
      if (!handedOver) await r.close();
    }
  }

  /**
   * qemu's layout: the grain directory and every grain table lie between the descriptor and the
   * first grain. Reads them on the way (the bytes must be read anyway) and counts the allocated
   * grains. Returns undefined when the tables are not all in that area.
   */
  private async countAllocatedGrains(
    r: ByteReader,
    h: VmdkHeader,
    dataStart: number,
  ): Promise<number | undefined> {
    const grainsTotal = Math.ceil(Number(h.capacity) / Number(h.grainSize));
    const numGTs = Math.ceil(grainsTotal / h.numGTEsPerGT);
    const gdStart = Number(h.gdOffset) * SECTOR;
    const gdBytes = numGTs * 4;
    if (gdStart < r.position || gdStart + gdBytes > dataStart) return undefined;
    await r.skip(gdStart - r.position, 'the metadata before the grain directory');
    const gd = await r.read(gdBytes, 'the grain directory');
    const gtBytes = h.numGTEsPerGT * 4;
    let count = 0;
    for (let i = 0; i < numGTs; i++) {
      const gtSector = gd.readUInt32LE(i * 4);
      if (gtSector === 0) continue;
      const gtStart = gtSector * SECTOR;
      if (gtStart < r.position || gtStart + gtBytes > dataStart) return undefined;
      await r.skip(gtStart - r.position, 'the metadata before a grain table');
      const gt = await r.read(gtBytes, `grain table ${i}`);
      const entries = Math.min(h.numGTEsPerGT, grainsTotal - i * h.numGTEsPerGT);
      for (let j = 0; j < entries; j++) if (gt.readUInt32LE(j * 4) > 1) count++;
    }
    return count;
  }

  private async *walk(
    r: ByteReader,
    h: VmdkHeader,
    capacity: number,
    layout: VmdkStreamInfo['layout'],
    expectedGrains: number | undefined,
  ): AsyncGenerator<DiskExtent> {
    const what = this.what;
    const grainBytes = Number(h.grainSize) * SECTOR;
    const maxCompressed = grainBytes * 2 + 4096;
    const numGrains = Math.ceil(capacity / grainBytes);
    const numGTs = Math.ceil(numGrains / h.numGTEsPerGT);
    const gtSectors = Math.ceil((h.numGTEsPerGT * 4) / SECTOR);
    const gdSectors = Math.ceil((numGTs * 4) / SECTOR);
    const maxMetaSectors = Math.max(gtSectors, gdSectors) * 2 + 64;
    let pos = 0;
    let sawFooter = false;
    let grains = 0;
    interface Pending {
      gapFrom: number;
      off: number;
      expected: number;
      lba: bigint;
      at: number;
      data: Promise<Buffer | Error>;
    }
    const inflating: Pending[] = [];
    // Rejections are kept as values so a grain failing early cannot become an unhandled rejection.
    // A grain that barely compressed is mostly stored blocks: inflating it is a copy, cheaper on
    // this thread than a thread-pool round trip; real compression goes to the pool, in parallel.
    const zlibOpts = { maxOutputLength: grainBytes, chunkSize: Math.max(grainBytes, 64 * 1024) };
    const inflateGrain = (compressed: Buffer): Promise<Buffer | Error> => {
      if (compressed.length >= grainBytes * 0.9) {
        try {
          const out = Buffer.allocUnsafe(grainBytes);
          return Promise.resolve(out.subarray(0, inflateGrainInto(compressed, out)));
        } catch (err) {
          return Promise.resolve(err as Error);
        }
      }
      return inflateAsync(compressed, zlibOpts).catch((err: Error) => err);
    };
    const zeroDetect = this.zeroDetect;
    async function* settle(p: Pending): AsyncGenerator<DiskExtent> {
      const data = await p.data;
      if (data instanceof Error) {
        throw new ImageError(
          'BG_VMDK_CORRUPT_GRAIN',
          `${what}: the grain for LBA ${p.lba} at byte ${p.at} does not decompress (zlib: ${data.message}); the file is corrupt`,
          { cause: data },
        );
      }
      if (data.length !== grainBytes && data.length !== p.expected) {
        throw new ImageError(
          'BG_VMDK_CORRUPT_GRAIN',
          `${what}: the grain for LBA ${p.lba} at byte ${p.at} decompresses to ${data.length} bytes instead of ${grainBytes}; the file is corrupt`,
        );
      }
      if (p.off > p.gapFrom) yield { kind: 'zero', offset: p.gapFrom, length: p.off - p.gapFrom };
      const piece = data.length === p.expected ? data : data.subarray(0, p.expected);
      if (zeroDetect && isAllZero(piece)) yield { kind: 'zero', offset: p.off, length: p.expected };
      else yield { kind: 'data', offset: p.off, data: piece };
    }
    try {
      for (;;) {
        const at = r.position;
        if (await r.atEnd()) {
          // qemu writes no end-of-stream marker when it wrote no grain at all; its grain tables
          // (before the first grain) say how many grains to expect, so a cut file is still caught
          const complete = expectedGrains !== undefined && grains === expectedGrains;
          if (!complete && (this.requireEos || layout === 'gd-at-end' || sawFooter)) {
            throw new ImageError(
              'BG_IMAGE_TRUNCATED',
              `${what} ends at byte ${at} without its end-of-stream marker${sawFooter ? ' (after the footer)' : ''}; the file is incomplete — transfer it again`,
            );
          }
          break; // tolerated only when requireEndOfStream is false
        }
        const m = await r.read(12, `the marker at byte ${at}`);
        const val = m.readBigUInt64LE(0);
        const size = m.readUInt32LE(8);
        if (size > 0) {
          if (size > maxCompressed) {
            throw new ImageError(
              'BG_VMDK_CORRUPT_GRAIN',
              `${what}: grain marker at byte ${at} claims ${size} compressed bytes, more than a ${grainBytes}-byte grain can need; the file is corrupt`,
            );
          }
          const lba = val;
          if (lba % h.grainSize !== 0n) {
            throw new ImageError(
              'BG_VMDK_CORRUPT_GRAIN',
              `${what}: grain marker at byte ${at} has LBA ${lba}, not a multiple of the grain size (${h.grainSize} sectors); the file is corrupt`,
            );
          }
          if (lba >= h.capacity) {
            throw new ImageError(
              'BG_VMDK_CORRUPT_GRAIN',
              `${what}: grain marker at byte ${at} has LBA ${lba}, beyond the capacity of ${h.capacity} sectors; the file is corrupt`,
            );
          }
          const off = Number(lba) * SECTOR;
          if (off < pos) {
            throw new ImageError(
              'BG_VMDK_CORRUPT_GRAIN',
              `${what}: grain marker at byte ${at} has LBA ${lba}, which is out of order or overlaps data already read (up to sector ${pos / SECTOR}); grains must come in increasing LBA order in a stream`,
            );
          }
          const compressed = await r.read(size, `the grain for LBA ${lba} at byte ${at}`);
          await r.skip((SECTOR - ((12 + size) % SECTOR)) % SECTOR, `the padding of the grain at byte ${at}`);
          const expected = Math.min(grainBytes, capacity - off);
          inflating.push({ gapFrom: pos, off, expected, lba, at, data: inflateGrain(compressed) });
          // Keep the window full, hand out the oldest grain once it is decompressed.
          while (inflating.length >= this.concurrency) yield* settle(inflating.shift()!);
          pos = off + expected;
          grains++;
          continue;
        }
        const type = (await r.read(4, `the marker at byte ${at}`)).readUInt32LE(0);
        await r.skip(SECTOR - 16, `the marker at byte ${at}`);
        if (type === MARKER_EOS) {
          if (expectedGrains !== undefined && grains !== expectedGrains) {
            throw new ImageError(
              'BG_VMDK_CORRUPT_GRAIN',
              `${what}: the end-of-stream marker at byte ${at} comes after ${grains} grain(s) but the grain tables list ${expectedGrains}; the file is corrupt`,
            );
          }
          break;
        }
        if (type === MARKER_GT || type === MARKER_GD) {
          if (val > BigInt(maxMetaSectors)) {
            throw new ImageError(
              'BG_VMDK_BAD_MARKER',
              `${what}: ${type === MARKER_GT ? 'grain table' : 'grain directory'} marker at byte ${at} claims ${val} sectors, more than this disk can need (${maxMetaSectors}); the file is corrupt`,
            );
          }
          await r.skip(
            Number(val) * SECTOR,
            `the ${type === MARKER_GT ? 'grain table' : 'grain directory'} at byte ${at}`,
          );
          continue;
        }
        if (type === MARKER_FOOTER) {
          if (val !== 1n) {
            throw new ImageError(
              'BG_VMDK_BAD_MARKER',
              `${what}: footer marker at byte ${at} claims ${val} sectors instead of 1; the file is corrupt`,
            );
          }
          const footer = await r.read(SECTOR, `the footer at byte ${at + SECTOR}`);
          if (footer.readUInt32LE(0) !== VMDK_MAGIC) {
            throw new ImageError(
              'BG_VMDK_BAD_MAGIC',
              `${what}: the footer at byte ${at + SECTOR} does not start with the VMDK magic "KDMV"; the file is corrupt`,
            );
          }
          sawFooter = true;
          continue;
        }
        throw new ImageError(
          'BG_VMDK_BAD_MARKER',
          `${what}: unknown marker type ${type} at byte ${at} (expected 0 end-of-stream, 1 grain table, 2 grain directory or 3 footer); the file is corrupt or not streamOptimized`,
        );
      }
      while (inflating.length > 0) yield* settle(inflating.shift()!);
      if (pos < capacity) yield { kind: 'zero', offset: pos, length: capacity - pos };
    } finally {
      await r.close();
    }
  }
}

/** Convenience: read a streamOptimized VMDK with default limits. */
export function readStreamOptimizedVmdk(
  input: AsyncIterable<Buffer>,
  opts?: VmdkReaderOptions,
): Promise<DiskStream & VmdkStreamInfo> {
  return new VmdkStreamReader(opts).read(input);
}
