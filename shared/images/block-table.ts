/**
 * The disk laid out in fixed-size blocks through a block table, which dynamic VHD and VHDX have in
 * common. Imports no format module, so both can use it without an import cycle.
 */
import type { ImageFormat } from './detect';
import { checkDiskRange, type MappedRange, type RandomAccessDisk } from './random-access-disk';

/**
 * A disk laid out in fixed-size blocks through a block table (dynamic VHD, VHDX): `table[i]` is
 * the file offset of block i, or negative when the block reads as zero. `readPart` copies `n`
 * bytes from `inBlock` in the block at `at` into `out` at `outOff`.
 */
export function blockTableDisk(opts: {
  format: ImageFormat;
  name: string;
  capacity: number;
  blockSize: number;
  table: ArrayLike<number>;
  readPart: (at: number, inBlock: number, out: Buffer, outOff: number, n: number) => Promise<void>;
}): RandomAccessDisk {
  const { capacity, blockSize, table } = opts;
  async function readInto(offset: number, out: Buffer): Promise<void> {
    const length = out.length;
    checkDiskRange(opts.name, capacity, offset, length);
    let pos = offset;
    while (pos < offset + length) {
      const i = Math.floor(pos / blockSize);
      const inBlock = pos - i * blockSize;
      const n = Math.min(offset + length - pos, blockSize - inBlock);
      const at = table[i]!;
      if (at >= 0) await opts.readPart(at, inBlock, out, pos - offset, n);
      else out.fill(0, pos - offset, pos - offset + n);
      pos += n;
    }
  }
  return {
    format: opts.format,
    capacity,
    map: async function* (offset = 0, length = capacity - offset): AsyncGenerator<MappedRange> {
      checkDiskRange(opts.name, capacity, offset, length);
      const end = offset + length;
      let pos = offset;
      let cur: MappedRange | undefined;
      while (pos < end) {
        const i = Math.floor(pos / blockSize);
        const next = Math.min(end, (i + 1) * blockSize);
        const zero = table[i]! < 0;
        if (cur && cur.zero === zero) cur.length += next - pos;
        else {
          if (cur) yield cur;
          cur = { offset: pos, length: next - pos, zero };
        }
        pos = next;
      }
      if (cur) yield cur;
    },
    read: async (offset, length) => {
      const out = Buffer.alloc(length);
      await readInto(offset, out);
      return out;
    },
    readInto,
  };
}
