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
 * Writes a streamOptimized VMDK in VMware's layout: header (version 3, compressed grains + markers,
 * gdOffset = GD_AT_END), embedded descriptor, compressed 64 KiB grains (all-zero grains skipped),
 * a grain table with its marker after each 32 MiB group that has grains, the grain directory, the
 * footer (a copy of the header with the real gdOffset) and the end-of-stream marker. Memory: one
 * grain, one grain table (2 KiB) and the directory (4 bytes per 32 MiB).
 */
export function writeStreamOptimizedVmdk(
  disk: DiskStream,
  opts: VmdkWriterOptions = {},
): AsyncIterable<Buffer> {
  if (disk.capacity % SECTOR !== 0) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `writeStreamOptimizedVmdk: the disk capacity ${disk.capacity} bytes is not a multiple of 512; a VMDK holds whole sectors`,
    );
  }
  const level = opts.compressionLevel ?? 6;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 4));
  const adapterType = opts.adapterType ?? 'lsilogic';
  if (!/^[A-Za-z0-9_.-]+$/.test(adapterType)) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `writeStreamOptimizedVmdk: invalid adapterType ${JSON.stringify(adapterType)}`,
    );
  }
  const capacitySectors = disk.capacity / SECTOR;
  const grainBytes = GRAIN_SECTORS * SECTOR;
  const numGrains = Math.ceil(capacitySectors / GRAIN_SECTORS);
  const numGTs = Math.ceil(numGrains / GTES_PER_GT);
  const descriptor = Buffer.from(
    formatVmdkDescriptor({
      cid: opts.cid ?? randomBytes(4).readUInt32LE(0),
      capacitySectors,
      fileName: (opts.fileName ?? 'disk.vmdk').replace(/"/g, ''),
      adapterType,
      ...(opts.hwVersion !== undefined ? { hwVersion: opts.hwVersion } : {}),
    }),
    'latin1',
  );
  const descriptorSectors = Math.ceil(descriptor.length / SECTOR);
  if (1 + descriptorSectors > OVERHEAD_SECTORS) {
    throw new ImageError('BG_IMAGE_INVALID_ARGUMENT', 'writeStreamOptimizedVmdk: descriptor too large');
  }
  const header: VmdkHeader = {
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

  return (async function* () {
    let outSector = 0;
    const emit = (b: Buffer): Buffer => {
      outSector += b.length / SECTOR;
      return b;
    };
    const prelude = Buffer.alloc(OVERHEAD_SECTORS * SECTOR);
    encodeVmdkHeader(header).copy(prelude, 0);
    descriptor.copy(prelude, SECTOR);
    yield emit(prelude);

    const gd = Buffer.alloc(numGTs * 4);
    let gt = Buffer.alloc(GTES_PER_GT * 4);
    let gtIndex = 0;
    let gtUsed = false;
    let grain = Buffer.alloc(grainBytes);
    let grainIndex = 0;
    let grainDirty = false;
    // compressed grains in flight, emitted strictly in order
    const pending: Array<{ index: number; compressed: Promise<Buffer> }> = [];

    function* flushGT(): Generator<Buffer> {
      if (gtUsed) {
        yield emit(metadataMarker((GTES_PER_GT * 4) / SECTOR, MARKER_GT));
        gd.writeUInt32LE(outSector, gtIndex * 4);
        yield emit(gt);
        gt = Buffer.alloc(GTES_PER_GT * 4);
        gtUsed = false;
      }
    }

    function* emitGrain(index: number, compressed: Buffer): Generator<Buffer> {
      const t = Math.floor(index / GTES_PER_GT);
      if (t !== gtIndex) {
        yield* flushGT();
        gtIndex = t;
      }
      const rec = Buffer.alloc(Math.ceil((12 + compressed.length) / SECTOR) * SECTOR);
      rec.writeBigUInt64LE(BigInt(index * GRAIN_SECTORS), 0);
      rec.writeUInt32LE(compressed.length, 8);
      compressed.copy(rec, 12);
      if (outSector > 0xffffffff) {
        throw new ImageError(
          'BG_VMDK_LIMIT',
          'writeStreamOptimizedVmdk: output exceeds the 2 TiB that grain table entries can address',
        );
      }
      gt.writeUInt32LE(outSector, (index % GTES_PER_GT) * 4);
      gtUsed = true;
      yield emit(rec);
    }

    async function* drainPending(keep: number): AsyncGenerator<Buffer> {
      while (pending.length > keep) {
        const p = pending.shift()!;
        yield* emitGrain(p.index, await p.compressed);
      }
    }

    async function* flushGrain(): AsyncGenerator<Buffer> {
      if (grainDirty && !isAllZero(grain)) {
        if (concurrency <= 1) {
          yield* emitGrain(grainIndex, deflateSync(grain, { level, chunkSize: DEFLATE_CHUNK }));
          grain.fill(0);
        } else {
          const compressed = deflateAsync(grain, { level, chunkSize: DEFLATE_CHUNK });
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
    yield* flushGT();

    const gdBuf = padToSector(gd);
    yield emit(metadataMarker(gdBuf.length / SECTOR, MARKER_GD));
    const gdSector = outSector;
    yield emit(gdBuf);
    yield emit(metadataMarker(1, MARKER_FOOTER));
    yield emit(encodeVmdkHeader({ ...header, gdOffset: BigInt(gdSector) }));
    yield emit(Buffer.alloc(SECTOR)); // end-of-stream marker
  })();
}
