/**
 * The simulator's window onto shared/images: reading import sources and writing export files.
 */
import {
  diskToRaw,
  inspectOva,
  openDiskImage,
  openRandomAccess,
  streamFrom,
  writeFixedVhd,
  writeOva,
  writeStreamOptimizedVmdk,
  type ByteSource,
  type DiskStream,
} from '../../../../shared/images';

export type SourceFormat = 'ova' | 'vmdk-stream-optimized' | 'vhd-fixed' | 'vhd-dynamic' | 'vhdx' | 'raw';

export interface OvaResult {
  firmware: 'bios' | 'efi';
  vmName: string;
}

/**
 * Opens a single disk image (not an OVA) as a DiskStream, trusting the already detected format.
 * Streamable formats are read front to back from `input`; dynamic VHD and VHDX need their block
 * table first, so they are read with random access through `randomAccess` (ranged GETs).
 */
export async function openSourceDisk(
  format: Exclude<SourceFormat, 'ova'>,
  input: AsyncIterable<Buffer>,
  totalSize: number,
  randomAccess: () => Promise<ByteSource>,
): Promise<DiskStream> {
  if (format === 'vhd-dynamic' || format === 'vhdx') {
    return streamFrom(await openRandomAccess(await randomAccess(), { format }));
  }
  const { disk } = await openDiskImage(input, { totalSize, format });
  return disk;
}

/** Reads an OVA (descriptor first), handing each disk to onDisk in order; verifies the manifest. */
export async function readOvaSource(
  input: AsyncIterable<Buffer>,
  onDisk: (name: string, disk: DiskStream) => Promise<void>,
): Promise<OvaResult> {
  const r = await inspectOva(input, { onDisk });
  return { firmware: r.hardware.firmware, vmName: r.hardware.vmName };
}

export type ExportDiskFormat = 'VMDK' | 'RAW' | 'VHD';

function vmdkName(vmName: string, n: number): string {
  const base = vmName.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '') || 'vm';
  return `${base}-disk${n + 1}.vmdk`;
}

/**
 * The bytes of an export file. Without a container: the root disk as RAW, a streamOptimized VMDK or
 * a fixed VHD. With ContainerFormat ova: every volume as a streamOptimized VMDK inside an OVA (OVF
 * descriptor first, SHA256 manifest last).
 */
export function writeExportFile(
  disks: DiskStream[],
  opts: {
    diskImageFormat: ExportDiskFormat;
    containerFormat?: 'ova';
    vmName: string;
    firmware: 'bios' | 'efi';
    tmpDir: string;
  },
): AsyncIterable<Buffer> {
  const root = disks[0];
  if (!root) throw new Error('writeExportFile: no disk');
  if (opts.containerFormat === 'ova') {
    return writeOva({
      vmName: opts.vmName,
      firmware: opts.firmware,
      disks: disks.map((disk, n) => ({ fileName: vmdkName(opts.vmName, n), disk })),
      tmpDir: opts.tmpDir,
    });
  }
  switch (opts.diskImageFormat) {
    case 'RAW':
      return diskToRaw(root);
    case 'VMDK':
      return writeStreamOptimizedVmdk(root, { fileName: vmdkName(opts.vmName, 0) });
    case 'VHD':
      return writeFixedVhd(root);
  }
}
