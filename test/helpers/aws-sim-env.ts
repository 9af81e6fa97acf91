/** Shared setup for the AWS simulator tests: s3rver + simulator + a real EC2Client. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  EC2Client,
  type ImportImageTask,
  type Instance,
} from '@aws-sdk/client-ec2';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

import { startAwsSimulator, type AwsSimulator, type AwsSimulatorOptions } from '../../infra/local/sim/aws';
import { startS3rver, type S3rverHandle } from './s3rver';

export const BUCKET = 'staging';
export const EXPORT_BUCKET = 'exports';
export const FAST = { phaseMs: 20 };

export interface SimEnv {
  s3rver: S3rverHandle;
  s3: S3Client;
  sim: AwsSimulator;
  ec2: EC2Client;
  stateDir: string;
  /** Starts a second simulator on the same stateDir (after closing the first). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export function ec2Client(url: string, maxAttempts?: number): EC2Client {
  return new EC2Client({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
}

export async function startSimEnv(opts: Partial<AwsSimulatorOptions> = {}): Promise<SimEnv> {
  const s3rver = await startS3rver({ buckets: [BUCKET, EXPORT_BUCKET] });
  const s3 = s3rver.client();
  const stateDir = await mkdtemp(join(tmpdir(), 'burstgate-awssim-'));
  const simOpts: AwsSimulatorOptions = { s3, stateDir, timing: FAST, ...opts };
  const env: SimEnv = {
    s3rver,
    s3,
    stateDir,
    sim: await startAwsSimulator(simOpts),
    ec2: undefined as unknown as EC2Client,
    async restart() {
      await env.sim.close();
      env.ec2.destroy();
      env.sim = await startAwsSimulator(simOpts);
      env.ec2 = ec2Client(env.sim.url);
    },
    async close() {
      env.ec2.destroy();
      await env.sim.close();
      await s3rver.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  env.ec2 = ec2Client(env.sim.url);
  return env;
}

export async function putObject(s3: S3Client, key: string, body: Buffer, bucket = BUCKET): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
}

/** Protective MBR + GPT header at LBA 1, and some random data further in (the rest is zeros). */
export function gptDisk(capacity = 8 * 1024 * 1024): Buffer {
  const buf = Buffer.alloc(capacity);
  const sectors = capacity / 512;
  // protective MBR: one partition of type 0xEE covering the disk
  buf[446 + 4] = 0xee;
  buf.writeUInt32LE(1, 446 + 8);
  buf.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), 446 + 12);
  buf[510] = 0x55;
  buf[511] = 0xaa;
  buf.write('EFI PART', 512, 'latin1');
  buf.writeUInt32LE(0x00010000, 520);
  buf.writeUInt32LE(92, 524);
  randomBytes(256 * 1024).copy(buf, 1024 * 1024);
  randomBytes(100 * 1024).copy(buf, 5 * 1024 * 1024 + 512);
  return buf;
}

/** A classic MBR with one Linux partition starting at sector 2048. */
export function mbrDisk(capacity = 4 * 1024 * 1024): Buffer {
  const buf = Buffer.alloc(capacity);
  buf[446] = 0x80;
  buf[446 + 4] = 0x83;
  buf.writeUInt32LE(2048, 446 + 8);
  buf.writeUInt32LE(capacity / 512 - 2048, 446 + 12);
  buf[510] = 0x55;
  buf[511] = 0xaa;
  randomBytes(64 * 1024).copy(buf, 1024 * 1024);
  return buf;
}

/** Polls `read` until `done` says so; returns the last value and every distinct `label` seen. */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  label: (v: T) => string = () => '',
  timeoutMs = 20_000,
): Promise<{ value: T; seen: string[] }> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    const l = label(v);
    if (seen[seen.length - 1] !== l) seen.push(l);
    if (done(v)) return { value: v, seen };
    if (Date.now() > deadline) throw new Error(`pollUntil: timed out; seen ${seen.join(' → ')}`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

export async function describeTask(ec2: EC2Client, id: string): Promise<ImportImageTask> {
  const out = await ec2.send(new DescribeImportImageTasksCommand({ ImportTaskIds: [id] }));
  const t = out.ImportImageTasks?.[0];
  if (!t) throw new Error(`no import task ${id}`);
  return t;
}

/** Waits for an import task to end (completed or deleted); `seen` lists "Status/StatusMessage". */
export async function waitImport(ec2: EC2Client, id: string) {
  const progress: number[] = [];
  const r = await pollUntil(
    async () => {
      const t = await describeTask(ec2, id);
      if (t.Progress !== undefined) progress.push(Number(t.Progress));
      return t;
    },
    (t) => t.Status === 'completed' || t.Status === 'deleted',
    (t) => `${t.Status}/${t.StatusMessage}`,
  );
  return { ...r, progress };
}

export async function describeInstance(ec2: EC2Client, id: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  const i = out.Reservations?.[0]?.Instances?.[0];
  if (!i) throw new Error(`no instance ${id}`);
  return i;
}

export async function waitInstanceState(ec2: EC2Client, id: string, state: string) {
  return pollUntil(
    () => describeInstance(ec2, id),
    (i) => i.State?.Name === state,
    (i) => i.State?.Name ?? '',
  );
}
