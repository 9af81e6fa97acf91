/**
 * `burstgate return`: the on-prem original with a return's delta applied, written in the asked
 * format, verified and only then put under its name.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve as resolvePath } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openBaseImage, type OpenedBase } from './base-image';
import { WRITERS, withImageFile, type ConvertTarget } from './convert';
import { applyDelta, checkDeltaBase } from './delta-apply';
import { invalidArgument } from './errors';
import type { DeltaLimits } from './delta-format';
import { readDelta, verifyDelta } from './delta-reader';
import type { ImageFormat } from './detect';
import { ImageError } from './errors';
import { writeOva } from './ova';

const MiB = 1024 * 1024;

/**
 * Runs `write(tmpPath)` and renames the temporary file to `path` only when it succeeds; on any error
 * the temporary file is removed, so `path` is either the complete output or untouched.
 */
export async function writeFileAtomically<T>(
  path: string,
  write: (tmpPath: string) => Promise<T>,
): Promise<T> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  try {
    const result = await write(tmp);
    await rename(tmp, path);
    return result;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export interface RebuildFromDeltaOptions extends DeltaLimits {
  /** The on-prem original the VM was offloaded from: any format `openBaseImage` reads. */
  base: string;
  /** The delta: a file (checked whole before anything is written) or a stream (checked as it is applied). */
  delta: AsyncIterable<Buffer> | string;
  out: string;
  /** Output format (default streamOptimized VMDK). */
  to?: ConvertTarget | 'ova';
  /** Hash the base before writing when the delta names its SHA-256 (default true). */
  checkBase?: boolean;
  /** Read the written file back and compare its content hash (default true). */
  verifyOutput?: boolean;
  /** OVA output from a non-OVA base: the VM's name (default: the output file's name). */
  vmName?: string;
  /** Where writeOva stages its VMDK (default os.tmpdir()). */
  tmpDir?: string;
}

export interface RebuildResult {
  /** SHA-256 of the rebuilt disk's content, verified against the delta. */
  sha256: string;
  bytesApplied: number;
  zeroBytes: number;
  extents: number;
  virtualSize: number;
  baseFormat: ImageFormat;
  outputBytes: number;
}

/**
 * `burstgate return --base --out --to`: the base image with the delta applied, written as `to`.
 * Nothing is written until the delta (when it is a file) and the base have been checked; the output
 * appears under its name only when complete and verified.
 */
export async function rebuildFromDelta(opts: RebuildFromDeltaOptions): Promise<RebuildResult> {
  const to = opts.to ?? 'vmdk-stream';
  const writer = to === 'ova' ? undefined : WRITERS[to];
  if (to !== 'ova' && !writer) {
    throw new ImageError(
      'BG_IMAGE_UNSUPPORTED_FORMAT',
      `cannot write "${to}" (supported: ova, ${Object.keys(WRITERS).join(', ')})`,
    );
  }
  if (resolvePath(opts.out) === resolvePath(opts.base)) {
    throw invalidArgument(`the output ${opts.out} is the base image; write the rebuilt disk elsewhere`);
  }
  const limits: DeltaLimits = {
    ...(opts.maxExtents !== undefined ? { maxExtents: opts.maxExtents } : {}),
    ...(opts.maxExtentBytes !== undefined ? { maxExtentBytes: opts.maxExtentBytes } : {}),
    ...(opts.maxVirtualSize !== undefined ? { maxVirtualSize: opts.maxVirtualSize } : {}),
  };
  const deltaName = typeof opts.delta === 'string' ? opts.delta : 'delta';
  const deltaStream = () =>
    typeof opts.delta === 'string'
      ? (createReadStream(opts.delta, { highWaterMark: MiB }) as AsyncIterable<Buffer>)
      : opts.delta;
  // A delta on disk is checked whole first, so a damaged one fails before the base is even opened.
  if (typeof opts.delta === 'string') await verifyDelta(deltaStream(), { ...limits, name: deltaName });
  const delta = await readDelta(deltaStream(), { ...limits, name: deltaName });
  let base: OpenedBase | undefined;
  try {
    base = await openBaseImage(opts.base);
    await checkDeltaBase(delta.header, base.disk, { name: opts.base, hash: opts.checkBase ?? true });
    const applied = applyDelta(base.disk, delta, { name: opts.base });
    const opened = base;
    const outputBytes = await writeFileAtomically(opts.out, async (tmp) => {
      if (writer) {
        await writer(applied, tmp, {});
      } else {
        const profile = opened.ovf?.profile;
        const diskName =
          opened.diskFileName && /^[A-Za-z0-9._-]+\.vmdk$/.test(opened.diskFileName)
            ? opened.diskFileName
            : 'disk1.vmdk';
        const controller = profile?.disks.find((d) => d.href === opened.diskFileName)?.controller;
        await pipeline(
          Readable.from(
            writeOva({
              vmName: profile?.name ?? opts.vmName ?? (basename(opts.out, extname(opts.out)) || 'vm'),
              ...(profile
                ? {
                    vcpus: profile.vcpus,
                    memoryBytes: profile.memoryBytes,
                    firmware: profile.firmware,
                    nics: profile.nics,
                    ...(profile.osType ? { osType: profile.osType } : {}),
                  }
                : {}),
              disks: [{ fileName: diskName, disk: applied, ...(controller ? { controller } : {}) }],
              ...(opts.tmpDir !== undefined ? { tmpDir: opts.tmpDir } : {}),
            }),
          ),
          createWriteStream(tmp),
        );
      }
      const s = applied.summary();
      if (!s)
        throw new ImageError(
          'BG_IMAGE_STREAM_STATE',
          `${opts.out}: the writer stopped before the end of the disk`,
        );
      if (opts.verifyOutput ?? true) {
        const written = await withImageFile(
          tmp,
          async (disk) => {
            for await (const _ of disk.extents) {
              // hashed as it passes
            }
          },
          { hash: true },
        );
        if (written.sha256 !== s.sha256 || written.capacity !== applied.capacity) {
          throw new ImageError(
            'BG_DELTA_RESULT_MISMATCH',
            `${opts.out}: the written ${to} reads back as ${written.capacity} bytes with SHA-256 ${written.sha256}, not the rebuilt ${applied.capacity} bytes with ${s.sha256}; nothing was kept — report this as a bug`,
          );
        }
      }
      return (await stat(tmp)).size;
    });
    const s = applied.summary()!;
    return {
      sha256: s.sha256,
      bytesApplied: s.bytesApplied,
      zeroBytes: s.zeroBytes,
      extents: s.extents,
      virtualSize: applied.capacity,
      baseFormat: base.format,
      outputBytes,
    };
  } finally {
    await delta.close();
    await base?.close();
  }
}
