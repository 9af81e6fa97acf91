/**
 * Cutting a disk (or file) into ranges for parallel work: one Map-state item, one Lambda each. The
 * clouds' own plans build on it — EBS blocks (shared/clouds/aws/ebs-blocks.ts) and Azure page writes
 * (shared/clouds/azure/page-plan.ts).
 */
import { invalidArgument } from './errors';

export function checkCount(value: number, what: string, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw invalidArgument(`${what} must be an integer ≥ ${min}, got ${value}`);
  }
}

/** One Map-state item: bytes [offset, offset + length) of the file or disk. Small JSON. */
export interface UploadRange {
  index: number;
  offset: number;
  length: number;
}

/**
 * Cuts [0, totalBytes) into ranges of `chunkBytes`, in order. `chunkBytes` must be a positive
 * multiple of `alignment` (Azure: 4 MiB, so pages never straddle ranges; EBS: 512 KiB blocks) —
 * anything else is refused rather than rounded, so the chunk size a deployment configures is the
 * one that runs. A remainder shorter than `alignment` (a VHD footer, a last partial block) joins the
 * range before it instead of becoming a range (a Lambda) of its own.
 */
export function planRanges(totalBytes: number, chunkBytes: number, alignment: number): UploadRange[] {
  checkCount(totalBytes, 'planRanges totalBytes');
  checkCount(alignment, 'planRanges alignment', 1);
  checkCount(chunkBytes, 'planRanges chunkBytes', 1);
  if (chunkBytes % alignment !== 0) {
    throw invalidArgument(
      `planRanges: the chunk size ${chunkBytes} bytes is not a multiple of ${alignment} bytes; use ${Math.ceil(chunkBytes / alignment) * alignment} (or ${Math.max(1, Math.floor(chunkBytes / alignment)) * alignment})`,
    );
  }
  const ranges: UploadRange[] = [];
  for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
    const length = Math.min(chunkBytes, totalBytes - offset);
    const last = ranges[ranges.length - 1];
    if (length < alignment && last) last.length += length;
    else ranges.push({ index: ranges.length, offset, length });
  }
  return ranges;
}
