/**
 * `npm run bench:windows` — a burst window's "opening → running" on the AWS VM Import path, with
 * the image pre-staged and without, measured in one run on the embedded deployment for the same
 * image (bench/support.ts: a 1 GiB disk with 256 MiB of random data, as a streamOptimized VMDK).
 *
 * - Pre-staged: the offload is created with `launch: {at: T}`, T a whole second LEAD_MS ahead (what
 *   a VM Import takes on AWS, and more). The image is uploaded at once; the job is imported and
 *   waits in `staged`. Once it is staged the deployment's clock (a LocalClock: real time plus an
 *   offset, read by the handlers and the local EventBridge Scheduler) is set to T, so the window
 *   opens then: the opening is the moment of that set, which is T on the clock. The launch timer
 *   comes due, the Scheduler starts the timer workflow, which releases the launch; the offload
 *   workflow goes on to LaunchInstance, CheckInstance and MarkRunning.
 * - Un-staged: at the opening T' (the clock's time just before POST /offloads) the offload is
 *   created without a launch gate, the image uploaded, and the job goes through inspect, import
 *   and launch.
 *
 * "Running" is the end of the job's `launch` step (`steps[]` endedAt, written by MarkRunning in the
 * same update that sets the state `running`); the release is `launch.releasedAt`. Both are the
 * gateway's clock times, and the clock only moves at the pre-staged opening, before either
 * measure starts: each figure is real elapsed time, not the client's polling granularity (the
 * client's own view, polling every 20 ms, is printed beside it as a check).
 *
 * With AWS's latencies: the simulator's fixed latencies are AWS's scaled 1:100 (as bench:transfer
 * assumes: VM Import 5 phases of 2 min, an instance starting in 30 s) while data moves at this
 * machine's speed. Each path's time is shown with AWS's latencies put back in place of the simulated
 * ones it waited for: un-staged, the 5 import phases and the instance start (the upload stays at
 * this machine's speed); pre-staged, the instance start and the launch release: the local Scheduler
 * fires on the second, EventBridge Scheduler "with 60 second precision" (between 1:00:00 and
 * 1:00:59 for 1:00), so the release is shown on time and 60 s late. The Wait states' real intervals
 * (WaitForImport 30 s, WaitForInstance 10 s; 50 ms here) divide the assumed latencies and add
 * nothing beyond them; Lambda cold starts and AWS's API latencies are not modelled. RunInstances here
 * copies the imported snapshot into the instance's volume (real local work, printed; EC2 restores a
 * volume lazily) and the simulated start counts from the request, so the copy hides the start; the
 * figures keep it in both paths, as bench:transfer does (about 1 s too much per path with AWS's).
 *
 * Options: --keep (leave the work directory).
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { followJob } from '../shared/client/follow';
import { uploadImage } from '../shared/client/upload';
import type { CreateOffloadRequest } from '../shared/client/types';
import type { JobView } from '../shared/domain/view';
import {
  AWS_LATENCY_MS,
  MiB,
  SCALE,
  TIMING,
  runBench,
  importWaits,
  makeImage,
  min,
  printTable,
  sec,
} from './support';

const TARGET = { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium', mode: 'import' } as const;
/** How far ahead the pre-staged window opens (T): room for the upload and a VM Import on AWS. */
const LEAD_MS = 15 * 60_000;
/** EventBridge Scheduler's precision: a schedule for 1:00 invokes its target between 1:00:00 and 1:00:59. */
const SCHEDULER_PRECISION_MS = 60_000;
const GOAL = 0.1;

interface Window {
  job: JobView;
  /** Opening → running, from the job's clock times. */
  toRunningMs: number;
  /** Opening → running as the client saw it (polling). */
  seenMs: number;
  /** Bytes uploaded and the time uploadImage took. */
  upload: { bytes: number; ms: number };
}

const until = (states: string[]) => (j: JobView) => [...states, 'failed', 'cancelled'].includes(j.state);
const ended = (job: JobView, step: string) => {
  const s = job.steps.find((st) => st.name === step && st.outcome === 'succeeded');
  if (!s) throw new Error(`job ${job.jobId} has no succeeded ${step} step`);
  return Date.parse(s.endedAt);
};

runBench('windows', async ({ dir, gw, client, log }) => {
  const clock = gw.clock;
  const image = await makeImage(dir, log);
  const imageSizeBytes = (await stat(image)).size;

  const offload = async (launch: CreateOffloadRequest['launch']) => {
    const req: CreateOffloadRequest = {
      vmName: 'bench-windows',
      imageFormat: 'vmdk',
      imageSizeBytes,
      target: TARGET,
    };
    const created = await client.createOffload(launch ? { ...req, launch } : req, randomUUID());
    const t0 = Date.now();
    const parts = await uploadImage(image, created.upload);
    const upload = { bytes: imageSizeBytes, ms: Date.now() - t0 };
    await client.completeUpload(created.jobId, parts);
    return { jobId: created.jobId, upload };
  };
  const toRunning = async (jobId: string, opened: Date, openedReal: number) => {
    const job = await followJob(client, jobId, { until: until(['running']), intervalMs: 20 });
    if (job.state !== 'running') throw new Error(`job ${jobId} ended ${job.state}: ${job.error?.detail}`);
    return { job, toRunningMs: ended(job, 'launch') - opened.getTime(), seenMs: Date.now() - openedReal };
  };

  // Pre-staged: created with launch.at = T, uploaded and imported now, staged until T.
  log('pre-staged: offload with launch.at, upload, import...');
  const T = new Date(Math.ceil((clock.now().getTime() + LEAD_MS) / 1000) * 1000);
  const early = await offload({ at: T.toISOString() });
  const staged = await followJob(client, early.jobId, { until: until(['staged']), intervalMs: 20 });
  if (staged.state !== 'staged') throw new Error(`the pre-staged job ended ${staged.state}`);
  if (clock.now().getTime() >= T.getTime())
    throw new Error(`staged after the window opened (${T.toISOString()}): raise LEAD_MS`);
  log(`staged; the window opens: the clock is set to ${T.toISOString()}`);
  const preOpenedReal = Date.now();
  const preOpened = clock.set(T);
  const pre: Window = { ...(await toRunning(early.jobId, preOpened, preOpenedReal)), upload: early.upload };
  const releasedMs = Date.parse(pre.job.launch?.releasedAt ?? '') - preOpened.getTime();
  if (pre.job.launch?.releasedBy !== 'timer' || !(releasedMs >= 0))
    throw new Error(`the pre-staged launch was not released by its timer: ${JSON.stringify(pre.job.launch)}`);

  // Un-staged: everything after the opening.
  log('un-staged: the window opens; offload, upload, import...');
  const unOpenedReal = Date.now();
  const unOpened = clock.now();
  const late = await offload(undefined);
  const un: Window = { ...(await toRunning(late.jobId, unOpened, unOpenedReal)), upload: late.upload };

  // With AWS's latencies in place of the simulated ones each path waited for.
  const awsUn = un.toRunningMs - importWaits(TIMING) + importWaits(AWS_LATENCY_MS);
  const awsPre = pre.toRunningMs - TIMING.instanceStartMs + AWS_LATENCY_MS.instanceStartMs;
  const awsPreLate = awsPre + SCHEDULER_PRECISION_MS;
  const goal = (r: number) => `≤ ${GOAL}× ${r <= GOAL ? 'met' : 'NOT met'}`;
  const ratio = (r: number) => `${r.toFixed(3)}×`;
  printTable(
    ['window opening → running', 'pre-staged', 'un-staged', 'pre / un', 'goal'],
    [
      [
        `measured, latencies 1:${SCALE}`,
        sec(pre.toRunningMs),
        sec(un.toRunningMs),
        ratio(pre.toRunningMs / un.toRunningMs),
        goal(pre.toRunningMs / un.toRunningMs),
      ],
      [
        'with AWS latencies, Scheduler on time',
        sec(awsPre),
        min(awsUn),
        ratio(awsPre / awsUn),
        goal(awsPre / awsUn),
      ],
      [
        'with AWS latencies, Scheduler 60 s late',
        sec(awsPreLate),
        min(awsUn),
        ratio(awsPreLate / awsUn),
        goal(awsPreLate / awsUn),
      ],
    ],
  );
  const steps = (j: JobView) =>
    j.steps.map((st) => `${st.name} ${(st.durationMs / 1000).toFixed(2)} s`).join(', ');
  // RunInstances: from the launch step's start to the instance recorded on the job.
  const runInstancesMs = (j: JobView) => {
    const launch = j.steps.find((st) => st.name === 'launch');
    const instance = j.resources.find((r) => r.type === 'instance');
    return Date.parse(instance?.createdAt ?? '') - Date.parse(launch?.startedAt ?? '');
  };
  const mibps = (u: Window['upload']) => `${(u.bytes / MiB / (u.ms / 1000)).toFixed(1)} MiB/s`;
  process.stdout.write(
    [
      `pre-staged: opening → launch released ${sec(releasedMs)} (Scheduler → timer workflow → FireTimer), released → running ${sec(pre.toRunningMs - releasedMs)} (RunInstances ${sec(runInstancesMs(pre.job))}, the simulated ${sec(TIMING.instanceStartMs)} start counted from its request, then the checks); steps: ${steps(pre.job)}`,
      `un-staged steps: ${steps(un.job)}; RunInstances ${sec(runInstancesMs(un.job))}`,
      `upload throughput used: ${(un.upload.bytes / MiB).toFixed(1)} MiB in ${sec(un.upload.ms)} = ${mibps(un.upload)} (the pre-staged upload, before its window: ${mibps(pre.upload)})`,
      `seen by the client (polling every 20 ms): pre-staged ${sec(pre.seenMs)}, un-staged ${sec(un.seenMs)}`,
      `AWS latencies assumed (ms): VM Import ${importWaits(AWS_LATENCY_MS) - AWS_LATENCY_MS.instanceStartMs} (5 phases), instance start ${AWS_LATENCY_MS.instanceStartMs}, simulated at 1:${SCALE}; EventBridge Scheduler precision ${SCHEDULER_PRECISION_MS}`,
    ].join('\n') + '\n',
  );
  await client.cancel(pre.job.jobId);
  await client.cancel(un.job.jobId);
});
