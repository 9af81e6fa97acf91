/**
 * Opening a disk image for random access: detects the format (or takes the caller's) and hands the
 * file to that format's opener. The interfaces the openers implement are in random-access-disk.ts.
 */
import { detectImageFormat, type ImageFormat } from './detect';
import { ImageError } from './errors';
import { openQcow2 } from './qcow2';
import type { OpenRandomAccessOptions, RandomAccessDisk, RandomAccessOpener } from './random-access-disk';
import { openRaw } from './raw';
import type { ByteSource } from './source';
import { openFixedVhd } from './vhd';
import { openVhdx } from './vhdx';
import { openDynamicVhd } from './vhd-dynamic';
import { openDescriptorVmdk } from './vmdk-flat';
import { openSparseVmdk } from './vmdk-sparse';

const HEAD = 64 * 1024;

/**
 * Format → opener. Each format module adds its opener here (one line), so `openRandomAccess`
 * stays the one entry point.
 */
export const OPENERS: Partial<Record<ImageFormat, RandomAccessOpener>> = {
  raw: openRaw,
  qcow2: openQcow2,
  'vmdk-monolithic-sparse': openSparseVmdk,
  'vmdk-stream-optimized': openSparseVmdk,
  'vmdk-descriptor': openDescriptorVmdk,
  'vhd-fixed': openFixedVhd,
  'vhd-dynamic': openDynamicVhd,
  vhdx: openVhdx,
};

export async function openRandomAccess(
  src: ByteSource,
  opts: OpenRandomAccessOptions = {},
): Promise<RandomAccessDisk> {
  let format = opts.format;
  if (!format) {
    const head = await src.read(0, Math.min(HEAD, src.size));
    const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : undefined;
    format = detectImageFormat(head, src.size, tail);
  }
  const opener = OPENERS[format];
  if (!opener) {
    throw new ImageError(
      'BG_IMAGE_UNSUPPORTED_FORMAT',
      `${src.name}: "${format}" images cannot be opened for random access (supported: ${Object.keys(OPENERS).join(', ')})`,
    );
  }
  return opener(src, { ...opts, format });
}
