import { randomBytes } from 'node:crypto';
import { deflate, deflateSync } from 'node:zlib';
import { promisify } from 'node:util';
import { ImageError } from './errors';
import { isAllZero, type DiskStream } from './extents';
import {
  COMPRESSION_DEFLATE,
  FLAG_COMPRESSED,
  FLAG_MARKERS,
  FLAG_NEWLINE_TEST,
  GD_AT_END,
  MARKER_FOOTER,
  MARKER_GD,
  MARKER_GT,
  SECTOR,
  encodeVmdkHeader,
  formatVmdkDescriptor,
  type VmdkHeader,
} from './vmdk-format';

export interface VmdkWriterOptions {
  /** ddb.adapterType (default "lsilogic"; "ide", "buslogic", "lsisas1068", "pvscsi" also exist). */
  adapterType?: string;
  /** zlib level 0..9 (default 6). */
  compressionLevel?: number;
  /** Name written in the descriptor's extent line (default "disk.vmdk"). */
  fileName?: string;
  /** Content ID; random by default. */
  cid?: number;
  /** ddb.virtualHWVersion (default "4"). */
  hwVersion?: string;
  /**
   * Grains compressed in parallel on libuv's thread pool (default 4; 1 = synchronous). Memory is
   * about two grains per slot.
   */
  concurrency?: number;
}

const deflateAsync = promisify(deflate);
/** One output buffer per grain (a 64 KiB grain deflates to at most a little more): fewer pool round trips. */
const DEFLATE_CHUNK = 128 * 1024;

const GRAIN_SECTORS = 128; // 64 KiB grains
const GTES_PER_GT = 512; // one grain table covers 32 MiB
const OVERHEAD_SECTORS = 128; // header + descriptor area, as VMware writes it

function metadataMarker(sectors: number, type: number): Buffer {
  const m = Buffer.alloc(SECTOR);
  m.writeBigUInt64LE(BigInt(sectors), 0);
  m.writeUInt32LE(0, 8);
  m.writeUInt32LE(type, 12);
  return m;
}

function padToSector(buf: Buffer): Buffer {
  const rem = buf.length % SECTOR;
  return rem === 0 ? buf : Buffer.concat([buf, Buffer.alloc(SECTOR - rem)]);
}

/**
 * Whether deflate would gain next to nothing on this grain: already compressed or encrypted data
 * (and random test data) cost deflate level 6 about 30 MB/s for under 1 % of size, so such grains
 * are stored (deflate level 0: a copy plus the adler32 the format needs). Judged on a 4 KiB sample
 * (four 1 KiB slices spread over the grain) by two cheap tests, each of which must say "random":
 * the byte histogram's entropy (text, code and tables are well below 7.5 bits per byte) and the
 * share of 4-byte sequences seen before in the sample (what LZ77 matches feed on). A wrong "yes"
 * costs only compression ratio on that grain, never correctness.
 */
export function looksIncompressible(grain: Buffer): boolean {
  const SLICE = 1024;
  if (grain.length < 4 * SLICE) return false;
  const counts = new Uint32Array(256);
  const seen = new Int32Array(4096);
  let repeats = 0;
  const step = Math.floor(grain.length / 4);
  for (let s = 0; s < 4; s++) {
    const base = s * step;
    for (let i = base; i < base + SLICE; i++) counts[grain[i]!]!++;
    for (let i = base; i + 4 <= base + SLICE; i += 2) {
      const v = grain.readInt32LE(i);
      const h = Math.imul(v, 0x9e3779b1) >>> 20;
      const prev = seen[h]! - 1;
      if (prev >= 0 && grain.readInt32LE(prev) === v) repeats++;
      seen[h] = i + 1;
    }
  }
  if (repeats > 32) return false;
  let entropy = 0;
  const n = 4 * SLICE;
  for (let b = 0; b < 256; b++) {
    const c = counts[b]!;
    if (c > 0) entropy -= (c / n) * Math.log2(c / n);
  }
  // a uniform random 4 KiB sample measures ~7.95 bits (small-sample bias); deflate's Huffman stage
  // alone would gain a few per cent below ~7.8
  return entropy > 7.8;
}

/** Deflate options for one grain: stored when it looks incompressible, `level` otherwise. */
export function grainDeflateOptions(grain: Buffer, level: number): { level: number; chunkSize: number } {
  return { level: level > 0 && looksIncompressible(grain) ? 0 : level, chunkSize: DEFLATE_CHUNK };
}

/** Compresses one grain (synchronously) the way the writers do. */
export function compressGrain(grain: Buffer, level: number): Buffer {
  return deflateSync(grain, grainDeflateOptions(grain, level));
}

/** A grain as it sits in the file: marker (LBA, size), the compressed bytes, padding to a sector. */
export function grainRecord(index: number, compressed: Buffer, into?: Buffer): Buffer {
  const rec = into ?? Buffer.alloc(grainRecordSize(compressed.length));
  rec.writeBigUInt64LE(BigInt(index * GRAIN_SECTORS), 0);
  rec.writeUInt32LE(compressed.length, 8);
  compressed.copy(rec, 12);
  rec.fill(0, 12 + compressed.length, grainRecordSize(compressed.length));
  return rec;
}

export function grainRecordSize(compressedLength: number): number {
  return Math.ceil((12 + compressedLength) / SECTOR) * SECTOR;
}

/** Bytes of one grain (64 KiB) in the files the writers make. */
export const VMDK_WRITER_GRAIN_BYTES = GRAIN_SECTORS * SECTOR;

/**
 * The file around the grains of a streamOptimized VMDK in VMware's layout: header (version 3,
 * compressed grains + markers, gdOffset = GD_AT_END) and embedded descriptor, a grain table with its
 * marker after each 32 MiB group that has grains, the grain directory, the footer (a copy of the
 * header with the real gdOffset) and the end-of-stream marker. Grain records (see `grainRecord`)
 * are handed in ascending grain order, by one producer or by several (worker threads) whose results
 * are put back in order. Memory: one grain table (2 KiB) and the directory (4 bytes per 32 MiB).
 */
export class StreamOptimizedVmdkAssembler {
  private readonly header: VmdkHeader;
  private readonly descriptor: Buffer;
  private readonly gd: Buffer;
  private gt = Buffer.alloc(GTES_PER_GT * 4);
  private gtIndex = 0;
  private gtUsed = false;
  private lastGrain = -1;
  /** Sectors emitted so far: where the next buffer starts. */
  private outSector = 0;

  constructor(capacity: number, opts: VmdkWriterOptions = {}) {
    if (capacity % SECTOR !== 0) {
      throw new ImageError(
        'BG_IMAGE_UNALIGNED',
        `writeStreamOptimizedVmdk: the disk capacity ${capacity} bytes is not a multiple of 512; a VMDK holds whole sectors`,
      );
    }
    const adapterType = opts.adapterType ?? 'lsilogic';
    if (!/^[A-Za-z0-9_.-]+$/.test(adapterType)) {
      throw new ImageError(
        'BG_IMAGE_INVALID_ARGUMENT',
        `writeStreamOptimizedVmdk: invalid adapterType ${JSON.stringify(adapterType)}`,
      );
    }
    const capacitySectors = capacity / SECTOR;
    const numGrains = Math.ceil(capacitySectors / GRAIN_SECTORS);
    this.gd = Buffer.alloc(Math.ceil(numGrains / GTES_PER_GT) * 4);
    this.descriptor = Buffer.from(
      formatVmdkDescriptor({
        cid: opts.cid ?? randomBytes(4).readUInt32LE(0),
        capacitySectors,
        fileName: (opts.fileName ?? 'disk.vmdk').replace(/"/g, ''),
        adapterType,
        ...(opts.hwVersion !== undefined ? { hwVersion: opts.hwVersion } : {}),
      }),
      'latin1',
    );
    const descriptorSectors = Math.ceil(this.descriptor.length / SECTOR);
    if (1 + descriptorSectors > OVERHEAD_SECTORS) {
      throw new ImageError('BG_IMAGE_INVALID_ARGUMENT', 'writeStreamOptimizedVmdk: descriptor too large');
    }
    this.header = {
      version: 3,
      flags: FLAG_NEWLINE_TEST | FLAG_COMPRESSED | FLAG_MARKERS,
      capacity: BigInt(capacitySectors),
      grainSize: BigInt(GRAIN_SECTORS),
      descriptorOffset: 1n,
      descriptorSize: BigInt(descriptorSectors),
      numGTEsPerGT: GTES_PER_GT,
      rgdOffset: 0n,
      gdOffset: GD_AT_END,
      overHead: BigInt(OVERHEAD_SECTORS),
      uncleanShutdown: 0,
      compressAlgorithm: COMPRESSION_DEFLATE,
    };
  }

  private emit(b: Buffer): Buffer {
    this.outSector += b.length / SECTOR;
    return b;
  }

  /** Header and descriptor: the first bytes of the file. */
  start(): Buffer {
    const prelude = Buffer.alloc(OVERHEAD_SECTORS * SECTOR);
    encodeVmdkHeader(this.header).copy(prelude, 0);
    this.descriptor.copy(prelude, SECTOR);
    return this.emit(prelude);
  }

  private flushGT(out: Buffer[]): void {
    if (!this.gtUsed) return;
    out.push(this.emit(metadataMarker((GTES_PER_GT * 4) / SECTOR, MARKER_GT)));
    this.gd.writeUInt32LE(this.outSector, this.gtIndex * 4);
    out.push(this.emit(this.gt));
    this.gt = Buffer.alloc(GTES_PER_GT * 4);
    this.gtUsed = false;
  }

  /** The buffers to write for one grain record (a grain table goes first when a 32 MiB group ends). */
  grain(index: number, record: Buffer, out: Buffer[] = []): Buffer[] {
    if (index <= this.lastGrain) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `writeStreamOptimizedVmdk: grain ${index} after grain ${this.lastGrain}; grains go in ascending order`,
      );
    }
    this.lastGrain = index;
    const t = Math.floor(index / GTES_PER_GT);
    if (t !== this.gtIndex) {
      this.flushGT(out);
      this.gtIndex = t;
    }
    if (this.outSector > 0xffffffff) {
      throw new ImageError(
        'BG_VMDK_LIMIT',
        'writeStreamOptimizedVmdk: output exceeds the 2 TiB that grain table entries can address',
      );
    }
    this.gt.writeUInt32LE(this.outSector, (index % GTES_PER_GT) * 4);
    this.gtUsed = true;
    out.push(this.emit(record));
    return out;
  }

  /** The last grain table, the grain directory, the footer and the end-of-stream marker. */
  finish(): Buffer[] {
    const out: Buffer[] = [];
    this.flushGT(out);
    const gdBuf = padToSector(this.gd);
    out.push(this.emit(metadataMarker(gdBuf.length / SECTOR, MARKER_GD)));
    const gdSector = this.outSector;
    out.push(this.emit(gdBuf));
    out.push(this.emit(metadataMarker(1, MARKER_FOOTER)));
    out.push(this.emit(encodeVmdkHeader({ ...this.header, gdOffset: BigInt(gdSector) })));
    out.push(this.emit(Buffer.alloc(SECTOR))); // end-of-stream marker
    return out;
  }
}

/**
 * Writes a streamOptimized VMDK in VMware's layout (see `StreamOptimizedVmdkAssembler`): compressed
 * 64 KiB grains, all-zero grains skipped. Memory: a few grains, one grain table, the directory.
 */
export function writeStreamOptimizedVmdk(
  disk: DiskStream,
  opts: VmdkWriterOptions = {},
): AsyncIterable<Buffer> {
  const asm = new StreamOptimizedVmdkAssembler(disk.capacity, opts);
  const level = opts.compressionLevel ?? 6;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const grainBytes = GRAIN_SECTORS * SECTOR;

  return (async function* () {
    yield asm.start();
    let grain = Buffer.alloc(grainBytes);
    let grainIndex = 0;
    let grainDirty = false;
    // compressed grains in flight, emitted strictly in order
    const pending: Array<{ index: number; compressed: Promise<Buffer> }> = [];

    async function* drainPending(keep: number): AsyncGenerator<Buffer> {
      while (pending.length > keep) {
        const p = pending.shift()!;
        yield* asm.grain(p.index, grainRecord(p.index, await p.compressed));
      }
    }

    async function* flushGrain(): AsyncGenerator<Buffer> {
      if (grainDirty && !isAllZero(grain)) {
        if (concurrency <= 1) {
          yield* asm.grain(grainIndex, grainRecord(grainIndex, compressGrain(grain, level)));
          grain.fill(0);
        } else {
          const compressed = deflateAsync(grain, grainDeflateOptions(grain, level));
          compressed.catch(() => undefined); // awaited in order below
          pending.push({ index: grainIndex, compressed });
          grain = Buffer.alloc(grainBytes); // the old one belongs to zlib now
          yield* drainPending(concurrency - 1);
        }
      } else if (grainDirty) {
        grain.fill(0);
      }
      grainDirty = false;
    }

    let pos = 0;
    for await (const e of disk.extents) {
      if (e.offset !== pos) {
        throw new ImageError(
          'BG_IMAGE_STREAM_STATE',
          `writeStreamOptimizedVmdk: extent at byte ${e.offset}, expected ${pos}`,
        );
      }
      if (e.kind === 'zero') {
        const end = pos + e.length;
        const endGrain = Math.floor(end / grainBytes);
        if (endGrain !== grainIndex) {
          yield* flushGrain();
          grainIndex = endGrain;
        }
        pos = end;
        continue;
      }
      let off = 0;
      while (off < e.data.length) {
        const g = Math.floor(pos / grainBytes);
        if (g !== grainIndex) {
          yield* flushGrain();
          grainIndex = g;
        }
        const inGrain = pos - g * grainBytes;
        const n = Math.min(grainBytes - inGrain, e.data.length - off);
        e.data.copy(grain, inGrain, off, off + n);
        grainDirty = true;
        off += n;
        pos += n;
      }
    }
    if (pos !== disk.capacity) {
      throw new ImageError(
        'BG_IMAGE_STREAM_STATE',
        `writeStreamOptimizedVmdk: the disk's extents end at byte ${pos} but its capacity is ${disk.capacity}`,
      );
    }
    yield* flushGrain();
    yield* drainPending(0);
    yield* asm.finish();
  })();
}
