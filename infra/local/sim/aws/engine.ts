/**
 * The simulator's window onto shared/images: reading import sources and writing export files.
 * Formats the image engine cannot handle yet fail with a SimLimitation, which the simulator
 * reports honestly (a ClientError that names the limitation), never silently.
 */
import { diskToRaw, rawToDisk, type DiskStream } from '../../../../shared/images/extents';

/** A format AWS accepts but this simulator cannot convert yet. */
export class SimLimitation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimLimitation';
  }
}

export type SourceFormat = 'ova' | 'vmdk-stream-optimized' | 'vhd-fixed' | 'vhd-dynamic' | 'vhdx' | 'raw';

export interface OvaResult {
  firmware?: 'bios' | 'efi';
}

/** Opens a single disk image (not an OVA) as a DiskStream. */
export async function openSourceDisk(
  format: Exclude<SourceFormat, 'ova'>,
  input: AsyncIterable<Buffer>,
  totalSize: number,
): Promise<DiskStream> {
  if (format === 'raw') return rawToDisk(input, totalSize, { what: 'raw disk image' });
  throw new SimLimitation(`the burstgate AWS simulator cannot convert ${format} images yet`);
}

/** Reads an OVA, handing each disk to onDisk in order; verifies the manifest. */
export async function readOvaSource(
  _input: AsyncIterable<Buffer>,
  _onDisk: (name: string, disk: DiskStream) => Promise<void>,
): Promise<OvaResult> {
  throw new SimLimitation('the burstgate AWS simulator cannot read OVA files yet');
}

export type ExportDiskFormat = 'VMDK' | 'RAW' | 'VHD';

/** The bytes of an export file: a disk image, or an OVA holding a streamOptimized VMDK. */
export function writeExportFile(
  disk: DiskStream,
  opts: { diskImageFormat: ExportDiskFormat; containerFormat?: 'ova'; vmName: string; tmpDir: string },
): AsyncIterable<Buffer> {
  if (opts.containerFormat === undefined && opts.diskImageFormat === 'RAW') return diskToRaw(disk);
  throw new SimLimitation(
    `the burstgate AWS simulator cannot write ${opts.containerFormat ?? opts.diskImageFormat} exports yet`,
  );
}
