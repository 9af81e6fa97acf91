/**
 * An offload from the on-prem side, start to finish: (with `incremental`) compare the disk with the
 * VM's cached image and prepare a delta of the changed blocks, hash what is uploaded, create the
 * job, upload it in parts, complete the upload, and follow the job until it runs (or fails).
 *
 * It reports through `onEvent` and prints nothing: a CLI draws progress bars and lines from the
 * events, a program logs what it wants. An error is thrown as it comes (GatewayClientError, an
 * image error while comparing); the last `stage` event says where it happened, and a `created`
 * event before it that a job exists on the gateway (waiting for its upload until the stage is
 * `complete` or later).
 */
import { randomUUID } from 'node:crypto';
import { followJob } from './follow';
import type { BlockDeltaSummary } from '../clouds/aws/block-delta';
import { prepareIncrementalUpload, type CachedImage, type ImageCacheClient } from './incremental';
import { sha256File } from './sha256';
import type {
  CreateOffloadRequest,
  CreatedOffload,
  ImageFormatName,
  JobStateAnswer,
  JobTarget,
  JobView,
  UploadedPart,
} from './types';
import { uploadImage } from './upload';

/** What the workflow needs of the gateway client (GatewayClient has it). */
export interface OffloadClient extends ImageCacheClient {
  createOffload(req: CreateOffloadRequest, idempotencyKey: string): Promise<CreatedOffload>;
  completeUpload(jobId: string, parts: UploadedPart[]): Promise<JobStateAnswer>;
  getOffload(jobId: string): Promise<JobView>;
  listOffloads(state?: JobView['state']): Promise<JobView[]>;
}

export type OffloadStage = 'compare' | 'hash' | 'create' | 'upload' | 'complete' | 'follow';

export type OffloadEvent =
  /** A stage begins (stages that do not apply are skipped: no compare without `incremental`...). */
  | { type: 'stage'; stage: OffloadStage }
  /** Bytes (compare, hash, upload) done so far of `total`. */
  | { type: 'progress'; stage: 'compare' | 'hash' | 'upload'; done: number; total: number }
  /** The comparison's outcome: a delta of the changed blocks, or why the whole image goes. */
  | { type: 'compared'; comparison: Comparison }
  /** The job exists; `upload` is what goes to it (the image, or the delta), in `parts` parts. */
  | {
      type: 'created';
      jobId: string;
      vmName: string;
      upload: OffloadUpload;
      target: JobTarget;
      parts: number;
    }
  | { type: 'uploaded'; jobId: string; parts: number }
  /** Following: the first view of the job and each change after it. */
  | { type: 'job'; job: JobView; previous: JobView | undefined };

/** What `incremental` found: the delta to upload instead of the image, or why there is none. */
export type Comparison =
  | { kind: 'delta'; sizeBytes: number; cached: CachedImage; summary: BlockDeltaSummary }
  | { kind: 'whole'; reason: string };

/** The file that is uploaded. */
export interface OffloadUpload {
  path: string;
  sizeBytes: number;
  format: ImageFormatName;
}

export interface OffloadOptions {
  /** The image file, checked already (checkImageFile). */
  image: { path: string; sizeBytes: number };
  format: ImageFormatName;
  vmName: string;
  target: JobTarget;
  callbackUrl?: string;
  /**
   * The job's lease (absolute instants), or a function that makes it when the create request is
   * sent (so a lease "for 8 hours" counts from the job's creation, not from before the hash).
   * Left out: the gateway's default lease.
   */
  lease?: CreateOffloadRequest['lease'] | (() => CreateOffloadRequest['lease']);
  /**
   * Upload only the blocks that differ from the VM's image the gateway cached (AWS direct only):
   * without a cached image (or with a smaller disk) the whole image goes.
   */
  incremental?: boolean;
  /** Send the upload's SHA-256 for the gateway to check (default true; costs reading it twice). */
  hash?: boolean;
  /** Parts in flight at once (default 4). */
  concurrency?: number;
  /** Follow the job until it runs or ends (default true); else return once the upload is complete. */
  follow?: boolean;
  /** Between status polls while following (default 2 s). */
  intervalMs?: number;
  signal?: AbortSignal;
  /** When the staged VM launches: at an instant, or on POST /offloads/{id}/launch (`"hold"`); left out, at once. */
  launch?: CreateOffloadRequest['launch'];
  /** The create request's idempotency key (default: a fresh one). */
  idempotencyKey?: string;
  /**
   * How the job is made, in place of POST /offloads: a schedule's prestage makes its window's job
   * (prestage-workflow.ts). It gets the request POST /offloads would have had.
   */
  create?: (req: CreateOffloadRequest) => Promise<CreatedOffload>;
  onEvent?: (event: OffloadEvent) => void;
}

export interface OffloadResult {
  jobId: string;
  /** What was uploaded (a delta's temporary file is removed by the time the workflow ends). */
  upload: OffloadUpload;
  parts: number;
  /**
   * Where following stopped (running, failed, cancelled; staged when its launch waits for a time or
   * a release); absent with `follow: false`.
   */
  job?: JobView;
}

/** A big file takes a while to hash: above this, the gateway and key are tried first. */
const CHECK_GATEWAY_BEFORE_HASHING_BYTES = 1024 ** 3;

export async function offloadImage(client: OffloadClient, opts: OffloadOptions): Promise<OffloadResult> {
  const emit = opts.onEvent ?? (() => {});
  const { target, vmName } = opts;
  if (opts.incremental && (target.cloud !== 'aws' || target.mode === 'import')) {
    throw new TypeError(
      'an incremental offload puts blocks on an EBS snapshot: it needs an AWS direct target',
    );
  }
  const hash = opts.hash ?? true;
  if (hash && opts.image.sizeBytes > CHECK_GATEWAY_BEFORE_HASHING_BYTES) {
    await client.listOffloads('awaiting-upload');
  }
  let upload: OffloadUpload = { ...opts.image, format: opts.format };
  let disposeDelta: (() => Promise<void>) | undefined;
  try {
    if (opts.incremental && target.cloud === 'aws') {
      emit({ type: 'stage', stage: 'compare' });
      const prepared = await prepareIncrementalUpload(client, {
        imagePath: opts.image.path,
        region: target.region,
        vmName,
        onProgress: (p) => emit({ type: 'progress', stage: 'compare', done: p.done, total: p.total }),
      });
      if (prepared.kind === 'delta') {
        disposeDelta = prepared.dispose;
        upload = { path: prepared.path, sizeBytes: prepared.sizeBytes, format: 'delta' };
        const { sizeBytes, cached, summary } = prepared;
        emit({ type: 'compared', comparison: { kind: 'delta', sizeBytes, cached, summary } });
      } else {
        emit({ type: 'compared', comparison: prepared });
      }
    }
    let imageSha256: string | undefined;
    if (hash) {
      emit({ type: 'stage', stage: 'hash' });
      const total = upload.sizeBytes;
      imageSha256 = await sha256File(upload.path, {
        onProgress: (done) => emit({ type: 'progress', stage: 'hash', done, total }),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    }
    emit({ type: 'stage', stage: 'create' });
    const lease = typeof opts.lease === 'function' ? opts.lease() : opts.lease;
    const request: CreateOffloadRequest = {
      vmName,
      imageFormat: upload.format,
      imageSizeBytes: upload.sizeBytes,
      ...(imageSha256 ? { imageSha256 } : {}),
      target,
      ...(opts.callbackUrl ? { callbackUrl: opts.callbackUrl } : {}),
      ...(lease ? { lease } : {}),
      ...(opts.launch ? { launch: opts.launch } : {}),
    };
    const created = opts.create
      ? await opts.create(request)
      : await client.createOffload(request, opts.idempotencyKey ?? randomUUID());
    const { jobId } = created;
    emit({ type: 'created', jobId, vmName, upload, target, parts: created.upload.parts.length });
    emit({ type: 'stage', stage: 'upload' });
    const parts = await uploadImage(upload.path, created.upload, {
      ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (done, total) => emit({ type: 'progress', stage: 'upload', done, total }),
    });
    emit({ type: 'stage', stage: 'complete' });
    await client.completeUpload(jobId, parts);
    emit({ type: 'uploaded', jobId, parts: parts.length });
    const result: OffloadResult = { jobId, upload, parts: parts.length };
    if (opts.follow === false) return result;
    emit({ type: 'stage', stage: 'follow' });
    result.job = await followJob(client, jobId, {
      until: settled,
      ...(opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {}),
      onUpdate: (job, previous) => emit({ type: 'job', job, previous }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return result;
  } finally {
    await disposeDelta?.();
  }
}

/** Where following an offload stops: it runs, it ended, or it is staged until its launch time or release. */
export function settled(job: JobView): boolean {
  if (job.state === 'staged') return job.launch !== undefined && job.launch.releasedAt === undefined;
  return job.state === 'running' || job.state === 'failed' || job.state === 'cancelled';
}
