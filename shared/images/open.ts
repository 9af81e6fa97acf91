import { ByteReader } from './byte-reader';
import { detectImageFormat, type ImageFormat } from './detect';
import { ImageError } from './errors';
import { rawToDisk, type DiskStream } from './extents';
import { readFixedVhd } from './vhd';
import { VmdkStreamReader, type VmdkReaderOptions } from './vmdk-stream-reader';

export interface OpenDiskImageOptions {
  totalSize: number;
  /** The file's last 512 bytes, when the caller has random access: lets a fixed VHD be recognised. */
  tail?: Buffer;
  /** Skip detection and trust this format (e.g. the caller already detected it). */
  format?: ImageFormat;
  vmdk?: VmdkReaderOptions;
}

const HEAD_BYTES = 64 * 1024;

/** Puts already-read bytes back in front of the rest of a stream. */
async function* prepend(head: Buffer, rest: ByteReader): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  for (;;) {
    const c = await rest.readSome(1024 * 1024);
    if (c.length === 0) return;
    yield c;
  }
}

/**
 * One entry point for a non-OVA image file given as a stream and its size: detects the format from
 * its first 64 KiB (and `tail`, if given) and returns its DiskStream. Supported: streamOptimized
 * VMDK, raw, fixed VHD. A fixed VHD is only recognised with `tail` or `format` — like qemu-img, a
 * stream-only caller otherwise sees it as raw. Other formats → BG_IMAGE_UNSUPPORTED_FORMAT.
 */
export async function openDiskImage(
  input: AsyncIterable<Buffer>,
  opts: OpenDiskImageOptions,
): Promise<{ format: ImageFormat; disk: DiskStream }> {
  const r = new ByteReader(input, 'disk image');
  let handedOver = false;
  try {
    const head = await r.readUpTo(Math.min(HEAD_BYTES, opts.totalSize));
    const format = opts.format ?? detectImageFormat(head, opts.totalSize, opts.tail);
    const stream = prepend(head, r);
    let disk: DiskStream;
    switch (format) {
      case 'vmdk-stream-optimized':
        disk = await new VmdkStreamReader(opts.vmdk).read(stream);
        break;
      case 'raw':
        disk = rawToDisk(stream, opts.totalSize, { what: 'raw disk image' });
        break;
      case 'vhd-fixed':
        disk = readFixedVhd(stream, opts.totalSize);
        break;
      default:
        throw new ImageError(
          'BG_IMAGE_UNSUPPORTED_FORMAT',
          `disk image format "${format}" cannot be read as a stream here (supported: vmdk-stream-optimized, raw, vhd-fixed); convert it first, e.g. "qemu-img convert -O vmdk -o subformat=streamOptimized"`,
        );
    }
    handedOver = true;
    return { format, disk };
  } finally {
    if (!handedOver) await r.close();
  }
}
