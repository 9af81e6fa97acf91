/**
 * Random-access bytes of an image file. Readers that can seek (VHD, VHDX, qcow2, sparse VMDK)
 * work on a ByteSource, so the same reader serves a local file, a buffer in a test, or an S3
 * object read with ranged GETs (an adapter outside shared/images implements this interface).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ImageError } from './errors';

export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** What to call it in error messages (a path, an S3 key). */
  readonly name: string;
  /**
   * Exactly `length` bytes at `offset`. Reading past the end is an error (BG_IMAGE_TRUNCATED):
   * a reader that needs bytes the file does not have is looking at a cut or corrupt file.
   */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: the same bytes as `read(offset, target.length)`, into the caller's buffer. Hot loops
   * (the chunked converter) reuse one buffer instead of allocating one per read.
   */
  readInto?(offset: number, target: Buffer): Promise<void>;
  /**
   * Optional, for sources that read synchronously (a local file in a conversion worker): a view of
   * `length` bytes at `offset` into the source's own buffer, valid only until the next call on the
   * source — the caller uses it at once (a grain inflated from it) instead of copying it out.
   * `undefined` when the source cannot lend that range; then `read`/`readInto` do.
   */
  peek?(offset: number, length: number): Buffer | undefined;
  close(): Promise<void>;
}

/** `src.readInto` when the source has it, else `read` and a copy. */
export async function readSourceInto(src: ByteSource, offset: number, target: Buffer): Promise<void> {
  if (src.readInto) return src.readInto(offset, target);
  (await src.read(offset, target.length)).copy(target);
}

export function checkRange(src: { size: number; name: string }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `${src.name}: invalid read of ${length} bytes at ${offset}`,
    );
  }
  if (offset + length > src.size) {
    throw new ImageError(
      'BG_IMAGE_TRUNCATED',
      `${src.name} ends early: needed bytes ${offset}..${offset + length} but the file has ${src.size}; the file is incomplete — transfer it again`,
    );
  }
}

export function bufferSource(buf: Buffer, name = 'image'): ByteSource {
  return {
    size: buf.length,
    name,
    read: async (offset, length) => {
      checkRange({ size: buf.length, name }, offset, length);
      return buf.subarray(offset, offset + length);
    },
    close: async () => undefined,
  };
}

export async function fileSource(path: string): Promise<ByteSource> {
  const fh: FileHandle = await open(path, 'r');
  const size = (await fh.stat()).size;
  const readInto = async (offset: number, buf: Buffer): Promise<void> => {
    checkRange({ size, name: path }, offset, buf.length);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await fh.read(buf, done, buf.length - done, offset + done);
      if (bytesRead === 0) throw new ImageError('BG_IMAGE_TRUNCATED', `${path} shrank while being read`);
      done += bytesRead;
    }
  };
  return {
    size,
    name: path,
    read: async (offset, length) => {
      const buf = Buffer.allocUnsafe(length);
      await readInto(offset, buf);
      return buf;
    },
    readInto,
    close: () => fh.close(),
  };
}
