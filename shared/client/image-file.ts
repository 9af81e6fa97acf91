/** What the CLI works out about an image file before offloading it. */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import type { ImageFormatName } from './types';

export const IMAGE_FORMATS: readonly ImageFormatName[] = ['ova', 'vmdk', 'vhd', 'vhdx', 'raw'];

const BY_EXTENSION: Record<string, ImageFormatName> = {
  '.ova': 'ova',
  '.vmdk': 'vmdk',
  '.vhd': 'vhd',
  '.vhdx': 'vhdx',
  '.img': 'raw',
  '.raw': 'raw',
};

/** The format an extension implies, or undefined. */
export function formatFromExtension(path: string): ImageFormatName | undefined {
  return BY_EXTENSION[extname(path).toLowerCase()];
}

/** A VM name the gateway accepts (letters, digits, `._ -`, starting alphanumeric, ≤ 128). */
export function vmNameFromPath(path: string): string {
  const stem = basename(path, extname(path));
  const cleaned = stem
    .replace(/[^A-Za-z0-9._ -]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128)
    .trim();
  return cleaned || 'vm';
}

export class ImageFileError extends Error {
  override readonly name = 'ImageFileError';
}

/** Size of a readable, non-empty regular file; otherwise a message that names the path. */
export async function checkImageFile(path: string): Promise<{ path: string; sizeBytes: number }> {
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ImageFileError(`${abs}: no such file`);
    if (code === 'EACCES') throw new ImageFileError(`${abs}: permission denied`);
    throw new ImageFileError(`${abs}: ${(err as Error).message}`);
  }
  if (st.isDirectory()) throw new ImageFileError(`${abs} is a directory, not an image file`);
  if (!st.isFile()) throw new ImageFileError(`${abs} is not a regular file`);
  try {
    await access(abs, constants.R_OK);
  } catch {
    throw new ImageFileError(`${abs}: permission denied (not readable)`);
  }
  if (st.size === 0) throw new ImageFileError(`${abs} is empty`);
  return { path: abs, sizeBytes: st.size };
}
