/**
 * What the AWS simulator tests share beyond the harness itself: the beforeAll/afterAll lifecycle of
 * a `SimEnv` (s3rver from ./s3rver + simulator + EC2Client, see ./aws-sim-env.ts)
 * and the steps several files take to get an AMI, an instance or an export.
 */
import { createHash } from 'node:crypto';

import {
  CompleteSnapshotCommand,
  EBSClient,
  GetSnapshotBlockCommand,
  ListChangedBlocksCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
  type Block,
  type ChangedBlock,
} from '@aws-sdk/client-ebs';
import {
  DescribeExportTasksCommand,
  DescribeSnapshotsCommand,
  ImportImageCommand,
  RunInstancesCommand,
  type EC2Client,
  type ExportTask,
  type ImportImageTask,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll } from 'vitest';

import type { AwsSimulator, AwsSimulatorOptions } from '../../infra/local/sim/aws';
import type { DiskStream } from '../../shared/images';
import { BUCKET, pollUntil, putObject, startSimEnv, waitImport, type SimEnv } from './aws-sim-env';

/**
 * Starts a `SimEnv` in beforeAll and closes it in afterAll; call it at the top of a test file. The
 * returned object reads through to the running env (also after `restart()`), so it may be used in
 * tests and in beforeAll hooks registered after this call.
 */
export function useSimEnv(opts: Partial<AwsSimulatorOptions> = {}): SimEnv {
  let env: SimEnv | undefined;
  beforeAll(async () => {
    env = await startSimEnv(opts);
  });
  afterAll(async () => {
    await env?.close();
  });
  const current = (): SimEnv => {
    if (!env) throw new Error('useSimEnv: the simulator is started in beforeAll');
    return env;
  };
  return {
    get s3rver() {
      return current().s3rver;
    },
    get s3() {
      return current().s3;
    },
    get sim() {
      return current().sim;
    },
    get ec2() {
      return current().ec2;
    },
    get stateDir() {
      return current().stateDir;
    },
    restart: () => current().restart(),
    close: () => current().close(),
  };
}

/** `sim.resources()` when no import task, AMI, snapshot, instance or export task is left. */
export const NO_RESOURCES = {
  importTasks: [],
  images: [],
  snapshots: [],
  instances: [],
  exportTasks: [],
} as const;

/** Puts `disk` in the staging bucket as `key`, imports it as RAW and waits for the task to end. */
export async function importRawDisk(env: SimEnv, key: string, disk: Buffer): Promise<ImportImageTask> {
  await putObject(env.s3, key, disk);
  const started = await env.ec2.send(
    new ImportImageCommand({
      DiskContainers: [{ Format: 'RAW', UserBucket: { S3Bucket: BUCKET, S3Key: key } }],
    }),
  );
  const task = (await waitImport(env.ec2, started.ImportTaskId!)).value;
  if (task.Status !== 'completed')
    throw new Error(`import of ${key} ended ${task.Status}: ${task.StatusMessage}`);
  return task;
}

/** How many `action` calls the simulator answered without an error since its `from`-th call. */
export function callsSince(sim: AwsSimulator, from: number, action: string): number {
  return sim.calls.slice(from).filter((c) => c.action === action && !c.error).length;
}

/** Runs one instance of `imageId`; returns its id (the instance is still pending). */
export async function runInstance(ec2: EC2Client, imageId: string): Promise<string> {
  const run = await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1 }));
  return run.Instances![0]!.InstanceId!;
}

export async function describeExport(ec2: EC2Client, id: string): Promise<ExportTask> {
  const out = await ec2.send(new DescribeExportTasksCommand({ ExportTaskIds: [id] }));
  const t = out.ExportTasks?.[0];
  if (!t) throw new Error(`no export task ${id}`);
  return t;
}

/** Waits for an export task to end (completed or cancelled); `seen` lists its states. */
export async function waitExport(ec2: EC2Client, id: string) {
  return pollUntil(
    () => describeExport(ec2, id),
    (t) => t.State === 'completed' || t.State === 'cancelled',
    (t) => t.State ?? '',
  );
}

// ---------------------------------------------------------------------------------------------
// EBS direct APIs

/** 512 KiB: the only block size the EBS direct APIs take. */
export const EBS_BLOCK = 524_288;

/** A real EBSClient against the simulator (the EBS direct APIs share the simulator's URL). */
export function ebsClient(url: string, maxAttempts?: number): EBSClient {
  return new EBSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
}

export function sha256Base64(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('base64');
}

/** The block of `disk` at `index` (zero-padded past the end of the buffer). */
export function blockOf(disk: Buffer, index: number): Buffer {
  const out = Buffer.alloc(EBS_BLOCK);
  disk.copy(out, 0, index * EBS_BLOCK, Math.min(disk.length, (index + 1) * EBS_BLOCK));
  return out;
}

/** Indices of the blocks of `disk` that are not all zeros: what the gateway uploads. */
export function nonZeroBlocks(disk: Buffer): number[] {
  const out: number[] = [];
  const zero = Buffer.alloc(EBS_BLOCK);
  for (let i = 0; i * EBS_BLOCK < disk.length; i++) if (!blockOf(disk, i).equals(zero)) out.push(i);
  return out;
}

/** PutSnapshotBlock of one block of `disk`, with its checksum. */
export function putBlock(ebs: EBSClient, snapshotId: string, disk: Buffer, index: number) {
  const data = blockOf(disk, index);
  return ebs.send(
    new PutSnapshotBlockCommand({
      SnapshotId: snapshotId,
      BlockIndex: index,
      BlockData: data,
      DataLength: EBS_BLOCK,
      Checksum: sha256Base64(data),
      ChecksumAlgorithm: 'SHA256',
    }),
  );
}

/**
 * StartSnapshot → PutSnapshotBlock for `blocks` of `disk` (four at a time) → CompleteSnapshot with
 * their count, as the gateway does; returns the snapshot id (the snapshot is still sealing).
 */
export async function uploadSnapshot(
  ebs: EBSClient,
  disk: Buffer,
  opts: { volumeSize: number; blocks: number[]; parentSnapshotId?: string; description?: string },
): Promise<string> {
  const started = await ebs.send(
    new StartSnapshotCommand({
      VolumeSize: opts.volumeSize,
      ParentSnapshotId: opts.parentSnapshotId,
      Description: opts.description,
    }),
  );
  const id = started.SnapshotId!;
  const queue = [...opts.blocks];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) await putBlock(ebs, id, disk, i);
    }),
  );
  await ebs.send(new CompleteSnapshotCommand({ SnapshotId: id, ChangedBlocksCount: opts.blocks.length }));
  return id;
}

export async function describeSnapshot(ec2: EC2Client, id: string): Promise<Snapshot> {
  const out = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }));
  const s = out.Snapshots?.[0];
  if (!s) throw new Error(`no snapshot ${id}`);
  return s;
}

/** Waits for a snapshot to leave `pending`; `seen` lists its states. */
export async function waitSnapshot(ec2: EC2Client, id: string) {
  return pollUntil(
    () => describeSnapshot(ec2, id),
    (s) => s.State !== 'pending',
    (s) => s.State ?? '',
  );
}

/** Every page of ListChangedBlocks (first → second). */
export async function listChangedBlocks(
  ebs: EBSClient,
  first: string,
  second: string,
  maxResults?: number,
): Promise<{ blocks: ChangedBlock[]; pages: number }> {
  const blocks: ChangedBlock[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const out = await ebs.send(
      new ListChangedBlocksCommand({
        FirstSnapshotId: first,
        SecondSnapshotId: second,
        NextToken: token,
        MaxResults: maxResults,
      }),
    );
    blocks.push(...(out.ChangedBlocks ?? []));
    pages += 1;
    token = out.NextToken;
  } while (token);
  return { blocks, pages };
}

/** Every page of ListSnapshotBlocks. */
export async function listSnapshotBlocks(
  ebs: EBSClient,
  id: string,
  maxResults?: number,
): Promise<{ blocks: Block[]; pages: number }> {
  const blocks: Block[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const out = await ebs.send(
      new ListSnapshotBlocksCommand({ SnapshotId: id, NextToken: token, MaxResults: maxResults }),
    );
    blocks.push(...(out.Blocks ?? []));
    pages += 1;
    token = out.NextToken;
  } while (token);
  return { blocks, pages };
}

/** GetSnapshotBlock: the bytes and the checksum header. */
export async function getBlock(ebs: EBSClient, id: string, index: number, token: string) {
  const out = await ebs.send(
    new GetSnapshotBlockCommand({ SnapshotId: id, BlockIndex: index, BlockToken: token }),
  );
  return { data: Buffer.from(await out.BlockData!.transformToByteArray()), checksum: out.Checksum, out };
}

/**
 * Reads `disk` extent by extent and checks it equals `expected` followed by zeros up to the disk's
 * capacity, without materializing the whole (possibly GiB-sized) disk. Returns a mismatch or undefined.
 */
export async function diskMismatch(
  disk: DiskStream,
  expected: Buffer,
  capacity: number,
): Promise<string | undefined> {
  if (disk.capacity !== capacity) return `capacity ${disk.capacity}, expected ${capacity}`;
  for await (const e of disk.extents) {
    const len = e.kind === 'data' ? e.data.length : e.length;
    const want = Buffer.alloc(len);
    expected.copy(want, 0, Math.min(e.offset, expected.length), Math.min(e.offset + len, expected.length));
    const same = e.kind === 'data' ? e.data.equals(want) : want.equals(Buffer.alloc(len));
    if (!same) return `${e.kind} extent at ${e.offset} (+${len}) differs`;
  }
  return undefined;
}
