/**
 * The last leg of a return, on-prem: the job's download becomes the image the user asked for.
 *
 * - An `ova` download is the whole VM: downloaded and verified (size, SHA-256) as it is, or, when
 *   another format is asked for, converted from a verified temporary copy.
 * - A `delta` download holds only the ranges the VM changed in the cloud (shared/images README,
 *   "Delta artifact"). It is applied to the image that was offloaded (the base): the base is
 *   checked first (its disk content SHA-256 must be the one the delta applies to) so a wrong base
 *   fails before anything is downloaded; then the delta is downloaded and verified, applied, and
 *   the rebuilt disk's SHA-256 compared with the one the gateway announced. A delta that names no
 *   base is the gateway's full-disk fallback (no base existed in the cloud): it is applied to an
 *   empty disk, and no base is needed.
 *
 * Whatever fails, `out` is either untouched or the complete verified image, and no temporary file
 * is left behind: temporaries sit next to `out` (same file system: renames, and no surprise on a
 * small /tmp) and are removed in every outcome.
 */
import { createReadStream } from 'node:fs';
import { rename, rm, truncate, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { WRITERS, convertImage, describeImage, type ConvertTarget } from '../images/convert';
import { readDelta } from '../images/delta-reader';
import { rebuildFromDelta } from '../images/delta-rebuild';
import type { ImageFormat } from '../images/detect';
import { isImageError } from '../images/errors';
import { downloadImage } from './download';
import { GatewayClientError } from './errors';
import type { ClientJobView, JobDownload } from './types';

/** What `burstgate return --to` accepts: an OVA, or one disk in any format shared/images writes. */
export type ReturnOutputFormat = 'ova' | ConvertTarget;
export const RETURN_OUTPUT_FORMATS: readonly ReturnOutputFormat[] = [
  'ova',
  ...(Object.keys(WRITERS) as ConvertTarget[]),
];

/** The output format an `--out` name suggests: `.ova` → an OVA, anything else → a streamOptimized VMDK. */
export function outputFormatFor(path: string): 'ova' | 'vmdk-stream' {
  return extname(path).toLowerCase() === '.ova' ? 'ova' : 'vmdk-stream';
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The job's download, checked against the API contract before anything is fetched: a malformed
 * one would otherwise fail later with a confusing message (or not at all).
 */
export function checkDownload(job: Pick<ClientJobView, 'jobId' | 'download'>): JobDownload {
  const d = job.download as Partial<JobDownload> | undefined;
  const wrong = (why: string): GatewayClientError =>
    new GatewayClientError(
      'protocol',
      `the download the gateway offers for ${job.jobId} is not what the API promises (${why}); ` +
        'check that the client and gateway versions match',
    );
  if (!d || typeof d !== 'object') throw wrong('there is none');
  if (d.format !== 'ova' && d.format !== 'delta') {
    throw wrong(`format ${JSON.stringify(d.format)}: this burstgate knows ova and delta; update it`);
  }
  if (typeof d.url !== 'string' || d.url === '') throw wrong('no url');
  if (typeof d.sizeBytes !== 'number' || !Number.isSafeInteger(d.sizeBytes) || d.sizeBytes < 0) {
    throw wrong(`sizeBytes ${JSON.stringify(d.sizeBytes)}`);
  }
  for (const field of ['sha256', 'diskSha256'] as const) {
    if (typeof d[field] !== 'string' || !HEX64.test(d[field])) {
      throw wrong(`${field} ${JSON.stringify(d[field])} is not a lowercase hex SHA-256`);
    }
  }
  if (
    d.baseDiskSha256 !== undefined &&
    (typeof d.baseDiskSha256 !== 'string' || !HEX64.test(d.baseDiskSha256))
  ) {
    throw wrong(`baseDiskSha256 ${JSON.stringify(d.baseDiskSha256)} is not a lowercase hex SHA-256`);
  }
  return d as JobDownload;
}

export interface MeasuredBase {
  path: string;
  format: ImageFormat;
  capacity: number;
  /** Content SHA-256 of its (first) disk: all bytes, zeros included, the same in any format. */
  sha256: string;
}

/** Reads a base image whole and hashes its disk content (an OVA's manifest is checked on the way). */
export async function measureBase(
  path: string,
  opts: { onProgress?: (done: number, total: number) => void } = {},
): Promise<MeasuredBase> {
  const summary = await describeImage(path, {
    hash: true,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  return { path, format: summary.format, capacity: summary.capacity, sha256: summary.sha256! };
}

/** Fails with `wrong-base` when the measured base is not the disk `expected` names. */
export function checkBase(base: MeasuredBase, expected: string, jobId: string): void {
  if (base.sha256 === expected) return;
  throw new GatewayClientError(
    'wrong-base',
    `wrong base file: ${base.path} holds a disk with content SHA-256 ${base.sha256}, but job ${jobId} ` +
      `offloaded a disk with ${expected}; pass the image that was offloaded (the file given to \`burstgate offload\`) as --base`,
  );
}

export interface FetchReturnedImageOptions {
  jobId: string;
  /** The VM's name: an OVA written from a bare disk is named after it. */
  vmName: string;
  download: JobDownload;
  out: string;
  to: ReturnOutputFormat;
  /**
   * The image that was offloaded; required for a delta of changes (one with `baseDiskSha256`), not
   * for the full-disk fallback. Measured here unless `measured` is given.
   */
  base?: string;
  /** The base, already measured (e.g. checked before the return was started). */
  measured?: MeasuredBase;
  signal?: AbortSignal;
  /** Progress of each phase as it runs: hashing the base, the download, a conversion. */
  onProgress?: (phase: 'base' | 'download' | 'convert', done: number, total: number | undefined) => void;
  /** A phase starts (so a caller can end the previous progress line and say what comes next). */
  onPhase?: (phase: 'base' | 'download' | 'rebuild' | 'convert' | 'verify') => void;
}

export interface FetchedReturnedImage {
  path: string;
  format: ReturnOutputFormat;
  /** What the gateway offered. */
  source: JobDownload['format'];
  /** Bytes of the written image. */
  outputBytes: number;
  /** Bytes downloaded and their SHA-256 (verified against the gateway's). */
  downloadedBytes: number;
  downloadSha256: string;
  /** Content SHA-256 of the written image's disk, verified against the gateway's `diskSha256`; unset when an OVA was saved as is (its file SHA-256 is what was verified). */
  diskSha256?: string;
  /** For a delta: what was applied to which base (none: the gateway's full-disk fallback). */
  delta?: {
    base?: string;
    baseFormat?: ImageFormat;
    extents: number;
    bytesApplied: number;
    zeroBytes: number;
    virtualSize: number;
  };
}

/** Downloads a returned job's image into `out` as `to`; see the module comment for the guarantees. */
export async function fetchReturnedImage(opts: FetchReturnedImageOptions): Promise<FetchedReturnedImage> {
  const d = checkDownload({ jobId: opts.jobId, download: opts.download });
  const out = resolve(opts.out);
  return d.format === 'delta' ? fromDelta(opts, d, out) : fromOva(opts, d, out);
}

async function fromOva(
  opts: FetchReturnedImageOptions,
  d: JobDownload,
  out: string,
): Promise<FetchedReturnedImage> {
  const progress = (done: number, total: number | undefined): void =>
    opts.onProgress?.('download', done, total);
  const common = {
    expectedSha256: d.sha256,
    expectedSize: d.sizeBytes,
    onProgress: progress,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  opts.onPhase?.('download');
  if (opts.to === 'ova') {
    const r = await downloadImage(d.url, out, common);
    return {
      path: out,
      format: 'ova',
      source: 'ova',
      outputBytes: r.sizeBytes,
      downloadedBytes: r.sizeBytes,
      downloadSha256: r.sha256,
    };
  }
  const downloaded = `${out}.download.ova`;
  const staged = `${out}.part`;
  try {
    const r = await downloadImage(d.url, downloaded, common);
    opts.onPhase?.('convert');
    const converted = await convertImage(downloaded, staged, opts.to, {
      onProgress: (done, total) => opts.onProgress?.('convert', done, total),
    });
    if (converted.format !== 'ova') {
      throw new GatewayClientError(
        'integrity',
        `the gateway announced an OVA but the download is a ${converted.format} image; nothing was kept — check that the client and gateway versions match`,
      );
    }
    if (converted.sha256 !== d.diskSha256) {
      throw new GatewayClientError(
        'integrity',
        `the disk in the downloaded OVA has content SHA-256 ${converted.sha256}, not the ${d.diskSha256} the gateway announced; nothing was kept; run the command again`,
      );
    }
    await verifyWritten(staged, d.diskSha256, out, opts);
    await rename(staged, out);
    return {
      path: out,
      format: opts.to,
      source: 'ova',
      outputBytes: converted.outputBytes,
      downloadedBytes: r.sizeBytes,
      downloadSha256: r.sha256,
      diskSha256: d.diskSha256,
    };
  } finally {
    await rm(downloaded, { force: true });
    await rm(staged, { force: true });
  }
}

function baseRequired(jobId: string, out: string, why: string): GatewayClientError {
  return new GatewayClientError(
    'base-required',
    `job ${jobId} came back as a delta (only what changed in the cloud)${why}: pass the image that was offloaded ` +
      `as --base, e.g. burstgate return ${jobId} --base <the file given to burstgate offload> --out ${basename(out)}`,
  );
}

async function fromDelta(
  opts: FetchReturnedImageOptions,
  d: JobDownload,
  out: string,
): Promise<FetchedReturnedImage> {
  const basePath = opts.measured?.path ?? opts.base;
  // A delta that names no base is the gateway's full-disk fallback (no base existed in the cloud):
  // it is rebuilt onto an empty disk, so only a delta of changes needs the offloaded image.
  if (basePath === undefined && d.baseDiskSha256 !== undefined) throw baseRequired(opts.jobId, out, '');
  if (basePath !== undefined && resolve(basePath) === out) {
    throw new GatewayClientError(
      'wrong-base',
      `${out} is both the base and the output: the delta is read together with the base, so write the result to another file`,
    );
  }
  let measured = opts.measured;
  // Checked before the download: a wrong base fails without fetching anything.
  if (basePath !== undefined && measured === undefined && d.baseDiskSha256 !== undefined) {
    opts.onPhase?.('base');
    measured = await measureBase(basePath, {
      onProgress: (done, total) => opts.onProgress?.('base', done, total),
    });
  }
  if (measured !== undefined && d.baseDiskSha256 !== undefined)
    checkBase(measured, d.baseDiskSha256, opts.jobId);

  const deltaFile = `${out}.bgdelta`;
  const staged = `${out}.part`;
  const emptyBase = `${out}.empty-base`;
  try {
    opts.onPhase?.('download');
    const r = await downloadImage(d.url, deltaFile, {
      expectedSha256: d.sha256,
      expectedSize: d.sizeBytes,
      what: 'delta',
      onProgress: (done, total) => opts.onProgress?.('download', done, total),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    // The header (one small read) says which base the delta wants. When the base was measured
    // already it is compared here, so rebuildFromDelta need not hash it a second time.
    const reader = await readDelta(createReadStream(deltaFile), { name: deltaFile });
    const header = reader.header;
    await reader.close();
    let base = basePath;
    if (base === undefined) {
      if (header.baseSha256 !== undefined) {
        throw baseRequired(opts.jobId, out, ' and the delta names the disk it applies to');
      }
      // a sparse file: an empty disk costs no space and reads as zeros
      await writeFile(emptyBase, '');
      await truncate(emptyBase, header.baseCapacity ?? header.virtualSize);
      base = emptyBase;
    }
    if (measured !== undefined && header.baseSha256 !== undefined) {
      checkBase(measured, header.baseSha256, opts.jobId);
    }
    opts.signal?.throwIfAborted();
    opts.onPhase?.('rebuild');
    const rebuilt = await rebuildFromDelta({
      base,
      delta: deltaFile,
      out: staged,
      to: opts.to,
      checkBase: measured === undefined,
      vmName: opts.vmName,
      // writeOva stages the VMDK it wraps: next to the output, where the space for it is
      tmpDir: dirname(out),
    }).catch((e: unknown) => {
      if (basePath === undefined && isImageError(e, 'BG_DELTA_RESULT_MISMATCH')) {
        throw baseRequired(opts.jobId, out, ' that does not hold the whole disk');
      }
      throw e;
    });
    if (rebuilt.sha256 !== d.diskSha256) {
      throw new GatewayClientError(
        'integrity',
        `the disk rebuilt from ${basePath ?? 'the delta'}${basePath ? ' and the delta' : ''} has content SHA-256 ${rebuilt.sha256}, but the gateway ` +
          `announced ${d.diskSha256} for the returned disk; nothing was kept; the delta or the job's record is wrong — run the command again, and report it if it persists`,
      );
    }
    opts.signal?.throwIfAborted();
    await rename(staged, out);
    return {
      path: out,
      format: opts.to,
      source: 'delta',
      outputBytes: rebuilt.outputBytes,
      downloadedBytes: r.sizeBytes,
      downloadSha256: r.sha256,
      diskSha256: rebuilt.sha256,
      delta: {
        ...(basePath !== undefined ? { base: basePath, baseFormat: rebuilt.baseFormat } : {}),
        extents: rebuilt.extents,
        bytesApplied: rebuilt.bytesApplied,
        zeroBytes: rebuilt.zeroBytes,
        virtualSize: rebuilt.virtualSize,
      },
    };
  } finally {
    await rm(deltaFile, { force: true });
    await rm(staged, { force: true });
    await rm(emptyBase, { force: true });
  }
}

/** Reads a written image back and compares its disk content with what the gateway announced. */
async function verifyWritten(
  path: string,
  expected: string,
  out: string,
  opts: FetchReturnedImageOptions,
): Promise<void> {
  opts.onPhase?.('verify');
  const written = await describeImage(path, { hash: true });
  if (written.sha256 !== expected) {
    throw new GatewayClientError(
      'integrity',
      `${out} read back with disk content SHA-256 ${written.sha256}, not ${expected}; nothing was kept — report this as a bug`,
    );
  }
}
