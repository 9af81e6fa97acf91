/**
 * A return from the on-prem side, start to finish: check the base (the image that was offloaded,
 * when the job comes back as a delta of changes) while nothing has happened yet, start the return
 * (or pick up one under way or done), follow the job until the image is back in staging, then fetch
 * it: the whole OVA, or the delta rebuilt onto the base (returned-image.ts keeps `out` either absent
 * or complete and verified).
 *
 * It reports through `onEvent` and prints nothing. Expected failures are GatewayClientErrors:
 * `base-required` (a delta of changes and no base: the return is done by then, so a re-run with
 * `base` only downloads), `wrong-base` (before the return starts when the gateway knows the
 * offloaded disk, else before the download), `image-file` (the base is no disk image), `integrity`,
 * `transfer`... A job that ends elsewhere than `returned` is a result (`returned: false`), not an
 * error: what to say about it is the caller's.
 */
import { resolve } from 'node:path';
import { isImageError } from '../images/errors';
import { GatewayClientError } from './errors';
import { followJob } from './follow';
import { OFFLOADED_IMAGE_HINT } from './image-file';
import {
  checkBase,
  checkDownload,
  fetchReturnedImage,
  measureBase,
  type FetchedReturnedImage,
  type MeasuredBase,
  type ReturnOutputFormat,
} from './returned-image';
import type { JobDownload, JobState, JobStateAnswer, JobView } from './types';

/** What the workflow needs of the gateway client (GatewayClient has it). */
export interface ReturnClient {
  getOffload(jobId: string): Promise<JobView>;
  startReturn(jobId: string): Promise<JobStateAnswer>;
}

export type ReturnStage = 'check' | 'base' | 'start' | 'follow' | 'fetch';

/** The parts of `base` and `fetch` that take a while; `progress` events name the one running. */
export type ReturnPhase = 'base' | 'download' | 'rebuild' | 'convert' | 'verify';

export type ReturnEvent =
  | { type: 'stage'; stage: ReturnStage }
  | { type: 'phase'; phase: ReturnPhase }
  | { type: 'progress'; phase: 'base' | 'download' | 'convert'; done: number; total: number | undefined }
  /** The base's disk was read and hashed (checked against the offloaded disk next). */
  | { type: 'base-measured'; base: MeasuredBase }
  /** The base holds the offloaded disk. */
  | { type: 'base-checked'; base: MeasuredBase }
  /** The return was started; the gateway answered with `state`. */
  | { type: 'started'; state: JobState }
  /** Nothing to start: the job is returning or returned already (a re-run). */
  | { type: 'resumed'; state: JobState }
  /** Following: the first view of the job and each change after it. */
  | { type: 'job'; job: JobView; previous: JobView | undefined }
  /** The job came back as a whole OVA: the base given is not needed and not used. */
  | { type: 'base-unused' };

export interface ReturnOptions {
  jobId: string;
  /** Where the image goes (as given: messages repeat it). Checked already (checkOutputFile). */
  out: string;
  to: ReturnOutputFormat;
  /** The image that was offloaded; needed when the job comes back as a delta of changes. */
  base?: string;
  /** Between status polls while following (default 2 s). */
  intervalMs?: number;
  signal?: AbortSignal;
  onEvent?: (event: ReturnEvent) => void;
}

export type ReturnResult =
  | { returned: true; job: JobView; download: JobDownload; image: FetchedReturnedImage }
  /** The job ended `return-failed`, `failed` or `cancelled` (its `error` says why). */
  | { returned: false; job: JobView };

export async function returnJob(client: ReturnClient, opts: ReturnOptions): Promise<ReturnResult> {
  const emit = opts.onEvent ?? (() => {});
  const { jobId: id } = opts;
  const basePath = opts.base !== undefined ? resolve(opts.base) : undefined;
  // a delta of changes needs the offloaded image; the full-disk fallback (no base hash) does not
  const needsBase = (d: JobView['download']): boolean =>
    d?.format === 'delta' && d.baseDiskSha256 !== undefined && basePath === undefined;
  const baseRequired = (): GatewayClientError =>
    new GatewayClientError(
      'base-required',
      `${id} came back as a delta (only what changed in the cloud): pass the image that was offloaded ` +
        `(the file given to \`burstgate offload\`) as --base, e.g. burstgate return ${id} --base vm.ova --out ${opts.out}`,
    );

  emit({ type: 'stage', stage: 'check' });
  let job = await client.getOffload(id);
  if (job.state === 'returned' && needsBase(job.download)) throw baseRequired();
  // The base is checked first, while nothing has happened yet: a wrong file fails before the VM is
  // stopped. Not when the job came back as a whole OVA already (no base needed then).
  let measured: MeasuredBase | undefined;
  const offloadedDisk = job.download?.baseDiskSha256 ?? job.image.diskSha256;
  const wholeOva = job.state === 'returned' && job.download?.format === 'ova';
  if (basePath !== undefined && offloadedDisk !== undefined && !wholeOva) {
    emit({ type: 'stage', stage: 'base' });
    measured = await measureOffloadedBase(basePath, emit);
    // hashing cannot be cut short; an abort meanwhile must still keep the return from starting
    opts.signal?.throwIfAborted();
    checkBase(measured, offloadedDisk, id);
    emit({ type: 'base-checked', base: measured });
  }
  if (job.state !== 'returned' && job.state !== 'returning') {
    emit({ type: 'stage', stage: 'start' });
    const started = await client.startReturn(id);
    emit({ type: 'started', state: started.state });
  } else {
    emit({ type: 'resumed', state: job.state });
  }
  emit({ type: 'stage', stage: 'follow' });
  job = await followJob(client, id, {
    until: (j) => ['returned', 'return-failed', 'failed', 'cancelled'].includes(j.state),
    ...(opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {}),
    onUpdate: (j, previous) => emit({ type: 'job', job: j, previous }),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (job.state !== 'returned' || !job.download) return { returned: false, job };
  const download = checkDownload(job);
  if (needsBase(download)) throw baseRequired();
  if (download.format === 'ova' && basePath !== undefined) emit({ type: 'base-unused' });

  emit({ type: 'stage', stage: 'fetch' });
  const image = await fetchReturnedImage({
    jobId: id,
    vmName: job.vmName,
    download,
    out: opts.out,
    to: opts.to,
    ...(basePath !== undefined ? { base: basePath } : {}),
    ...(measured !== undefined ? { measured } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (phase, done, total) => emit({ type: 'progress', phase, done, total }),
    onPhase: (phase) => emit({ type: 'phase', phase }),
  });
  return { returned: true, job, download, image };
}

/** The base's disk, hashed; a file that is no disk image is an `image-file` error. */
async function measureOffloadedBase(path: string, emit: (e: ReturnEvent) => void): Promise<MeasuredBase> {
  emit({ type: 'phase', phase: 'base' });
  try {
    const base = await measureBase(path, {
      onProgress: (done, total) => emit({ type: 'progress', phase: 'base', done, total }),
    });
    emit({ type: 'base-measured', base });
    return base;
  } catch (e) {
    if (!isImageError(e)) throw e;
    throw new GatewayClientError(
      'image-file',
      `--base ${path} is not a readable disk image (${e.code}: ${e.message})`,
      { hint: OFFLOADED_IMAGE_HINT, cause: e },
    );
  }
}
