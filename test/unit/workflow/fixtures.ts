/**
 * What the workflow step tests share: a gateway built with `createGateway` over the in-memory
 * fakes (test/helpers/fake-deps.ts), jobs placed as the step before would leave them, and small
 * disk images generated in memory.
 */
import {
  DescribeImportImageTasksCommand,
  DescribeInstancesCommand,
  type InstanceStateName,
} from '@aws-sdk/client-ec2';
import { createGateway, recordResource, type Gateway } from '../../../shared/domain/gateway';
import { newJobId } from '../../../shared/domain/ids';
import type { ImageFormatName, Job, JobState, JobTarget } from '../../../shared/domain/job';
import { diskFromBuffer } from '../../../shared/images/extents';
import { writeOva } from '../../../shared/images/ova';
import { writeFixedVhd } from '../../../shared/images/vhd';
import { writeStreamOptimizedVmdk } from '../../../shared/images/vmdk-stream-writer';
import { fakeDeps, type FakeDeps } from '../../helpers/fake-deps';
import { collect, pseudoRandom, sha256 } from '../../helpers/images/fixtures';

export const MiB = 1024 * 1024;
export const REGION = 'us-east-1';

export const AWS: JobTarget = { cloud: 'aws', region: REGION, instanceType: 't3.medium' };
export const AZURE: JobTarget = {
  cloud: 'azure',
  location: 'westeurope',
  vmSize: 'Standard_D2s_v3',
  resourceGroup: 'burstgate-rg',
};

export interface StepTest {
  gw: Gateway;
  fake: FakeDeps;
}

export function stepTest(opts: Parameters<typeof fakeDeps>[0] = {}): StepTest {
  const fake = fakeDeps(opts);
  return { gw: createGateway(fake.deps), fake };
}

/** A job in `state`, stored; `change` edits it first (cloud ids, resources, ...). */
export async function placeJob(
  t: StepTest,
  state: JobState,
  change: (job: Job) => void = () => undefined,
  opts: { target?: JobTarget; format?: ImageFormatName; sizeBytes?: number; sha256?: string } = {},
): Promise<Job> {
  const now = t.gw.now();
  const jobId = newJobId(now);
  const format = opts.format ?? 'raw';
  const key = `staging/${jobId}/vm.${format}`;
  const job: Job = {
    jobId,
    vmName: 'vm-01',
    state,
    target: structuredClone(opts.target ?? AWS),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    version: 1,
    image: {
      format,
      bucket: t.gw.staging.bucket,
      key,
      sizeBytes: opts.sizeBytes ?? 0,
      ...(opts.sha256 ? { sha256: opts.sha256 } : {}),
    },
    resources: [],
    steps: [],
    bytes: { uploaded: opts.sizeBytes ?? 0 },
    cloud: {},
  };
  change(job);
  return t.gw.store.create(job);
}

/**
 * A job whose upload is complete, as complete-upload leaves it: the file staged in S3 and recorded,
 * the job `inspecting` with the inspect step begun.
 */
export async function stagedJob(
  t: StepTest,
  file: Buffer,
  opts: { format: ImageFormatName; target?: JobTarget; sha256?: string },
): Promise<Job> {
  return placeJob(
    t,
    'inspecting',
    (j) => {
      t.fake.bucket.put(j.image.key, file);
      const now = t.gw.now();
      recordResource(j, { type: 's3-object', id: j.image.key, location: j.image.bucket }, now);
      j.uploadCompletedAt = now.toISOString();
      j.activeStep = { name: 'inspect', startedAt: now.toISOString() };
    },
    { ...opts, sizeBytes: file.length },
  );
}

/** A job that has reached `running` on AWS through VM Import: AMI, snapshot and instance recorded. */
export async function runningJob(t: StepTest, change: (job: Job) => void = () => undefined): Promise<Job> {
  return placeJob(t, 'running', (j) => {
    const at = t.gw.now();
    recordResource(j, { type: 's3-object', id: j.image.key, location: j.image.bucket }, at);
    recordResource(j, { type: 'import-task', id: 'import-ami-0123', location: REGION }, at);
    recordResource(j, { type: 'ami', id: 'ami-0123', location: REGION }, at);
    recordResource(j, { type: 'snapshot', id: 'snap-0123', location: REGION }, at);
    recordResource(j, { type: 'instance', id: 'i-0123', location: REGION }, at);
    j.cloud = {
      importTaskId: 'import-ami-0123',
      amiId: 'ami-0123',
      snapshotIds: ['snap-0123'],
      instanceId: 'i-0123',
    };
    change(j);
  });
}

/** Scripts what EC2 says the instance is. */
export function instanceIs(t: StepTest, state: InstanceStateName): void {
  t.fake.ec2.on(DescribeInstancesCommand, (input) => ({
    Reservations: [{ Instances: [{ InstanceId: input.InstanceIds?.[0], State: { Name: state } }] }],
  }));
}

/** Scripts what EC2 says the import task is (its AMI and snapshot once completed). */
export function importTaskIs(t: StepTest, status: string, extra: { progress?: string } = {}): void {
  t.fake.ec2.on(DescribeImportImageTasksCommand, (input) => ({
    ImportImageTasks: [
      {
        ImportTaskId: input.ImportTaskIds?.[0],
        Status: status,
        ...(extra.progress ? { Progress: extra.progress } : {}),
        ...(status === 'completed'
          ? {
              ImageId: 'ami-0abc',
              SnapshotDetails: [{ SnapshotId: 'snap-0abc', DiskImageSize: 4 * MiB }],
            }
          : {}),
      },
    ],
  }));
}

/** The error a step throws (the test fails when the step resolves). */
export async function failureOf(step: Promise<unknown>): Promise<Error & { code?: string }> {
  const outcome = await step.then(
    () => undefined,
    (err: unknown) => err as Error & { code?: string },
  );
  if (!outcome) throw new Error('the step succeeded; the test expected it to fail');
  return outcome;
}

// ---------------------------------------------------------------- disk images

/** A raw disk of `capacity` bytes with an MBR (one Linux partition) and some data after it. */
export function mbrDisk(capacity: number, seed = 1): Buffer {
  const disk = Buffer.alloc(capacity);
  disk[446] = 0x80; // bootable
  disk[446 + 4] = 0x83; // Linux
  disk.writeUInt32LE(2048, 446 + 8);
  disk.writeUInt32LE(capacity / 512 - 2048, 446 + 12);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  pseudoRandom(64 * 1024, seed).copy(disk, MiB);
  return disk;
}

/** A disk with data but no partition table (no boot signature). */
export function unpartitionedDisk(capacity: number): Buffer {
  const disk = Buffer.alloc(capacity);
  pseudoRandom(64 * 1024, 7).copy(disk, 0);
  disk[510] = 0;
  return disk;
}

export const fixedVhdOf = (disk: Buffer) => collect(writeFixedVhd(diskFromBuffer(disk)));
export const streamVmdkOf = (disk: Buffer) => collect(writeStreamOptimizedVmdk(diskFromBuffer(disk)));
export const ovaOf = (disk: Buffer, opts: { osType?: string; firmware?: 'bios' | 'efi' } = {}) =>
  collect(
    writeOva({
      vmName: 'vm-01',
      vcpus: 2,
      memoryMiB: 2048,
      mtime: new Date(0),
      disks: [{ fileName: 'vm-01-disk1.vmdk', disk: diskFromBuffer(disk) }],
      ...opts,
    }),
  );

export { sha256 };
