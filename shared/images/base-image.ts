/**
 * The on-prem image a return's delta is applied to, or an incremental offload's block delta is
 * taken from, opened for random access whatever its format (an OVA's disk in place).
 */
import { dirname, resolve as resolvePath } from 'node:path';
import { detectImageFormat, type ImageFormat } from './detect';
import { ImageError } from './errors';
import { listOvaEntries, subSource } from './ova';
import { parseOvf } from './ovf-parse';
import type { OvfHardware } from './ovf-profile';
import { openRandomAccess } from './random-access';
import type { RandomAccessDisk } from './random-access-disk';
import { fileSource, type ByteSource } from './source';
import { resolveInDirectory } from './vmdk-flat';

const MAX_OVF_BYTES = 16 * 1024 * 1024;

/** A base image opened for random access; for an OVA, its first disk and its descriptor. */
export interface OpenedBase {
  disk: RandomAccessDisk;
  format: ImageFormat;
  /** For an OVA base: what its descriptor says (the VM profile an OVA output keeps). */
  ovf?: OvfHardware;
  /** For an OVA base: the disk's file name inside it. */
  diskFileName?: string;
  close(): Promise<void>;
}

/**
 * Opens an image file for random access in any format `openRandomAccess` reads; a VMDK descriptor's
 * extent files are looked up next to it; an OVA's first disk is opened in place (no copy).
 */
export async function openBaseImage(path: string): Promise<OpenedBase> {
  const src = await fileSource(path);
  const opened: ByteSource[] = [src];
  const close = async () => {
    for (const s of opened) await s.close();
  };
  try {
    const head = await src.read(0, Math.min(64 * 1024, src.size));
    const tail = src.size >= 512 ? await src.read(src.size - 512, 512) : undefined;
    const format = detectImageFormat(head, src.size, tail);
    if (format !== 'ova') {
      const resolveNext = resolveInDirectory(dirname(resolvePath(path)));
      const disk = await openRandomAccess(src, {
        format,
        resolve: async (name) => {
          const s = await resolveNext(name);
          opened.push(s);
          return s;
        },
      });
      return { disk, format, close };
    }
    const entries = await listOvaEntries(src);
    const first = entries[0];
    if (!first || !first.name.toLowerCase().endsWith('.ovf')) {
      const ovf = entries.find((e) => e.name.toLowerCase().endsWith('.ovf'));
      throw new ImageError(
        ovf ? 'BG_OVA_DESCRIPTOR_NOT_FIRST' : 'BG_OVA_NO_DESCRIPTOR',
        `${path}: ${ovf ? `the descriptor "${ovf.name}" is not the first entry` : 'no .ovf descriptor'}; this is not an OVA as VMware writes them — pass the disk image itself as the base`,
      );
    }
    if (first.size > MAX_OVF_BYTES) {
      throw new ImageError('BG_OVA_LIMIT', `${path}: the descriptor is over ${MAX_OVF_BYTES} bytes`);
    }
    const ovf = parseOvf((await src.read(first.offset, first.size)).toString('utf8'));
    const href = ovf.profile.disks.find((d) => d.href !== undefined)?.href;
    if (href === undefined) throw new ImageError('BG_OVA_NO_DISK', `${path}: the OVF names no disk file`);
    const entry = entries.find((e) => e.name === href);
    if (!entry) {
      throw new ImageError(
        'BG_OVA_MISSING_DISK',
        `${path}: the OVF's first disk "${href}" is not in the archive`,
      );
    }
    const disk = await openRandomAccess(subSource(src, entry.offset, entry.size, `${path}:${href}`));
    return { disk, format, ovf, diskFileName: href, close };
  } catch (err) {
    await close();
    throw err;
  }
}
