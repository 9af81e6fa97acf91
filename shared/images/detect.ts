import { parsePaxRecords } from './tar';

export type ImageFormat =
  | 'ova'
  | 'vmdk-stream-optimized'
  | 'vmdk-monolithic-sparse'
  | 'vmdk-descriptor'
  | 'vhd-fixed'
  | 'vhd-dynamic'
  | 'vhdx'
  | 'qcow2'
  | 'raw';

const VMDK_MAGIC = 0x564d444b; // "KDMV" little-endian
const VMDK_FLAG_COMPRESSED = 1 << 16;
const VMDK_FLAG_MARKERS = 1 << 17;

function cString(buf: Buffer, start: number, len: number): string {
  const field = buf.subarray(start, start + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

function isUstar(block: Buffer): boolean {
  return block.length >= 512 && block.subarray(257, 262).toString('latin1') === 'ustar';
}

function octal(buf: Buffer, start: number, len: number): number {
  const s = cString(buf, start, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

/** The name of the first real entry of a tar archive, if the head holds enough of it. */
function firstTarEntryName(head: Buffer): string | undefined {
  let off = 0;
  let longName: string | undefined;
  for (let guard = 0; guard < 8 && off + 512 <= head.length; guard++) {
    const block = head.subarray(off, off + 512);
    if (!isUstar(block)) return undefined;
    const type = String.fromCharCode(block[156] ?? 0);
    const size = octal(block, 124, 12);
    const bodyStart = off + 512;
    const body = head.subarray(bodyStart, Math.min(head.length, bodyStart + size));
    if (type === 'x' || type === 'L') {
      if (body.length < size) return undefined;
      if (type === 'L') longName = cString(body, 0, body.length);
      else longName = parsePaxRecords(body).path ?? longName;
      off = bodyStart + Math.ceil(size / 512) * 512;
      continue;
    }
    if (type === 'g') {
      off = bodyStart + Math.ceil(size / 512) * 512;
      continue;
    }
    if (longName !== undefined) return longName;
    const name = cString(block, 0, 100);
    const prefix = cString(block, 345, 155);
    return prefix ? `${prefix}/${name}` : name;
  }
  return undefined;
}

function isVhdFooter(buf: Buffer | undefined): number | undefined {
  if (!buf || buf.length < 512) return undefined;
  const f = buf.subarray(buf.length - 512);
  if (f.subarray(0, 8).toString('latin1') !== 'conectix') return undefined;
  return f.readUInt32BE(60);
}

/**
 * Detects a disk image file's format from its first bytes (>= 4 KiB when the file has them; 64 KiB
 * is plenty) and, for fixed VHDs, its last 512 bytes. An OVA is a ustar archive whose first entry
 * is an .ovf descriptor. Anything unrecognised is 'raw'.
 */
export function detectImageFormat(head: Buffer, totalSize: number, tail?: Buffer): ImageFormat {
  if (head.length >= 4 && head.readUInt32LE(0) === VMDK_MAGIC) {
    const flags = head.length >= 12 ? head.readUInt32LE(8) : 0;
    const compress = head.length >= 79 ? head.readUInt16LE(77) : 0;
    const text = head.subarray(0, Math.min(head.length, 64 * 1024)).toString('latin1');
    const m = /createType\s*=\s*"?([A-Za-z0-9]+)"?/.exec(text);
    if (m?.[1] === 'streamOptimized') return 'vmdk-stream-optimized';
    if ((flags & VMDK_FLAG_COMPRESSED) !== 0 && (flags & VMDK_FLAG_MARKERS) !== 0 && compress === 1) {
      return 'vmdk-stream-optimized';
    }
    return 'vmdk-monolithic-sparse';
  }
  if (head.subarray(0, 21).toString('latin1') === '# Disk DescriptorFile') return 'vmdk-descriptor';
  if (head.length >= 4 && head.readUInt32BE(0) === 0x514649fb) return 'qcow2';
  if (head.subarray(0, 8).toString('latin1') === 'vhdxfile') return 'vhdx';
  if (head.subarray(0, 8).toString('latin1') === 'conectix' && head.length >= 64) {
    // dynamic and differencing VHDs start with a copy of the footer
    const type = head.readUInt32BE(60);
    if (type === 3 || type === 4) return 'vhd-dynamic';
    if (type === 2 && totalSize === 512) return 'vhd-fixed';
  }
  if (isUstar(head)) {
    const name = firstTarEntryName(head);
    if (name !== undefined && name.toLowerCase().endsWith('.ovf')) return 'ova';
  }
  const end = tail ?? (head.length >= totalSize ? head.subarray(0, totalSize) : undefined);
  const vhdType = isVhdFooter(end);
  if (vhdType === 2) return 'vhd-fixed';
  if (vhdType === 3 || vhdType === 4) return 'vhd-dynamic';
  return 'raw';
}
