/**
 * Writes a GUID partition table (protective MBR, primary header + entries, backup entries +
 * header, all with their CRC32s) onto an existing raw disk image, in place. Used by
 * `scripts/build-sample-vm.sh` so the sample VM needs neither root nor sgdisk/sfdisk.
 *
 *   tsx scripts/write-gpt.ts <disk.raw> --disk-guid G --part-guid G --first-lba N --last-lba N
 *                            [--type-guid G] [--name NAME]
 *
 * Only what a one-partition disk needs: 128 entries of 128 bytes, 512-byte sectors.
 */
import { closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export const SECTOR = 512;
export const ENTRY_COUNT = 128;
export const ENTRY_SIZE = 128;
export const LINUX_FILESYSTEM_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const ENTRIES_SECTORS = (ENTRY_COUNT * ENTRY_SIZE) / SECTOR; // 32

export interface GptPartition {
  typeGuid: string;
  partGuid: string;
  firstLba: number;
  lastLba: number;
  name: string;
}

export interface GptLayout {
  totalSectors: number;
  diskGuid: string;
  partitions: GptPartition[];
}

/** GUID text → the 16 on-disk bytes (first three fields little-endian, the rest as written). */
export function guidToBytes(guid: string): Buffer {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(guid);
  if (!m) throw new Error(`not a GUID: '${guid}'`);
  const [, a, b, c, d, e] = m as unknown as [string, string, string, string, string, string];
  const out = Buffer.alloc(16);
  out.writeUInt32LE(parseInt(a, 16), 0);
  out.writeUInt16LE(parseInt(b, 16), 4);
  out.writeUInt16LE(parseInt(c, 16), 6);
  Buffer.from(d + e, 'hex').copy(out, 8);
  return out;
}

function protectiveMbr(totalSectors: number): Buffer {
  const mbr = Buffer.alloc(SECTOR);
  const e = 446;
  mbr[e] = 0x00; // not bootable
  mbr[e + 1] = 0x00; // CHS of first sector: 0/0/2
  mbr[e + 2] = 0x02;
  mbr[e + 3] = 0x00;
  mbr[e + 4] = 0xee; // GPT protective
  mbr[e + 5] = 0xff; // CHS end: saturated
  mbr[e + 6] = 0xff;
  mbr[e + 7] = 0xff;
  mbr.writeUInt32LE(1, e + 8);
  mbr.writeUInt32LE(Math.min(totalSectors - 1, 0xffffffff), e + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

function entriesArray(partitions: GptPartition[]): Buffer {
  if (partitions.length > ENTRY_COUNT) throw new Error(`at most ${ENTRY_COUNT} partitions`);
  const buf = Buffer.alloc(ENTRY_COUNT * ENTRY_SIZE);
  partitions.forEach((p, i) => {
    const o = i * ENTRY_SIZE;
    guidToBytes(p.typeGuid).copy(buf, o);
    guidToBytes(p.partGuid).copy(buf, o + 16);
    buf.writeBigUInt64LE(BigInt(p.firstLba), o + 32);
    buf.writeBigUInt64LE(BigInt(p.lastLba), o + 40);
    buf.writeBigUInt64LE(0n, o + 48); // attributes
    const name = Buffer.from(p.name, 'utf16le');
    if (name.length > 72) throw new Error(`partition name too long: '${p.name}'`);
    name.copy(buf, o + 56);
  });
  return buf;
}

function header(
  layout: GptLayout,
  currentLba: number,
  backupLba: number,
  entriesLba: number,
  entriesCrc: number,
): Buffer {
  const h = Buffer.alloc(SECTOR);
  h.write('EFI PART', 0, 'ascii');
  h.writeUInt32LE(0x00010000, 8); // revision 1.0
  h.writeUInt32LE(92, 12); // header size
  // 16: header CRC32, filled below; 20: reserved
  h.writeBigUInt64LE(BigInt(currentLba), 24);
  h.writeBigUInt64LE(BigInt(backupLba), 32);
  h.writeBigUInt64LE(BigInt(2 + ENTRIES_SECTORS), 40); // first usable LBA (34)
  h.writeBigUInt64LE(BigInt(layout.totalSectors - 2 - ENTRIES_SECTORS), 48); // last usable LBA
  guidToBytes(layout.diskGuid).copy(h, 56);
  h.writeBigUInt64LE(BigInt(entriesLba), 72);
  h.writeUInt32LE(ENTRY_COUNT, 80);
  h.writeUInt32LE(ENTRY_SIZE, 84);
  h.writeUInt32LE(entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
  return h;
}

/** The sectors to write: [byte offset, bytes]. */
export function gptSectors(layout: GptLayout): Array<[number, Buffer]> {
  const { totalSectors } = layout;
  const firstUsable = 2 + ENTRIES_SECTORS;
  const lastUsable = totalSectors - 2 - ENTRIES_SECTORS;
  for (const p of layout.partitions) {
    if (p.firstLba < firstUsable || p.lastLba > lastUsable || p.lastLba < p.firstLba) {
      throw new Error(
        `partition '${p.name}' (LBA ${p.firstLba}..${p.lastLba}) is outside the usable range ${firstUsable}..${lastUsable}`,
      );
    }
  }
  const entries = entriesArray(layout.partitions);
  const entriesCrc = crc32(entries);
  const lastLba = totalSectors - 1;
  const backupEntriesLba = lastLba - ENTRIES_SECTORS;
  return [
    [0, protectiveMbr(totalSectors)],
    [SECTOR, header(layout, 1, lastLba, 2, entriesCrc)],
    [2 * SECTOR, entries],
    [backupEntriesLba * SECTOR, entries],
    [lastLba * SECTOR, header(layout, lastLba, 1, backupEntriesLba, entriesCrc)],
  ];
}

export function writeGpt(path: string, layout: Omit<GptLayout, 'totalSectors'>): void {
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size % SECTOR !== 0) throw new Error(`${path}: size ${size} is not a multiple of ${SECTOR}`);
    for (const [offset, bytes] of gptSectors({ ...layout, totalSectors: size / SECTOR })) {
      writeSync(fd, bytes, 0, bytes.length, offset);
    }
  } finally {
    closeSync(fd);
  }
}

function main(argv: string[]): void {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'disk-guid': { type: 'string' },
      'part-guid': { type: 'string' },
      'type-guid': { type: 'string', default: LINUX_FILESYSTEM_TYPE },
      'first-lba': { type: 'string' },
      'last-lba': { type: 'string' },
      name: { type: 'string', default: 'Linux filesystem' },
    },
  });
  const [disk] = positionals;
  const need = (k: 'disk-guid' | 'part-guid' | 'first-lba' | 'last-lba'): string => {
    const v = values[k];
    if (v === undefined) throw new Error(`missing --${k}`);
    return v;
  };
  if (!disk)
    throw new Error('usage: write-gpt.ts <disk.raw> --disk-guid G --part-guid G --first-lba N --last-lba N');
  writeGpt(disk, {
    diskGuid: need('disk-guid'),
    partitions: [
      {
        typeGuid: values['type-guid'] ?? LINUX_FILESYSTEM_TYPE,
        partGuid: need('part-guid'),
        firstLba: Number(need('first-lba')),
        lastLba: Number(need('last-lba')),
        name: values.name ?? 'Linux filesystem',
      },
    ],
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`write-gpt: ${(err as Error).message}`);
    process.exit(1);
  }
}
