/**
 * VM Export: CreateInstanceExportTask, DescribeExportTasks, CancelExportTask.
 *
 * The export file is produced from the instance's disk as a stream into a temporary file under
 * `stateDir/tmp`, then uploaded with PutObject and an exact ContentLength (s3rver has no
 * UploadPartCopy, and a file keeps memory bounded whatever the disk size).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';

import { matchesFilters, parseTagSpecifications, tagSetXml, type Handler, type SimContext } from './context';
import { writeExportFile, type ExportDiskFormat } from './engine';
import { newId } from './ids';
import { findInstances } from './instances';
import type { ExportTaskRec } from './model';
import { Ec2Error, qFilters, qStr, qStrList, requireStr, type XmlObject } from './protocol';

const TARGETS: ReadonlySet<string> = new Set(['citrix', 'vmware', 'microsoft']);
const DISK_FORMATS: ReadonlySet<string> = new Set(['VMDK', 'RAW', 'VHD']);

type ExportState = 'active' | 'cancelling' | 'cancelled' | 'completed';

function viewExport(
  ctx: SimContext,
  t: ExportTaskRec,
  now = ctx.now(),
): { state: ExportState; message?: string } {
  if (t.finalState) return { state: t.finalState, message: t.finalMessage };
  const minEnd = t.createdAt + ctx.timing.exportMs;
  if (t.cancelRequestedAt !== undefined) {
    return now >= t.cancelRequestedAt + ctx.timing.exportMs
      ? { state: 'cancelled', message: 'Canceled by user' }
      : { state: 'cancelling' };
  }
  if (t.work.state === 'failed' && now >= Math.max(minEnd, t.work.failedAt ?? 0)) {
    return { state: 'cancelled', message: t.work.message };
  }
  if (t.work.state === 'done' && now >= Math.max(minEnd, t.work.doneAt ?? 0)) return { state: 'completed' };
  return { state: 'active' };
}

export function exportTaskXml(ctx: SimContext, t: ExportTaskRec): XmlObject {
  const v = viewExport(ctx, t);
  return {
    exportTaskId: t.id,
    description: t.description,
    state: v.state,
    statusMessage: v.message,
    instanceExport: { instanceId: t.instanceId, targetEnvironment: t.targetEnvironment },
    exportToS3: {
      diskImageFormat: t.diskImageFormat,
      containerFormat: t.containerFormat,
      s3Bucket: t.bucket,
      s3Key: t.key,
    },
    tagSet: t.tags.length ? tagSetXml(t.tags) : undefined,
  };
}

export function tickExports(ctx: SimContext): boolean {
  let changed = false;
  for (const t of Object.values(ctx.state.exportTasks)) {
    if (t.finalState) continue;
    const v = viewExport(ctx, t);
    if (v.state === 'completed' || v.state === 'cancelled') {
      t.finalState = v.state;
      t.finalMessage = v.message;
      changed = true;
      if (v.state === 'cancelled') {
        // nothing is left in the bucket for a cancelled or failed export
        ctx.spawn(`${t.id}/cleanup`, async () => {
          await ctx.s3.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: t.key })).catch(() => undefined);
        });
      }
    }
  }
  return changed;
}

export const createInstanceExportTask: Handler = async (ctx, params) => {
  const instanceId = requireStr(params, 'InstanceId');
  const [inst] = findInstances(ctx, [instanceId]);
  if (!inst)
    throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
  const rawTarget = requireStr(params, 'TargetEnvironment');
  const target = rawTarget.toLowerCase();
  if (!TARGETS.has(target)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Invalid value '${rawTarget}' for TargetEnvironment. Valid values: citrix | vmware | microsoft`,
    );
  }
  const rawFormat = requireStr(params, 'ExportToS3.DiskImageFormat');
  const diskImageFormat = rawFormat.toUpperCase();
  if (!DISK_FORMATS.has(diskImageFormat)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Invalid value '${rawFormat}' for DiskImageFormat. Valid values: VMDK | RAW | VHD`,
    );
  }
  const rawContainer = qStr(params, 'ExportToS3.ContainerFormat');
  if (rawContainer !== undefined && rawContainer.toLowerCase() !== 'ova') {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Invalid value '${rawContainer}' for ContainerFormat. Valid values: ova`,
    );
  }
  const containerFormat = rawContainer === undefined ? undefined : ('ova' as const);
  if (containerFormat === 'ova' && diskImageFormat !== 'VMDK') {
    throw new Ec2Error('InvalidParameterCombination', 'An OVA export requires DiskImageFormat VMDK');
  }
  const bucket = requireStr(params, 'ExportToS3.S3Bucket');
  const prefix = qStr(params, 'ExportToS3.S3Prefix') ?? '';
  const tags = parseTagSpecifications(params, ['export-instance-task']).get('export-instance-task') ?? [];

  if (!inst.fromImport) throw new Ec2Error('NotExportable', 'Only imported instances can be exported.');
  if (inst.state !== 'stopped') {
    throw new Ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in the 'stopped' state.`);
  }
  const busy = Object.values(ctx.state.exportTasks).find(
    (t) => t.instanceId === inst.id && !t.finalState && viewExport(ctx, t).state !== 'cancelled',
  );
  if (busy) {
    throw new Ec2Error(
      'IncorrectState',
      `The instance '${inst.id}' is already being exported by ${busy.id}.`,
    );
  }
  try {
    await ctx.s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || status === 403)
      throw new Ec2Error('InvalidParameter', `S3 bucket does not exist: ${bucket}`);
    throw err;
  }
  const id = newId('export-i');
  const ext = containerFormat ?? diskImageFormat.toLowerCase();
  const task: ExportTaskRec = {
    id,
    createdAt: ctx.now(),
    description: qStr(params, 'Description'),
    instanceId: inst.id,
    targetEnvironment: target,
    diskImageFormat: diskImageFormat as ExportDiskFormat,
    containerFormat,
    bucket,
    prefix,
    key: `${prefix}${id}.${ext}`,
    tags,
    work: { state: 'running' },
  };
  ctx.state.exportTasks[id] = task;
  ctx.save();
  ctx.spawn(id, (signal) => runExport(ctx, task, signal));
  return { exportTask: exportTaskXml(ctx, task) };
};

function findExportTask(ctx: SimContext, id: string): ExportTaskRec {
  const t = ctx.state.exportTasks[id];
  if (!t) throw new Ec2Error('InvalidExportTaskID.NotFound', `The export task ID '${id}' does not exist`);
  return t;
}

export const describeExportTasks: Handler = (ctx, params) => {
  const ids = qStrList(params, 'ExportTaskId');
  const tasks = ids.length ? ids.map((id) => findExportTask(ctx, id)) : Object.values(ctx.state.exportTasks);
  const filters = qFilters(params, 'Filter');
  return {
    exportTaskSet: tasks
      .filter((t) =>
        matchesFilters(filters, { 'export-task-id': [t.id], state: [viewExport(ctx, t).state] }, t.tags),
      )
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((t) => exportTaskXml(ctx, t)),
  };
};

export const cancelExportTask: Handler = (ctx, params) => {
  const t = findExportTask(ctx, requireStr(params, 'ExportTaskId'));
  const v = viewExport(ctx, t);
  if (v.state !== 'active') {
    throw new Ec2Error(
      'IncorrectState',
      `The export task '${t.id}' cannot be canceled in state '${v.state}'.`,
    );
  }
  t.cancelRequestedAt = ctx.now();
  ctx.abort(t.id);
  ctx.save();
  return { return: true };
};

export function resumeExports(ctx: SimContext): void {
  for (const t of Object.values(ctx.state.exportTasks)) {
    if (t.work.state === 'running' && t.cancelRequestedAt === undefined && !t.finalState) {
      ctx.spawn(t.id, (signal) => runExport(ctx, t, signal));
    }
  }
}

async function runExport(ctx: SimContext, task: ExportTaskRec, signal: AbortSignal): Promise<void> {
  const file = join(ctx.tmpDir, `${task.id}.${task.containerFormat ?? task.diskImageFormat.toLowerCase()}`);
  try {
    const inst = ctx.state.instances[task.instanceId];
    if (!inst || inst.volumes.length === 0) throw new Error(`instance ${task.instanceId} is gone`);
    // OVA holds every volume; a bare disk image is the root volume
    const volumes = task.containerFormat === 'ova' ? inst.volumes : inst.volumes.slice(0, 1);
    const bytes = writeExportFile(
      volumes.map((v) => ctx.disks.read(v.volumeId)),
      {
        diskImageFormat: task.diskImageFormat,
        containerFormat: task.containerFormat,
        vmName: inst.tags.find((t) => t.key === 'Name')?.value ?? inst.id,
        firmware: inst.bootMode === 'uefi' ? 'efi' : 'bios',
        tmpDir: ctx.tmpDir,
      },
    );
    await pipeline(Readable.from(bytes), createWriteStream(file), { signal });
    const { size } = await stat(file);
    await ctx.s3.send(
      new PutObjectCommand({
        Bucket: task.bucket,
        Key: task.key,
        Body: createReadStream(file),
        ContentLength: size,
      }),
      { abortSignal: signal },
    );
    task.work = { state: 'done', doneAt: ctx.now() };
  } catch (err) {
    if (signal.aborted) return; // cancelled, or the simulator is closing (restarts on resume)
    task.work = { state: 'failed', failedAt: ctx.now(), message: `ServerError: ${(err as Error).message}` };
  } finally {
    await rm(file, { force: true });
  }
  ctx.save();
}
