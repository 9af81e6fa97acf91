/**
 * Random access to a VMDK made of a text descriptor file and extent files: monolithicFlat,
 * twoGbMaxExtentFlat, twoGbMaxExtentSparse, vmfs (ESXi's "-flat.vmdk"). Extents are concatenated in
 * the descriptor's order: FLAT/VMFS extents read their file from the start offset, SPARSE extents
 * are hosted sparse extents (vmdk-sparse.ts), ZERO extents read as zeros. Extent files come from
 * `opts.resolve(name)`.
 */
import { isAbsolute, join, sep } from 'node:path';
import { ImageError, isImageError } from './errors';
import { checkDiskRange, type MappedRange, type RandomAccessDisk } from './random-access-disk';
import { fileSource, type ByteSource } from './source';
import { parseVmdkDescriptor, refuseDifferencing, SECTOR, type VmdkDescriptor } from './vmdk-format';
import { openSparseVmdkExtent, type SparseVmdkDisk, type VmdkRandomAccessOptions } from './vmdk-sparse';

export interface DescriptorVmdkExtent {
  type: 'FLAT' | 'VMFS' | 'SPARSE' | 'ZERO';
  /** Position in the virtual disk, bytes. */
  start: number;
  length: number;
  fileName?: string;
}

export interface DescriptorVmdkDisk extends RandomAccessDisk {
  readonly descriptor: VmdkDescriptor;
  readonly extents: readonly DescriptorVmdkExtent[];
  /** Closes the extent files this disk resolved (not the descriptor's own source). */
  close(): Promise<void>;
}

const DEFAULT_MAX_DESCRIPTOR_FILE = 1024 * 1024;
const DEFAULT_MAX_EXTENTS = 65536;
const DEFAULT_MAX_CAPACITY = 64 * 1024 ** 4;

/** createTypes whose extents live on raw devices or are VMFS deltas: no file to read here. */
const UNSUPPORTED_CREATE_TYPES = new Set(
  [
    'vmfsSparse',
    'seSparse',
    'vmfsRaw',
    'vmfsRawDeviceMap',
    'vmfsPassthroughRawDeviceMap',
    'fullDevice',
    'partitionedDevice',
  ].map((t) => t.toLowerCase()),
);

type Piece =
  | (DescriptorVmdkExtent & { type: 'ZERO' })
  | (DescriptorVmdkExtent & { type: 'FLAT' | 'VMFS'; src: ByteSource; fileOffset: number })
  | (DescriptorVmdkExtent & { type: 'SPARSE'; disk: SparseVmdkDisk });

/**
 * A resolver for `OpenRandomAccessOptions.resolve` that opens extent files in `dir`. Names that are
 * absolute or climb out of `dir` (`..`) are refused with BG_VMDK_BAD_DESCRIPTOR.
 */
export function resolveInDirectory(dir: string): (name: string) => Promise<ByteSource> {
  return async (name) => {
    const parts = name.split(/[\\/]/);
    if (name === '' || name.includes('\0') || isAbsolute(name) || parts.includes('..')) {
      throw new ImageError(
        'BG_VMDK_BAD_DESCRIPTOR',
        `the VMDK descriptor refers to extent file "${name}", which is not a file inside ${dir}${sep}; refusing to read it`,
      );
    }
    return fileSource(join(dir, name));
  };
}

/**
 * RandomAccessOpener for a VMDK descriptor file. Missing resolver or extent file →
 * BG_VMDK_MISSING_EXTENT naming the file; device/VMFS-delta extents → BG_VMDK_UNSUPPORTED_EXTENT;
 * a differencing disk → BG_VMDK_DIFFERENCING naming the parent. Limits in `opts.vmdk`
 * (`maxDescriptorFileBytes` 1 MiB, `maxExtents` 65536, `maxCapacityBytes` 64 TiB, and the sparse
 * extents' limits).
 */
export async function openDescriptorVmdk(
  src: ByteSource,
  opts: VmdkRandomAccessOptions = {},
): Promise<DescriptorVmdkDisk> {
  const name = src.name;
  const limits = opts.vmdk ?? {};
  const maxBytes = limits.maxDescriptorFileBytes ?? DEFAULT_MAX_DESCRIPTOR_FILE;
  const maxExtents = limits.maxExtents ?? DEFAULT_MAX_EXTENTS;
  const maxCapacity = limits.maxCapacityBytes ?? DEFAULT_MAX_CAPACITY;
  if (src.size > maxBytes) {
    throw new ImageError(
      'BG_VMDK_LIMIT',
      `${name}: a VMDK descriptor file of ${src.size} bytes exceeds the limit of ${maxBytes} bytes (maxDescriptorFileBytes)`,
    );
  }
  const text = (await src.read(0, src.size)).toString('utf8');
  const desc = parseVmdkDescriptor(text.replace(/\0[\s\S]*$/, ''));
  refuseDifferencing(desc, name);
  if (desc.createType !== undefined && UNSUPPORTED_CREATE_TYPES.has(desc.createType.toLowerCase())) {
    throw new ImageError(
      'BG_VMDK_UNSUPPORTED_EXTENT',
      `${name}: createType "${desc.createType}" is not supported (raw device mappings and VMFS delta disks have no disk file to read); clone the disk to a flat or thin disk first`,
    );
  }
  if (desc.extents.length === 0) {
    throw new ImageError(
      'BG_VMDK_BAD_DESCRIPTOR',
      `${name}: the VMDK descriptor lists no extents (lines like 'RW 2097152 FLAT "disk-flat.vmdk" 0'); it is not a disk descriptor or it is corrupt`,
    );
  }
  if (desc.extents.length > maxExtents) {
    throw new ImageError(
      'BG_VMDK_LIMIT',
      `${name}: the VMDK descriptor lists ${desc.extents.length} extents, more than the limit of ${maxExtents} (maxExtents)`,
    );
  }
  if (desc.capacitySectors * SECTOR > maxCapacity) {
    throw new ImageError(
      'BG_VMDK_LIMIT',
      `${name}: the extents add up to ${desc.capacitySectors} sectors (${desc.capacitySectors * SECTOR} bytes), more than the limit of ${maxCapacity} bytes (maxCapacityBytes)`,
    );
  }
  // check every line before opening any file
  desc.extents.forEach((e, i) => {
    const line = `extent ${i + 1} (${e.access} ${e.sectors} ${e.type}${e.fileName === undefined ? '' : ` "${e.fileName}"`})`;
    if (e.access === 'NOACCESS') {
      throw new ImageError(
        'BG_VMDK_UNSUPPORTED_EXTENT',
        `${name}: ${line} is NOACCESS; its data cannot be read`,
      );
    }
    if (e.type !== 'FLAT' && e.type !== 'VMFS' && e.type !== 'SPARSE' && e.type !== 'ZERO') {
      throw new ImageError(
        'BG_VMDK_UNSUPPORTED_EXTENT',
        `${name}: ${line} has type ${e.type}; supported are FLAT, VMFS, SPARSE and ZERO (device mappings and VMFS deltas are not)`,
      );
    }
    if (e.type !== 'ZERO' && (e.fileName === undefined || e.fileName === '')) {
      throw new ImageError('BG_VMDK_BAD_DESCRIPTOR', `${name}: ${line} names no file`);
    }
    if (e.offset !== undefined && !Number.isSafeInteger(e.offset * SECTOR)) {
      throw new ImageError(
        'BG_VMDK_BAD_DESCRIPTOR',
        `${name}: ${line} has an unusable start offset ${e.offset}`,
      );
    }
  });

  const opened = new Map<string, ByteSource>();
  const closeAll = async (): Promise<void> => {
    const all = [...opened.values()];
    opened.clear();
    await Promise.allSettled(all.map((s) => s.close()));
  };
  async function file(fileName: string): Promise<ByteSource> {
    const have = opened.get(fileName);
    if (have) return have;
    if (!opts.resolve) {
      throw new ImageError(
        'BG_VMDK_MISSING_EXTENT',
        `${name}: extent file "${fileName}" is needed but no resolver was given to open it (OpenRandomAccessOptions.resolve); pass one, or upload the extent files with the descriptor`,
      );
    }
    let s: ByteSource;
    try {
      s = await opts.resolve(fileName);
    } catch (err) {
      if (isImageError(err)) throw err;
      throw new ImageError(
        'BG_VMDK_MISSING_EXTENT',
        `${name}: extent file "${fileName}" cannot be opened (${(err as Error).message}); the descriptor needs it next to it`,
        { cause: err },
      );
    }
    opened.set(fileName, s);
    return s;
  }

  const pieces: Piece[] = [];
  let start = 0;
  try {
    for (const e of desc.extents) {
      const length = e.sectors * SECTOR;
      if (length === 0) continue;
      const base = { start, length, fileName: e.fileName };
      if (e.type === 'ZERO') {
        pieces.push({ ...base, type: 'ZERO' });
      } else if (e.type === 'FLAT' || e.type === 'VMFS') {
        const fileName = e.fileName ?? '';
        const s = await file(fileName);
        const fileOffset = (e.offset ?? 0) * SECTOR;
        if (fileOffset + length > s.size) {
          throw new ImageError(
            'BG_IMAGE_TRUNCATED',
            `${name}: extent file "${fileName}" has ${s.size} bytes but the descriptor needs ${fileOffset + length} (${e.sectors} sectors from sector ${e.offset ?? 0}); the file is incomplete — transfer it again`,
          );
        }
        pieces.push({ ...base, type: e.type, src: s, fileOffset });
      } else {
        const fileName = e.fileName ?? '';
        const disk = await openSparseVmdkExtent(await file(fileName), limits, 'vmdk-descriptor');
        if (disk.capacity < length) {
          throw new ImageError(
            'BG_VMDK_BAD_DESCRIPTOR',
            `${name}: the descriptor gives sparse extent "${fileName}" ${e.sectors} sectors but its header says ${disk.capacity / SECTOR}; the files do not belong together`,
          );
        }
        pieces.push({ ...base, type: 'SPARSE', disk });
      }
      start += length;
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const capacity = start;

  /** Index of the piece holding byte `pos` (pos < capacity). */
  function pieceAt(pos: number): number {
    let lo = 0;
    let hi = pieces.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (pieces[mid]!.start <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  async function* map(offset = 0, length = capacity - offset): AsyncGenerator<MappedRange> {
    checkDiskRange(name, capacity, offset, length);
    const end = offset + length;
    for (let i = length > 0 ? pieceAt(offset) : pieces.length; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (p.start >= end) break;
      const from = Math.max(offset, p.start);
      const to = Math.min(end, p.start + p.length);
      if (p.type === 'SPARSE') {
        for await (const r of p.disk.map(from - p.start, to - from)) {
          yield { offset: r.offset + p.start, length: r.length, zero: r.zero };
        }
      } else {
        yield { offset: from, length: to - from, zero: p.type === 'ZERO' };
      }
    }
  }

  async function read(offset: number, length: number): Promise<Buffer> {
    checkDiskRange(name, capacity, offset, length);
    const out = Buffer.alloc(length);
    const end = offset + length;
    for (let i = length > 0 ? pieceAt(offset) : pieces.length; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (p.start >= end) break;
      const from = Math.max(offset, p.start);
      const to = Math.min(end, p.start + p.length);
      if (p.type === 'ZERO') continue;
      const data =
        p.type === 'SPARSE'
          ? await p.disk.read(from - p.start, to - from)
          : await p.src.read(p.fileOffset + from - p.start, to - from);
      data.copy(out, from - offset);
    }
    return out;
  }

  return {
    format: 'vmdk-descriptor',
    capacity,
    descriptor: desc,
    extents: pieces.map(({ type, start: s, length, fileName }) =>
      fileName === undefined ? { type, start: s, length } : { type, start: s, length, fileName },
    ),
    map,
    read,
    close: closeAll,
  };
}
