/**
 * What Azure checks in an uploaded disk's VHD footer when upload access is revoked (Disks_RevokeAccess
 * fails with InvalidVhd and the disk stays in ActiveUpload). Each rule answers with Azure's wording
 * where it is known (cookie, whole-MiB size) and a message in the same style otherwise.
 */
import { armError, type AzureSimError } from './errors';

const MiB = 1024 * 1024;
const DISK_TYPES: Record<number, string> = { 2: 'Fixed', 3: 'Dynamic', 4: 'Differencing' };

function checksumOf(f: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += f[i] ?? 0;
  return ~sum >>> 0;
}

/** Returns the InvalidVhd error for `footer` (the blob's last 512 bytes), or undefined when valid. */
export function checkUploadedFooter(
  footer: Buffer,
  uploadSizeBytes: number,
  blobName: string,
  blobUrl: string,
): AzureSimError | undefined {
  const where = `disk '${blobName}' with blob ${blobUrl}`;
  if (footer.subarray(0, 8).toString('latin1') !== 'conectix') {
    return armError(
      'InvalidVhd',
      `The specified cookie value in VHD footer indicates that ${where} is not a supported VHD. Disk is expected to have cookie value 'conectix'.`,
    );
  }
  const stored = footer.readUInt32BE(64);
  if (stored !== checksumOf(footer)) {
    return armError(
      'InvalidVhd',
      `The checksum in the VHD footer of ${where} does not match the footer's content. The VHD footer is corrupt.`,
    );
  }
  const type = footer.readUInt32BE(60);
  if (type !== 2) {
    return armError(
      'InvalidVhd',
      `The VHD footer of ${where} has disk type '${DISK_TYPES[type] ?? String(type)}'. Only fixed VHDs are supported; convert the VHD to a fixed VHD before uploading it.`,
    );
  }
  const currentSize = Number(footer.readBigUInt64BE(48));
  if (currentSize % MiB !== 0) {
    return armError(
      'InvalidVhd',
      `The VHD ${blobUrl} has an unsupported virtual size of ${currentSize} bytes.  The size must be a whole number (in MBs).`,
    );
  }
  if (currentSize !== uploadSizeBytes - 512) {
    return armError(
      'InvalidVhd',
      `The virtual size ${currentSize} bytes in the VHD footer of ${where} does not match the upload size ${uploadSizeBytes} bytes minus 512 bytes for the VHD footer (${uploadSizeBytes - 512} bytes).`,
    );
  }
  return undefined;
}
