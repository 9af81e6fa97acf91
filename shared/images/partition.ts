export type PartitionTable = 'gpt' | 'mbr' | 'none';

function hasBootSignature(buf: Buffer): boolean {
  return buf.length >= 512 && buf[510] === 0x55 && buf[511] === 0xaa;
}

interface MbrEntry {
  status: number;
  type: number;
  firstLba: number;
  sectors: number;
}

function mbrEntries(buf: Buffer): MbrEntry[] {
  const out: MbrEntry[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 446 + i * 16;
    out.push({
      status: buf[o] ?? 0,
      type: buf[o + 4] ?? 0,
      firstLba: buf.readUInt32LE(o + 8),
      sectors: buf.readUInt32LE(o + 12),
    });
  }
  return out;
}

/**
 * Detects the partition table from the first sectors of a disk (at least 1024 bytes when the disk
 * has them; pass 8 KiB to also see GPT on 4 KiB-sector disks). GPT: protective MBR (type 0xEE) and
 * "EFI PART" at LBA 1. MBR: 0x55AA at byte 510 and sane partition entries.
 */
export function detectPartitionTable(firstSectors: Buffer): PartitionTable {
  if (!hasBootSignature(firstSectors)) return 'none';
  const entries = mbrEntries(firstSectors);
  const sane = entries.every((e) => e.status === 0x00 || e.status === 0x80);
  if (!sane) return 'none';
  const protective = entries.some((e) => e.type === 0xee);
  const efiAt = (off: number) =>
    firstSectors.length >= off + 8 && firstSectors.subarray(off, off + 8).toString('latin1') === 'EFI PART';
  if (protective && (efiAt(512) || efiAt(4096) || firstSectors.length < 1024)) return 'gpt';
  if (efiAt(512)) return 'gpt';
  const used = entries.filter((e) => e.type !== 0);
  if (used.length === 0) return 'none';
  if (used.every((e) => e.sectors > 0 && e.firstLba > 0)) return 'mbr';
  return 'none';
}
