/**
 * What the AWS simulator tests share beyond the harness itself: the beforeAll/afterAll lifecycle of
 * a `SimEnv` (s3rver from ./s3rver + simulator + EC2Client, see test/integration/sim/aws-fixtures.ts)
 * and the steps several files take to get an AMI, an instance or an export.
 */
import {
  DescribeExportTasksCommand,
  ImportImageCommand,
  RunInstancesCommand,
  type EC2Client,
  type ExportTask,
  type ImportImageTask,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll } from 'vitest';

import type { AwsSimulatorOptions } from '../../infra/local/sim/aws';
import {
  BUCKET,
  pollUntil,
  putObject,
  startSimEnv,
  waitImport,
  type SimEnv,
} from '../integration/sim/aws-fixtures';

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
