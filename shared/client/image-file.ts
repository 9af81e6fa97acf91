/**
 * The local files a client command is given, checked before anything happens on the gateway: the
 * image to offload (its format and a VM name follow from its name), the base a delta is applied to,
 * and where a returned image is to be written.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { GatewayClientError } from './errors';
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

const imageFileError = (message: string, hint?: string): GatewayClientError =>
  new GatewayClientError('image-file', message, hint !== undefined ? { hint } : {});

/**
 * Size of a readable, non-empty regular file; otherwise an `image-file` error whose message starts
 * with the path (a CLI puts what it could not do in front: "cannot offload <message>").
 */
export async function checkImageFile(path: string): Promise<{ path: string; sizeBytes: number }> {
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw imageFileError(`${abs}: no such file`);
    if (code === 'EACCES') throw imageFileError(`${abs}: permission denied`);
    throw imageFileError(`${abs}: ${(err as Error).message}`);
  }
  if (st.isDirectory()) throw imageFileError(`${abs} is a directory, not an image file`);
  if (!st.isFile()) throw imageFileError(`${abs} is not a regular file`);
  try {
    await access(abs, constants.R_OK);
  } catch {
    throw imageFileError(`${abs}: permission denied (not readable)`);
  }
  if (st.size === 0) throw imageFileError(`${abs} is empty`);
  return { path: abs, sizeBytes: st.size };
}

/** What to do when a base is missing or wrong. */
export const OFFLOADED_IMAGE_HINT =
  'pass the image that was offloaded (the file given to `burstgate offload`)';

/** The base given to a return: it must be a readable file (a missing one fails before anything). */
export async function checkBaseFile(path: string): Promise<void> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw imageFileError(
      `cannot read the --base image ${path}: ${e.code === 'ENOENT' ? 'no such file' : (e.code ?? e.message)}`,
      OFFLOADED_IMAGE_HINT,
    );
  });
  if (!st.isFile()) throw imageFileError(`--base ${path} is not a file; pass the image that was offloaded`);
}

/** Where a returned image goes: a writable folder, and no file there unless `force`. */
export async function checkOutputFile(outPath: string, opts: { force?: boolean } = {}): Promise<void> {
  const fail = (message: string, hint?: string): GatewayClientError =>
    new GatewayClientError('output-file', message, hint !== undefined ? { hint } : {});
  const dir = dirname(outPath);
  let st;
  try {
    st = await stat(dir);
    if (st.isDirectory()) await access(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(
      `cannot write ${outPath}: ${code === 'ENOENT' ? `the folder ${dir} does not exist` : `${dir} is not writable`}`,
    );
  }
  if (!st.isDirectory()) throw fail(`cannot write ${outPath}: ${dir} is not a directory`);
  const existing = await stat(outPath).catch(() => undefined);
  if (existing?.isDirectory()) throw fail(`--out ${outPath} is a directory; name a file such as vm.ova`);
  if (existing && !opts.force) throw fail(`${outPath} already exists`, 'pass --force to overwrite it');
}
