/**
 * The monolithicSparse VMDK writer (qemu-img's layout). The reader of hosted sparse extents is
 * vmdk-sparse.ts.
 */
import { open, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { ImageError } from './errors';
import { isAllZero, normalizeExtents, type DiskStream } from './extents';
import {
  FLAG_NEWLINE_TEST,
  FLAG_REDUNDANT_GT,
  SECTOR,
  encodeVmdkHeader,
  formatVmdkDescriptor,
} from './vmdk-format';

export interface MonolithicSparseWriterOptions {
  /** ddb.adapterType (default "lsilogic"). */
  adapterType?: string;
  /** Content ID (default random). */
  cid?: number;
  /** ddb.virtualHWVersion (default "4"). */
  hwVersion?: string;
}

const W_GRAIN_SECTORS = 128; // 64 KiB grains
const W_GTES = 512; // one grain table covers 32 MiB
const W_DESCRIPTOR_SECTORS = 20; // as qemu-img writes it

/**
 * Writes `disk` to `path` as a monolithicSparse VMDK in qemu-img's layout: header (version 1,
 * redundant grain tables), embedded descriptor, redundant directory and tables, directory and
 * tables, then the grains (64 KiB, uncompressed) in disk order; all-zero grains stay unallocated.
 * The grain tables lie in a preallocated area that stays a hole where no grain is allocated.
 * Memory: one grain and one grain table. Returns the file size. On failure the file is removed.
 */
export async function writeMonolithicSparseVmdk(
  disk: DiskStream,
  path: string,
  opts: MonolithicSparseWriterOptions = {},
): Promise<{ fileSize: number; grains: number }> {
  if (disk.capacity % SECTOR !== 0) {
    throw new ImageError(
      'BG_IMAGE_UNALIGNED',
      `writeMonolithicSparseVmdk: the disk capacity ${disk.capacity} bytes is not a multiple of 512; a VMDK holds whole sectors`,
    );
  }
  const adapterType = opts.adapterType ?? 'lsilogic';
  if (!/^[A-Za-z0-9_.-]+$/.test(adapterType)) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `writeMonolithicSparseVmdk: adapterType "${adapterType}" is not a plain word`,
    );
  }
  const grainBytes = W_GRAIN_SECTORS * SECTOR;
  const capacitySectors = disk.capacity / SECTOR;
  const numGrains = Math.ceil(capacitySectors / W_GRAIN_SECTORS);
  const numGTs = Math.ceil(numGrains / W_GTES);
  const gdSectors = Math.ceil((numGTs * 4) / SECTOR);
  const gtSectors = (W_GTES * 4) / SECTOR;
  const rgdOffset = 1 + W_DESCRIPTOR_SECTORS;
  const rgtStart = rgdOffset + gdSectors;
  const gdOffset = rgtStart + numGTs * gtSectors;
  const gtStart = gdOffset + gdSectors;
  const overHead = Math.ceil((gtStart + numGTs * gtSectors) / W_GRAIN_SECTORS) * W_GRAIN_SECTORS;
  const fh = await open(path, 'w');
  let ok = false;
  let nextSector = overHead;
  let grains = 0;
  try {
    const writeAt = async (buf: Buffer, sector: number): Promise<void> => {
      let done = 0;
      while (done < buf.length) {
        const { bytesWritten } = await fh.write(buf, done, buf.length - done, sector * SECTOR + done);
        done += bytesWritten;
      }
    };
    await fh.truncate(overHead * SECTOR);
    await writeAt(
      encodeVmdkHeader({
        version: 1,
        flags: FLAG_NEWLINE_TEST | FLAG_REDUNDANT_GT,
        capacity: BigInt(capacitySectors),
        grainSize: BigInt(W_GRAIN_SECTORS),
        descriptorOffset: 1n,
        descriptorSize: BigInt(W_DESCRIPTOR_SECTORS),
        numGTEsPerGT: W_GTES,
        rgdOffset: BigInt(rgdOffset),
        gdOffset: BigInt(gdOffset),
        overHead: BigInt(overHead),
        uncleanShutdown: 0,
        compressAlgorithm: 0,
      }),
      0,
    );
    const desc = formatVmdkDescriptor({
      cid: opts.cid ?? Math.floor(Math.random() * 0xffffffff),
      capacitySectors,
      fileName: basename(path),
      adapterType,
      createType: 'monolithicSparse',
      ...(opts.hwVersion === undefined ? {} : { hwVersion: opts.hwVersion }),
    });
    await writeAt(Buffer.from(desc, 'latin1'), 1);
    // both directories, in chunks of 16 Ki entries
    for (let first = 0; first < numGTs; first += 16384) {
      const n = Math.min(16384, numGTs - first);
      const rgd = Buffer.alloc(n * 4);
      const gd = Buffer.alloc(n * 4);
      for (let i = 0; i < n; i++) {
        rgd.writeUInt32LE(rgtStart + (first + i) * gtSectors, i * 4);
        gd.writeUInt32LE(gtStart + (first + i) * gtSectors, i * 4);
      }
      await writeAt(rgd, rgdOffset + (first * 4) / SECTOR);
      await writeAt(gd, gdOffset + (first * 4) / SECTOR);
    }

    let table = Buffer.alloc(W_GTES * 4);
    let tableIdx = 0;
    let tableDirty = false;
    const flushTable = async (): Promise<void> => {
      if (tableDirty) {
        await writeAt(table, rgtStart + tableIdx * gtSectors);
        await writeAt(table, gtStart + tableIdx * gtSectors);
      }
      table = Buffer.alloc(W_GTES * 4);
      tableDirty = false;
    };
    const grain = Buffer.alloc(grainBytes);
    let grainIdx = 0;
    let grainHasData = false;
    const flushGrain = async (): Promise<void> => {
      if (grainHasData && !isAllZero(grain)) {
        const t = Math.floor(grainIdx / W_GTES);
        if (t !== tableIdx) {
          await flushTable();
          tableIdx = t;
        }
        await writeAt(grain, nextSector);
        table.writeUInt32LE(nextSector, (grainIdx % W_GTES) * 4);
        tableDirty = true;
        nextSector += W_GRAIN_SECTORS;
        grains++;
      }
      if (grainHasData) grain.fill(0);
      grainHasData = false;
    };
    for await (const e of normalizeExtents(disk.extents, disk.capacity, `VMDK ${path}`)) {
      if (e.kind === 'zero') {
        const endGrain = Math.floor((e.offset + e.length) / grainBytes);
        if (endGrain !== grainIdx) {
          await flushGrain();
          grainIdx = endGrain;
        }
        continue;
      }
      let off = 0;
      while (off < e.data.length) {
        const pos = e.offset + off;
        const g = Math.floor(pos / grainBytes);
        if (g !== grainIdx) {
          await flushGrain();
          grainIdx = g;
        }
        const inGrain = pos - g * grainBytes;
        const n = Math.min(e.data.length - off, grainBytes - inGrain);
        e.data.copy(grain, inGrain, off, off + n);
        grainHasData = true;
        off += n;
      }
    }
    await flushGrain();
    await flushTable();
    ok = true;
    return { fileSize: nextSector * SECTOR, grains };
  } finally {
    await fh.close();
    if (!ok) await unlink(path).catch(() => undefined);
  }
}
