/**
 * VM Import: ImportImage, DescribeImportImageTasks, CancelImportTask.
 *
 * A task's visible state is derived from its timestamps: each phase (pending, validating,
 * validated, converting, preparing ami) lasts `importPhaseMs`, but a phase cannot end before the
 * real work behind it is done (validation of the source, conversion into a sparse disk file). The
 * work runs in the background and records milestones; `tickImports` turns time + milestones into
 * AWS's states and, on completion, registers the snapshots and the AMI.
 */
import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

import {
  detectImageFormat,
  detectPartitionTable,
  isImageError,
  type DiskStream,
} from '../../../../shared/images';
import { matchesFilters, parseTagSpecifications, tagSetXml, type Handler, type SimContext } from './context';
import { openSourceDisk, readOvaSource, type SourceFormat } from './engine';
import { s3ByteSource } from '../../../../shared/store/s3-byte-source';
import { newId } from './ids';
import type {
  ImageRec,
  ImportDiskSource,
  ImportedDisk,
  ImportSourceFormat,
  ImportTaskRec,
  SnapshotRec,
} from './model';
import {
  Ec2Error,
  qFilters,
  qList,
  qStr,
  qStrList,
  requireStr,
  type QueryNode,
  type XmlObject,
} from './protocol';

const GiB = 1024 ** 3;
const IMPORT_FORMATS: ReadonlySet<string> = new Set(['OVA', 'VHD', 'VHDX', 'VMDK', 'RAW']);
const BOOT_MODES: ReadonlySet<string> = new Set(['legacy-bios', 'uefi', 'uefi-preferred']);
const ARCHITECTURES: ReadonlySet<string> = new Set(['i386', 'x86_64', 'arm64']);

// ClientError wording as VM Import reports it
export const MSG_NO_PARTITIONS = 'ClientError: No valid partitions. Not a valid volume.';
export const MSG_UNSUPPORTED_FORMAT = 'ClientError: Unsupported file format';
export const MSG_UNSUPPORTED_VMDK = 'ClientError: Disk validation failed [Unsupported VMDK File Format]';
export const MSG_FORMAT_MISMATCH = 'ClientError: Disk validation failed [Unsupported specified file format]';
export const MSG_S3_LOCATION = 'ClientError: Disk validation failed [Invalid S3 source location]';
export const MSG_CANCELED = 'Canceled by user';

type View =
  | { status: 'active'; message: string; progress: number }
  | { status: 'completed'; message: 'completed' }
  | { status: 'deleting' | 'deleted'; message: string };

class ImportFailure extends Error {
  constructor(
    message: string,
    readonly phase: 'validating' | 'converting',
  ) {
    super(message);
  }
}

/** Where the times of a task's phases fall, given its milestones. */
function timeline(ctx: SimContext, t: ImportTaskRec) {
  const P = ctx.timing.importPhaseMs;
  const w = t.work;
  const validated = Math.max(t.createdAt + 2 * P, w.validatedAt ?? Infinity);
  const preparing = Math.max(validated + 2 * P, w.doneAt ?? Infinity);
  let deletingAt = Infinity;
  let failMessage: string | undefined;
  if (t.canceledAt !== undefined) {
    deletingAt = t.canceledAt;
    failMessage = t.cancelReason ?? MSG_CANCELED;
  } else if (w.state === 'failed') {
    const failedAt = w.failedAt ?? t.createdAt;
    deletingAt =
      w.failedPhase === 'converting' && w.validatedAt !== undefined
        ? Math.max(failedAt, validated + 2 * P)
        : Math.max(failedAt, t.createdAt + 2 * P);
    failMessage = w.failMessage ?? 'ClientError: Import failed';
  }
  return {
    P,
    validated,
    preparing,
    completed: preparing + P,
    deletingAt,
    deletedAt: deletingAt + P,
    failMessage,
  };
}

export function viewImport(ctx: SimContext, t: ImportTaskRec, now = ctx.now()): View {
  const tl = timeline(ctx, t);
  if (t.completedAt !== undefined) return { status: 'completed', message: 'completed' };
  if (now >= tl.deletedAt) return { status: 'deleted', message: tl.failMessage ?? '' };
  if (now >= tl.deletingAt) return { status: 'deleting', message: tl.failMessage ?? '' };
  // `completed` is reported only once tickImports has registered the AMI and snapshots (completedAt
  // above); until then a due task still reads as `preparing ami`, so no reader ever sees a completed
  // task without its ids, however late its request runs after the last tick.
  if (now >= tl.completed) return { status: 'active', message: 'preparing ami', progress: 77 };
  if (now < t.createdAt + tl.P) return { status: 'active', message: 'pending', progress: 2 };
  if (now < tl.validated) return { status: 'active', message: 'validating', progress: 10 };
  if (now < tl.validated + tl.P) return { status: 'active', message: 'validated', progress: 19 };
  if (now < tl.preparing) {
    const frac = t.work.state === 'done' ? 1 : (ctx.progress.get(t.id) ?? 0);
    return { status: 'active', message: 'converting', progress: 28 + Math.floor(frac * 30) };
  }
  return { status: 'active', message: 'preparing ami', progress: 77 };
}

export function isLiveImportTask(ctx: SimContext, t: ImportTaskRec): string | undefined {
  const v = viewImport(ctx, t);
  return v.status === 'active' || v.status === 'deleting' ? v.status : undefined;
}

function deviceName(n: number): string {
  return n === 0 ? '/dev/sda1' : `/dev/sd${String.fromCharCode('a'.charCodeAt(0) + n)}`;
}

/** Registers snapshots and the AMI once a task reaches `completed`. */
function materialize(ctx: SimContext, t: ImportTaskRec, at: number): void {
  const disks = t.work.disks ?? [];
  const snapshots: SnapshotRec[] = disks.map((d) => ({
    id: newId('snap'),
    createdAt: at,
    volumeSize: Math.max(1, Math.ceil(d.capacity / GiB)),
    capacity: d.capacity,
    description: `Created by AWS-VMImport service for ${t.id}`,
    tags: [],
    importTaskId: t.id,
  }));
  disks.forEach((d, n) => ctx.disks.rename(d.diskId, (snapshots[n] as SnapshotRec).id));
  const fw = t.work.firmware;
  const bootMode: ImageRec['bootMode'] =
    t.bootMode === 'uefi' || (t.bootMode !== 'legacy-bios' && fw === 'efi') ? 'uefi' : 'legacy-bios';
  const image: ImageRec = {
    id: newId('ami'),
    createdAt: at,
    name: t.id,
    description: t.description ?? 'AWS-VMImport service: Linux - Unknown',
    architecture: t.architecture ?? 'x86_64',
    bootMode,
    rootDeviceName: '/dev/sda1',
    blockDevices: snapshots.map((s, n) => ({
      deviceName: deviceName(n),
      snapshotId: s.id,
      volumeSize: s.volumeSize,
    })),
    platform: t.platform,
    tags: [],
    importTaskId: t.id,
  };
  for (const s of snapshots) ctx.state.snapshots[s.id] = s;
  ctx.state.images[image.id] = image;
  t.completedAt = at;
  t.imageId = image.id;
  t.snapshotIds = snapshots.map((s) => s.id);
}

function removeWorkDisks(ctx: SimContext, t: ImportTaskRec): void {
  for (let n = 0; n < Math.max(t.sources.length, t.work.disks?.length ?? 0, 16); n++) {
    ctx.disks.remove(`${t.id}-${n}`);
  }
}

export function tickImports(ctx: SimContext): boolean {
  const now = ctx.now();
  let changed = false;
  for (const t of Object.values(ctx.state.importTasks)) {
    if (t.completedAt !== undefined || t.cleanedUp) continue;
    const v = viewImport(ctx, t, now);
    const tl = timeline(ctx, t);
    if (v.status === 'active' && now >= tl.completed) {
      materialize(ctx, t, tl.completed);
      changed = true;
    } else if ((v.status === 'deleting' || v.status === 'deleted') && t.work.state !== 'running') {
      removeWorkDisks(ctx, t);
      t.cleanedUp = true;
      changed = true;
    }
  }
  return changed;
}

function snapshotDetailsXml(ctx: SimContext, t: ImportTaskRec, v: View): XmlObject[] {
  return t.sources.map((src, n) => {
    const done: ImportedDisk | undefined = t.work.disks?.[n];
    const userBucket = src.bucket !== undefined ? { s3Bucket: src.bucket, s3Key: src.key } : undefined;
    if (v.status === 'completed') {
      const snap = t.snapshotIds?.[n];
      return {
        deviceName: deviceName(n),
        diskImageSize: done?.sourceSize,
        format: done?.format,
        snapshotId: snap,
        status: 'completed',
        userBucket,
        url: src.url,
      };
    }
    return {
      diskImageSize: done?.sourceSize,
      format: done?.format ?? src.format,
      status: v.status === 'active' ? 'active' : v.status,
      userBucket,
      url: src.url,
    };
  });
}

export function importTaskXml(ctx: SimContext, t: ImportTaskRec): XmlObject {
  const v = viewImport(ctx, t);
  const completed = v.status === 'completed';
  return {
    importTaskId: t.id,
    architecture: completed ? (t.architecture ?? 'x86_64') : t.architecture,
    description: t.description,
    encrypted: false,
    imageId: completed ? t.imageId : undefined,
    licenseType: completed ? (t.licenseType ?? 'BYOL') : t.licenseType,
    platform: completed ? (t.platform ?? 'Linux') : t.platform,
    bootMode: completed ? (t.imageId ? ctx.state.images[t.imageId]?.bootMode : undefined) : t.bootMode,
    progress: v.status === 'active' ? String(v.progress) : undefined,
    snapshotDetailSet: snapshotDetailsXml(ctx, t, v),
    status: v.status,
    statusMessage: v.message,
    tagSet: t.tags.length ? tagSetXml(t.tags) : undefined,
  };
}

/** `s3://bucket/key`, `https://bucket.s3[.region].amazonaws.com/key` or path-style `https://host/bucket/key`. */
function parseSourceUrl(url: string): { bucket: string; key: string } | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const path = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (u.protocol === 's3:') return u.hostname && path ? { bucket: u.hostname, key: path } : undefined;
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  const vhost = /^(.+)\.s3[.-]/.exec(u.hostname);
  if (vhost?.[1]) return path ? { bucket: vhost[1], key: path } : undefined;
  const slash = path.indexOf('/');
  if (slash <= 0) return undefined;
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

function parseSources(params: QueryNode): ImportDiskSource[] {
  const containers = qList(params, 'DiskContainer');
  if (containers.length === 0)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter DiskContainers');
  const sources = containers.map((c, n): ImportDiskSource => {
    const rawFormat = qStr(c, 'Format');
    const format = rawFormat?.toUpperCase();
    if (format !== undefined && !IMPORT_FORMATS.has(format)) {
      throw new Ec2Error(
        'InvalidParameterValue',
        `Invalid value '${rawFormat}' for DiskContainer.${n + 1}.Format. Valid values: OVA | VHD | VHDX | VMDK | RAW`,
      );
    }
    if (qStr(c, 'SnapshotId') !== undefined) {
      throw new Ec2Error(
        'InvalidParameterValue',
        'DiskContainer.SnapshotId is not supported by the burstgate AWS simulator; use UserBucket or Url',
      );
    }
    const bucket = qStr(c, 'UserBucket.S3Bucket');
    const key = qStr(c, 'UserBucket.S3Key');
    const url = qStr(c, 'Url');
    const base = { format: format as ImportSourceFormat | undefined, description: qStr(c, 'Description') };
    if (bucket !== undefined || key !== undefined) {
      if (!bucket || !key)
        throw new Ec2Error('InvalidParameter', 'UserBucket must specify both S3Bucket and S3Key');
      return { ...base, bucket, key };
    }
    if (url !== undefined) {
      const loc = parseSourceUrl(url);
      if (!loc) throw new Ec2Error('InvalidParameter', `The given URL '${url}' is not a valid S3 location`);
      return { ...base, url, bucket: loc.bucket, key: loc.key };
    }
    throw new Ec2Error('InvalidParameter', 'Each disk container must specify a UserBucket or a Url');
  });
  if (sources.length > 1 && sources.some((s) => s.format === 'OVA')) {
    throw new Ec2Error('InvalidParameter', 'An OVA import must have exactly one disk container');
  }
  return sources;
}

export const importImage: Handler = async (ctx, params) => {
  const clientToken = qStr(params, 'ClientToken');
  if (clientToken !== undefined) {
    const prior = ctx.state.importTokens[clientToken];
    const t = prior ? ctx.state.importTasks[prior] : undefined;
    if (t) return importTaskXml(ctx, t);
  }
  const sources = parseSources(params);
  const bootMode = qStr(params, 'BootMode');
  if (bootMode !== undefined && !BOOT_MODES.has(bootMode)) {
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${bootMode}' for BootMode`);
  }
  const architecture = qStr(params, 'Architecture');
  if (architecture !== undefined && !ARCHITECTURES.has(architecture)) {
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${architecture}' for Architecture`);
  }
  const tags = parseTagSpecifications(params, ['import-image-task']).get('import-image-task') ?? [];
  // the bucket must exist when the task is created; a missing object fails the task later
  for (const b of new Set(sources.map((s) => s.bucket as string))) {
    try {
      await ctx.s3.send(new HeadBucketCommand({ Bucket: b }));
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || status === 403) {
        throw new Ec2Error('InvalidParameter', `S3 bucket does not exist: s3://${b}/`);
      }
      throw err;
    }
  }
  const now = ctx.now();
  const task: ImportTaskRec = {
    id: newId('import-ami'),
    createdAt: now,
    description: qStr(params, 'Description'),
    clientToken,
    roleName: qStr(params, 'RoleName') ?? 'vmimport',
    architecture,
    platform: qStr(params, 'Platform'),
    licenseType: qStr(params, 'LicenseType'),
    bootMode,
    sources,
    tags,
    injectedFailure: ctx.takeImportFailure(),
    work: { state: 'running' },
  };
  ctx.state.importTasks[task.id] = task;
  if (clientToken !== undefined) ctx.state.importTokens[clientToken] = task.id;
  ctx.save();
  ctx.spawn(task.id, (signal) => runImport(ctx, task, signal));
  return importTaskXml(ctx, task);
};

function findTask(ctx: SimContext, id: string): ImportTaskRec {
  if (!/^import-ami-[0-9a-z]+$/.test(id)) {
    throw new Ec2Error('InvalidConversionTaskId.Malformed', `The given task id '${id}' is not valid`);
  }
  const t = ctx.state.importTasks[id];
  if (!t) throw new Ec2Error('InvalidConversionTaskId', `The task ID '${id}' does not exist`);
  return t;
}

export const describeImportImageTasks: Handler = (ctx, params) => {
  const ids = qStrList(params, 'ImportTaskId');
  const tasks = ids.length ? ids.map((id) => findTask(ctx, id)) : Object.values(ctx.state.importTasks);
  const filters = qFilters(params, 'Filters');
  return {
    importImageTaskSet: tasks
      .filter((t) => matchesFilters(filters, { 'task-state': [viewImport(ctx, t).status] }, t.tags))
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((t) => importTaskXml(ctx, t)),
  };
};

export const cancelImportTask: Handler = (ctx, params) => {
  const t = findTask(ctx, requireStr(params, 'ImportTaskId'));
  const v = viewImport(ctx, t);
  if (v.status !== 'active') {
    throw new Ec2Error(
      'IncorrectState',
      `The import task '${t.id}' cannot be canceled in state '${v.status}'.`,
    );
  }
  t.canceledAt = ctx.now();
  t.cancelReason = qStr(params, 'CancelReason');
  ctx.abort(t.id);
  ctx.save();
  return { importTaskId: t.id, previousState: 'active', state: 'deleting' };
};

export function resumeImports(ctx: SimContext): void {
  for (const t of Object.values(ctx.state.importTasks)) {
    if (t.work.state === 'running' && t.canceledAt === undefined) {
      ctx.spawn(t.id, (signal) => runImport(ctx, t, signal));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// the work behind a task

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

async function readRange(
  ctx: SimContext,
  bucket: string,
  key: string,
  start: number,
  end: number,
  signal: AbortSignal,
) {
  const r = await ctx.s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
    { abortSignal: signal },
  );
  const bytes = await r.Body?.transformToByteArray();
  return Buffer.from(bytes ?? []);
}

const FORMAT_FAMILY: Record<SourceFormat, ImportSourceFormat> = {
  ova: 'OVA',
  'vmdk-stream-optimized': 'VMDK',
  'vhd-fixed': 'VHD',
  'vhd-dynamic': 'VHD',
  vhdx: 'VHDX',
  raw: 'RAW',
};

async function runImport(ctx: SimContext, task: ImportTaskRec, signal: AbortSignal): Promise<void> {
  const produced: ImportedDisk[] = [];
  let firmware: 'bios' | 'efi' | undefined;
  const markValidated = () => {
    if (task.work.validatedAt === undefined) {
      task.work.validatedAt = ctx.now();
      ctx.save();
    }
  };
  try {
    for (const [n, src] of task.sources.entries()) {
      const bucket = src.bucket as string;
      const key = src.key as string;
      let size: number;
      try {
        const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
          abortSignal: signal,
        });
        size = head.ContentLength ?? 0;
      } catch (err) {
        if (signal.aborted) throw err;
        const status = httpStatus(err);
        if (status === 404 || status === 403) throw new ImportFailure(MSG_S3_LOCATION, 'validating');
        throw err;
      }
      if (size === 0) throw new ImportFailure(MSG_UNSUPPORTED_FORMAT, 'validating');
      const head = await readRange(ctx, bucket, key, 0, Math.min(size, 64 * 1024), signal);
      const tail = size >= 512 ? await readRange(ctx, bucket, key, size - 512, size, signal) : undefined;
      const detected = detectImageFormat(head, size, tail);
      if (detected === 'qcow2') throw new ImportFailure(MSG_UNSUPPORTED_FORMAT, 'validating');
      if (detected === 'vmdk-monolithic-sparse' || detected === 'vmdk-descriptor') {
        throw new ImportFailure(MSG_UNSUPPORTED_VMDK, 'validating');
      }
      // a declared RAW is read as raw whatever it looks like; other declarations must match
      const format: SourceFormat = src.format === 'RAW' ? 'raw' : detected;
      const family = FORMAT_FAMILY[format];
      if (src.format !== undefined && src.format !== family)
        throw new ImportFailure(MSG_FORMAT_MISMATCH, 'validating');
      if (format === 'ova' && task.sources.length > 1) {
        throw new ImportFailure(
          'ClientError: Disk validation failed [An OVA must be imported alone]',
          'validating',
        );
      }

      const body = await ctx.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: signal,
      });
      const input = body.Body as unknown as Readable & AsyncIterable<Buffer>;
      const store = async (disk: DiskStream, diskFormat: string) => {
        const diskId = `${task.id}-${produced.length}`;
        const meta = await ctx.disks.write(diskId, disk, {
          signal,
          headBytes: 64 * 1024,
          onHead: (first) => {
            if (detectPartitionTable(first) === 'none')
              throw new ImportFailure(MSG_NO_PARTITIONS, 'validating');
            markValidated();
          },
          onProgress: (consumed) =>
            ctx.progress.set(
              task.id,
              (n + (disk.capacity ? consumed / disk.capacity : 1)) / task.sources.length,
            ),
        });
        produced.push({
          diskId,
          capacity: meta.capacity,
          dataBytes: meta.dataBytes,
          sourceSize: size,
          format: diskFormat,
          bucket,
          key,
          url: src.url,
        });
      };
      try {
        if (format === 'ova') {
          const r = await readOvaSource(input, (_name, disk) => store(disk, 'VMDK'));
          firmware = r.firmware;
        } else {
          await store(
            await openSourceDisk(format, input, size, () =>
              s3ByteSource(ctx.s3, bucket, key, { signal, size }),
            ),
            family,
          );
        }
      } finally {
        input.destroy?.();
      }
    }
    if (task.injectedFailure) throw new ImportFailure(task.injectedFailure, 'converting');
    task.work = { ...task.work, state: 'done', doneAt: ctx.now(), disks: produced, firmware };
  } catch (err) {
    if (signal.aborted) {
      // cancelled (cleanup follows) or simulator closing (the work starts over on restart)
      for (const d of produced) ctx.disks.remove(d.diskId);
      return;
    }
    for (const d of produced) ctx.disks.remove(d.diskId);
    const phase = task.work.validatedAt === undefined ? 'validating' : 'converting';
    let message: string;
    if (err instanceof ImportFailure) {
      message = err.message;
      task.work.failedPhase =
        err.phase === 'converting' || phase === 'converting' ? 'converting' : 'validating';
    } else if (isImageError(err)) {
      message = `ClientError: Disk validation failed [${err.message}]`;
      task.work.failedPhase = phase;
    } else {
      message = `ServerError: ${(err as Error).message}`;
      task.work.failedPhase = phase;
    }
    task.work = { ...task.work, state: 'failed', failedAt: ctx.now(), failMessage: message };
  }
  ctx.save();
}
