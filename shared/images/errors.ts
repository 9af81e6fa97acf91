/**
 * One error family for the disk-image module. Every failure that is the input's fault (a truncated
 * file, a hostile header, a manifest that does not match) is an ImageError with a stable code, so
 * callers can map it to a user-facing answer without parsing messages. README.md ("Error codes")
 * says what each code means and what the user should do; a unit test keeps that list and this
 * union equal to the codes the source throws.
 */
export type ImageErrorCode =
  | 'BG_IMAGE_TRUNCATED'
  | 'BG_IMAGE_TRAILING_DATA'
  | 'BG_IMAGE_UNSUPPORTED_FORMAT'
  | 'BG_IMAGE_UNALIGNED'
  | 'BG_IMAGE_INVALID_ARGUMENT'
  | 'BG_IMAGE_STREAM_STATE'
  | 'BG_QCOW2_BAD_HEADER'
  | 'BG_QCOW2_BACKING_FILE'
  | 'BG_QCOW2_ENCRYPTED'
  | 'BG_QCOW2_UNSUPPORTED'
  | 'BG_QCOW2_CORRUPT'
  | 'BG_QCOW2_LIMIT'
  | 'BG_VMDK_BAD_MAGIC'
  | 'BG_VMDK_BAD_VERSION'
  | 'BG_VMDK_BAD_HEADER'
  | 'BG_VMDK_NOT_STREAM_OPTIMIZED'
  | 'BG_VMDK_CORRUPT_GRAIN'
  | 'BG_VMDK_BAD_MARKER'
  | 'BG_VMDK_BAD_DESCRIPTOR'
  | 'BG_VMDK_LIMIT'
  | 'BG_VMDK_DIFFERENCING'
  | 'BG_VMDK_MISSING_EXTENT'
  | 'BG_VMDK_UNSUPPORTED_EXTENT'
  | 'BG_TAR_BAD_HEADER'
  | 'BG_TAR_LIMIT'
  | 'BG_TAR_SIZE_MISMATCH'
  | 'BG_TAR_UNSAFE_NAME'
  | 'BG_OVA_NO_DESCRIPTOR'
  | 'BG_OVA_DESCRIPTOR_NOT_FIRST'
  | 'BG_OVA_MANIFEST_INVALID'
  | 'BG_OVA_MANIFEST_MISMATCH'
  | 'BG_OVA_MANIFEST_MISSING_FILE'
  | 'BG_OVA_MANIFEST_UNVERIFIABLE'
  | 'BG_OVA_NO_DISK'
  | 'BG_OVA_MISSING_DISK'
  | 'BG_OVA_LIMIT'
  | 'BG_OVF_INVALID'
  | 'BG_VHD_BAD_FOOTER'
  | 'BG_VHD_NOT_FIXED'
  | 'BG_VHD_SIZE_MISMATCH'
  | 'BG_VHD_BAD_HEADER'
  | 'BG_VHD_DIFFERENCING'
  | 'BG_VHD_LIMIT'
  | 'BG_VHDX_BAD_HEADER'
  | 'BG_VHDX_BAD_REGION_TABLE'
  | 'BG_VHDX_BAD_METADATA'
  | 'BG_VHDX_BAD_BAT'
  | 'BG_VHDX_LOG_REPLAY'
  | 'BG_VHDX_DIFFERENCING'
  | 'BG_VHDX_LIMIT'
  | 'BG_DELTA_BAD_HEADER'
  | 'BG_DELTA_UNSUPPORTED_VERSION'
  | 'BG_DELTA_BAD_RECORD'
  | 'BG_DELTA_EXTENT_MISMATCH'
  | 'BG_DELTA_BAD_TRAILER'
  | 'BG_DELTA_RESULT_MISMATCH'
  | 'BG_DELTA_WRONG_BASE'
  | 'BG_DELTA_LIMIT'
  | 'BG_DELTA_TRUNCATED'
  | 'BG_DELTA_TRAILING_DATA';

export class ImageError extends Error {
  readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ImageError';
    this.code = code;
  }
}

export function isImageError(err: unknown, code?: ImageErrorCode): err is ImageError {
  return err instanceof ImageError && (code === undefined || err.code === code);
}

/** A caller's mistake in an argument or a call (not the image's fault): BG_IMAGE_INVALID_ARGUMENT. */
export function invalidArgument(message: string): ImageError {
  return new ImageError('BG_IMAGE_INVALID_ARGUMENT', message);
}
