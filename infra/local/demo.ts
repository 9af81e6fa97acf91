/**
 * `burstgate demo` (what `npm start` runs): the whole loop on the embedded deployment. Starts it
 * in a temporary directory, offloads the project's sample VM through the HTTP API three ways at
 * once — to simulated AWS by VM Import, to simulated AWS by the fast path (EBS direct APIs), and to
 * simulated Azure — and returns each (VM Import: the exported OVA; fast path and Azure: a delta of
 * what changed, rebuilt on the sample OVA as `burstgate return --base` does). On the fast path the
 * guest first changes ~1 % of its disk, only the changed blocks come back, and the changed image is
 * offloaded again, moving only the blocks that differ from the image cache's snapshot. Checks every
 * returned disk's content SHA-256 and that the simulators hold nothing the jobs created (but the
 * image cache's snapshot and AMI), prints a summary, and exits 0 only if all of that held.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { inspectOva, openBaseImage } from '../../shared/images';
import { GatewayClient } from '../../shared/client/api-client';
import { followJob } from '../../shared/client/follow';
import { offloadImage, type Comparison } from '../../shared/client/offload-workflow';
import type { FetchedReturnedImage, ReturnOutputFormat } from '../../shared/client/returned-image';
import { returnJob } from '../../shared/client/return-workflow';
import type { CreateOffloadRequest, JobView } from '../../shared/client/types';
import { startEmbedded, type Embedded } from './embedded';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const SAMPLE_OVA = join(ROOT, 'test/fixtures/sample-vm/burstgate-sample.ova');

const fmtBytes = (n: number) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms} ms`);

/** One round trip of the sample VM: offload, return, and what came back. */
export interface DemoTrip {
  /** `aws-direct`: the AWS fast path (EBS direct APIs, changed-block return, incremental re-offload). */
  cloud: 'aws' | 'aws-direct' | 'azure';
  jobId: string;
  ok: boolean;
  originalDiskSha256: string;
  returnedDiskSha256: string;
  /** Cloud resources of the job still in the simulator after the return. */
  leftovers: number;
  /** What the return downloaded (the whole OVA, or the delta). */
  downloadedBytes: number;
  /** Upload complete → running (ms). */
  toRunningMs: number;
  /** The fast path's numbers (aws-direct only). */
  fastPath?: FastPathNumbers;
}

export interface FastPathNumbers {
  diskBytes: number;
  /** Offload: bytes put into the EBS snapshot, and the disk's allocated bytes. */
  uploadedBytes: number;
  allocatedBytes: number;
  /** Bytes the guest changed before the return. */
  guestChangedBytes: number;
  /** Return: bytes read back from EBS (the changed 512 KiB blocks). */
  returnedBytes: number;
  /** Re-offload of the returned image: bytes put into the child of the cached snapshot. */
  reoffloadBytes: number;
  /** Bytes of the re-offload's upload (a delta of the changed blocks). */
  reoffloadUploadedBytes: number;
  reoffloadOutcome: string;
}

export interface DemoResult {
  ok: boolean;
  trips: DemoTrip[];
  elapsedMs: number;
}

type Log = (line: string) => void;

interface DemoContext {
  gateway: Embedded;
  client: GatewayClient;
  image: string;
  size: number;
  vmName: string;
  originalDiskSha256: string;
  stateDir: string;
  log: Log;
}

/**
 * Offload → running (the client's offload workflow, as `burstgate offload` runs it); returns the
 * running job, how long it took after the upload, and with `incremental` what the comparison found.
 */
async function offloadUntilRunning(
  ctx: DemoContext,
  target: CreateOffloadRequest['target'],
  opts: { image?: string; imageFormat?: CreateOffloadRequest['imageFormat']; incremental?: boolean } = {},
): Promise<{ job: JobView; toRunningMs: number; comparison?: Comparison }> {
  const { log } = ctx;
  const tag = tagOf(target);
  const image = opts.image ?? ctx.image;
  const size = (await stat(image)).size;
  let uploaded = Date.now();
  let comparison: Comparison | undefined;
  const onState = stateLogger(ctx, tag);
  const { job: running } = await offloadImage(ctx.client, {
    image: { path: image, sizeBytes: size },
    format: opts.imageFormat ?? 'ova',
    vmName: ctx.vmName,
    target,
    incremental: opts.incremental ?? false,
    hash: false,
    intervalMs: 50,
    onEvent: (e) => {
      if (e.type === 'compared') {
        comparison = e.comparison;
        log(
          e.comparison.kind === 'delta'
            ? `[${tag}] incremental: ${e.comparison.summary.dataBlocks} block(s) differ from the cached snapshot; ` +
                `uploading a ${fmtBytes(e.comparison.sizeBytes)} delta instead of the ${fmtBytes(size)} image`
            : `[${tag}] incremental: ${e.comparison.reason}; uploading the whole image`,
        );
      }
      if (e.type === 'created') {
        log(`[${tag}] offload ${e.jobId}: uploading ${fmtBytes(e.upload.sizeBytes)} in ${e.parts} part(s)`);
      }
      if (e.type === 'stage' && e.stage === 'complete') uploaded = Date.now();
      if (e.type === 'job') onState(e.job, e.previous);
    },
  });
  if (running?.state !== 'running')
    throw new Error(`the ${tag} offload ended ${running?.state}: ${running?.error?.detail}`);
  log(
    target.cloud === 'aws'
      ? `[${tag}] running as ${running.cloud.instanceId} from ${running.cloud.amiId}`
      : `[${tag}] running as ${running.cloud.virtualMachineId}`,
  );
  return { job: running, toRunningMs: Date.now() - uploaded, ...(comparison ? { comparison } : {}) };
}

const tagOf = (target: CreateOffloadRequest['target']) =>
  target.cloud === 'aws' && target.mode === 'direct' ? 'aws-direct' : target.cloud;

function stateLogger(ctx: DemoContext, tag: string) {
  return (job: JobView, prev?: JobView) => {
    if (job.state !== prev?.state) ctx.log(`[${tag}]   ${job.jobId} → ${job.state}`);
  };
}

/**
 * Running → returned → the image in `out` (the client's return workflow, as `burstgate return`
 * runs it: a delta is rebuilt onto `base`, and the result checked against the gateway's hash).
 */
async function returnUntilFetched(
  ctx: DemoContext,
  running: JobView,
  fetch: { out: string; to: ReturnOutputFormat; base?: string },
): Promise<{ job: JobView; image: FetchedReturnedImage }> {
  const tag = tagOf(running.target);
  const onState = stateLogger(ctx, tag);
  const result = await returnJob(ctx.client, {
    jobId: running.jobId,
    ...fetch,
    intervalMs: 50,
    onEvent: (e) => {
      if (e.type === 'job') onState(e.job, e.previous);
    },
  });
  if (!result.returned) {
    throw new Error(`the ${tag} return ended ${result.job.state}: ${result.job.error?.detail}`);
  }
  return { job: result.job, image: result.image };
}

/** Waits (bounded) for the simulator to hold none of the job's resources; returns how many are left. */
async function leftoversOf(count: () => number): Promise<number> {
  let left = count();
  for (let i = 0; i < 50 && left > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    left = count();
  }
  return left;
}

/**
 * AWS resources the jobs created that the simulator still holds, waiting (bounded) for removals to
 * land. What the image cache owns (the fast path's snapshot and AMI, kept for the next offload of
 * the VM) is not a leftover.
 */
function awsLeftovers(ctx: DemoContext, jobs: JobView[]): Promise<number> {
  const created = new Set(
    jobs.flatMap((j) =>
      j.resources
        .filter((r) => !r.imageCache && r.type !== 's3-object' && r.type !== 'multipart-upload')
        .map((r) => r.id),
    ),
  );
  return leftoversOf(
    () =>
      Object.values(ctx.gateway.sim.resources())
        .flat()
        .filter((r) => created.has(r.id)).length,
  );
}

/** The content SHA-256 of the sample's disk after `writes`, and its size: what the guest's disk holds. */
async function changedDiskSha256(
  image: string,
  writes: Array<[number, Buffer]>,
): Promise<{ sha256: string; capacity: number }> {
  const base = await openBaseImage(image);
  try {
    const capacity = base.disk.capacity;
    const hash = createHash('sha256');
    for (let at = 0; at < capacity; at += 4 * 1024 * 1024) {
      const piece = await base.disk.read(at, Math.min(4 * 1024 * 1024, capacity - at));
      for (const [offset, data] of writes) {
        const from = Math.max(offset, at);
        const to = Math.min(offset + data.length, at + piece.length);
        if (from < to) data.copy(piece, from - at, from - offset, to - offset);
      }
      hash.update(piece);
    }
    return { sha256: hash.digest('hex'), capacity };
  } finally {
    await base.close();
  }
}

/**
 * The AWS fast path: direct offload (the sample's non-zero 512 KiB blocks into an EBS snapshot, an
 * AMI, an instance), the guest changes ~1 % of its disk (the simulator's `writeDisk` stands in for
 * it), the return reads only the changed blocks and the delta is rebuilt on the sample OVA, then the
 * returned image goes out again: a child of the image cache's snapshot with only the changed blocks.
 * That second offload is cancelled at once (the demo only shows what it moved).
 */
async function awsDirectTrip(ctx: DemoContext): Promise<{ trip: DemoTrip; job: JobView; jobs: JobView[] }> {
  const target = { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium', mode: 'direct' } as const;
  const { job: running, toRunningMs } = await offloadUntilRunning(ctx, target);
  const MiB = 1024 * 1024;
  const writes: Array<[number, Buffer]> = [
    [24 * MiB + 8192, randomBytes(600 * 1024)],
    [24 * MiB + 700 * 1024, randomBytes(40 * 1024)],
  ];
  for (const [offset, data] of writes)
    await ctx.gateway.sim.writeDisk(running.cloud.instanceId!, offset, data);
  const guestChangedBytes = writes.reduce((n, [, d]) => n + d.length, 0);
  ctx.log(`[aws-direct] the guest changed ${fmtBytes(guestChangedBytes)} of its disk`);
  const expected = await changedDiskSha256(ctx.image, writes);

  const back = join(ctx.stateDir, 'returned-aws-direct.vmdk');
  const { job: returned, image: rebuilt } = await returnUntilFetched(ctx, running, {
    out: back,
    to: 'vmdk-stream',
    base: ctx.image,
  });

  // The VM goes out again as it came back, incrementally (`burstgate offload --incremental`): only
  // the blocks that differ from the cached snapshot cross the WAN and go into EBS.
  const { job: again, comparison } = await offloadUntilRunning(ctx, target, {
    image: back,
    incremental: true,
  });
  if (comparison?.kind !== 'delta') {
    throw new Error(`no incremental re-offload: ${comparison?.reason ?? 'nothing was compared'}`);
  }
  await ctx.client.cancel(again.jobId);
  const cancelled = await followJob(ctx.client, again.jobId, {
    until: (j) => ['cancelled', 'failed'].includes(j.state),
    intervalMs: 50,
  });
  const leftovers = await awsLeftovers(ctx, [returned, cancelled]);
  return {
    job: returned,
    jobs: [returned, cancelled],
    trip: {
      cloud: 'aws-direct',
      jobId: returned.jobId,
      ok: rebuilt.diskSha256 === expected.sha256 && leftovers === 0 && cancelled.state === 'cancelled',
      originalDiskSha256: expected.sha256,
      returnedDiskSha256: rebuilt.diskSha256 ?? '',
      leftovers,
      downloadedBytes: rebuilt.downloadedBytes,
      toRunningMs,
      fastPath: {
        diskBytes: expected.capacity,
        uploadedBytes: running.bytes.ebsBytesWritten ?? 0,
        allocatedBytes: running.bytes.allocated ?? 0,
        guestChangedBytes,
        returnedBytes: returned.bytes.exported ?? 0,
        reoffloadBytes: again.bytes.ebsBytesWritten ?? 0,
        reoffloadUploadedBytes: again.image.sizeBytes,
        reoffloadOutcome: again.cloud.imageCache?.outcome ?? 'none',
      },
    },
  };
}

async function awsTrip(ctx: DemoContext): Promise<{ trip: DemoTrip; job: JobView }> {
  const target = { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' } as const;
  const { job: running, toRunningMs } = await offloadUntilRunning(ctx, target);
  const out = join(ctx.stateDir, 'returned-aws.ova');
  const { job, image } = await returnUntilFetched(ctx, running, { out, to: 'ova' });
  // Check the content ourselves rather than trusting the gateway's word for it.
  const back = await inspectOva(createReadStream(out));
  const returnedDiskSha256 = back.disks[0]?.contentSha256 ?? '';
  const leftovers = await awsLeftovers(ctx, [job]);
  return {
    job,
    trip: {
      cloud: 'aws',
      jobId: job.jobId,
      ok: returnedDiskSha256 === ctx.originalDiskSha256 && leftovers === 0,
      originalDiskSha256: ctx.originalDiskSha256,
      returnedDiskSha256,
      leftovers,
      downloadedBytes: image.downloadedBytes,
      toRunningMs,
    },
  };
}

async function azureTrip(ctx: DemoContext): Promise<{ trip: DemoTrip; job: JobView }> {
  const target = { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v5' } as const;
  const { job: running, toRunningMs } = await offloadUntilRunning(ctx, target);
  // What `burstgate return --base` does: the delta applied to the offloaded OVA, the result hashed.
  const { job, image: rebuilt } = await returnUntilFetched(ctx, running, {
    out: join(ctx.stateDir, 'returned-azure.vmdk'),
    to: 'vmdk-stream',
    base: ctx.image,
  });
  const sim = ctx.gateway.azureSim!;
  const leftovers = await leftoversOf(() => {
    const r = sim.resources();
    return [...r.disks, ...r.snapshots, ...r.virtualMachines, ...r.networkInterfaces].filter((x) =>
      x.id.includes(job.jobId),
    ).length;
  });
  return {
    job,
    trip: {
      cloud: 'azure',
      jobId: job.jobId,
      ok: rebuilt.diskSha256 === ctx.originalDiskSha256 && leftovers === 0,
      originalDiskSha256: ctx.originalDiskSha256,
      returnedDiskSha256: rebuilt.diskSha256 ?? '',
      leftovers,
      downloadedBytes: rebuilt.downloadedBytes,
      toRunningMs,
    },
  };
}

function printJob(log: Log, job: JobView): void {
  log(`steps of ${job.jobId} (${job.target.cloud}):`);
  for (const s of job.steps) {
    log(
      `  ${s.name.padEnd(11)} ${s.outcome.padEnd(9)} ${fmtMs(s.durationMs).padStart(9)}  ${s.detail ?? ''}`,
    );
  }
  log('  resources (created → removed):');
  for (const r of job.resources) {
    const id = r.id.length > 72 ? `…${r.id.slice(-71)}` : r.id;
    log(
      `    ${r.type.padEnd(17)} ${id.padEnd(72)} ${r.removedAt ? 'removed' : r.imageCache ? 'kept (image cache)' : r.retained ? 'kept (the download)' : 'LEFT'}`,
    );
  }
  const b = job.bytes;
  log(
    job.target.cloud === 'aws' && job.target.mode === 'direct'
      ? `  bytes: uploaded ${fmtBytes(b.uploaded)}, put into EBS ${fmtBytes(b.ebsBytesWritten ?? 0)} of ${fmtBytes(b.allocated ?? 0)} allocated, ` +
          `changed ${fmtBytes(b.changed ?? 0)}, read back ${fmtBytes(b.exported ?? 0)}`
      : job.target.cloud === 'aws'
        ? `  bytes: uploaded ${fmtBytes(b.uploaded)}, imported ${fmtBytes(b.imported ?? 0)}, exported ${fmtBytes(b.exported ?? 0)}`
        : `  bytes: uploaded ${fmtBytes(b.uploaded)}, written to Azure pages ${fmtBytes(b.pagesWritten ?? 0)} of ${fmtBytes(b.allocated ?? 0)} allocated, ` +
          `changed ${fmtBytes(b.changed ?? 0)}, read back ${fmtBytes(b.exported ?? 0)}`,
  );
}

export async function runDemo(opts: { image?: string; log?: Log } = {}): Promise<DemoResult> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const image = opts.image ?? SAMPLE_OVA;
  const t0 = Date.now();
  const stateDir = await mkdtemp(join(tmpdir(), 'burstgate-demo-'));
  // Simulated clouds at a demo's pace: operations and VM state changes take 20 ms.
  const gateway = await startEmbedded({
    stateDir,
    quiet: true,
    simTiming: { phaseMs: 20 },
    azure: { timing: { phaseMs: 20 } },
    waitTimeOverrides: 50,
  });
  try {
    log(`burstgate demo — embedded deployment at ${gateway.apiUrl} (state in ${stateDir})`);
    const original = await inspectOva(createReadStream(image));
    const originalDisk = original.disks[0];
    if (!originalDisk) throw new Error(`${image} holds no disk`);
    const size = (await stat(image)).size;
    log(`sample VM: ${image}`);
    log(
      `  ${original.hardware.vmName}: ${original.hardware.vcpus} vCPU, ${original.hardware.memoryMiB} MiB, ${original.hardware.firmware}, ` +
        `disk ${fmtBytes(originalDisk.capacity)} (${originalDisk.partitionTable}), file ${fmtBytes(size)}`,
    );
    log(`  disk content SHA-256 ${originalDisk.contentSha256}`);
    const ctx: DemoContext = {
      gateway,
      client: new GatewayClient({ baseUrl: gateway.apiUrl, apiKey: gateway.apiKey }),
      image,
      size,
      vmName: original.hardware.vmName,
      originalDiskSha256: originalDisk.contentSha256,
      stateDir,
      log,
    };
    // All three at once, as several schedulers would.
    const results = await Promise.all([awsTrip(ctx), awsDirectTrip(ctx), azureTrip(ctx)]);
    log('');
    for (const r of results) for (const job of 'jobs' in r ? r.jobs : [r.job]) printJob(log, job);
    log('');
    log('round trips (content SHA-256 of the returned disk):');
    log(`  original        ${originalDisk.contentSha256}`);
    for (const { trip } of results) {
      log(
        `  ${trip.cloud.padEnd(10)} ${trip.ok ? 'identical' : 'DIFFERENT'} ${trip.returnedDiskSha256}  ` +
          `(${trip.cloud === 'aws' ? 'OVA' : 'delta'} downloaded: ${fmtBytes(trip.downloadedBytes)}; resources left: ${trip.leftovers})` +
          (trip.cloud === 'aws-direct' ? ' — the guest had changed it: compared with its disk' : ''),
      );
    }
    const fastTrip = results.find((r) => r.trip.fastPath)?.trip;
    const fast = fastTrip?.fastPath;
    if (fast) {
      const pct = (n: number) => `${((100 * n) / fast.diskBytes).toFixed(2)} % of the disk`;
      log('AWS fast path (EBS direct APIs, image cache):');
      log(
        `  offload     ${fmtBytes(fast.uploadedBytes)} put into EBS for ${fmtBytes(fast.allocatedBytes)} allocated (${pct(fast.uploadedBytes)}); ` +
          `running ${fmtMs(fastTrip!.toRunningMs)} after the upload, without VM Import (npm run bench:transfer compares the two paths)`,
      );
      log(
        `  return      guest changed ${fmtBytes(fast.guestChangedBytes)} → ${fmtBytes(fast.returnedBytes)} of changed blocks read back (${pct(fast.returnedBytes)})`,
      );
      log(
        `  re-offload  the returned image again (--incremental): ${fmtBytes(fast.reoffloadUploadedBytes)} uploaded, ${fast.reoffloadOutcome}, ${fmtBytes(fast.reoffloadBytes)} put into EBS (${pct(fast.reoffloadBytes)})`,
      );
    }
    const elapsedMs = Date.now() - t0;
    const ok = results.every((r) => r.trip.ok);
    log(
      ok
        ? `OK: the VM went to AWS (VM Import and the fast path) and to Azure and came back bit-identical from all three in ${fmtMs(elapsedMs)}`
        : 'FAILED: see above',
    );
    return { ok, trips: results.map((r) => r.trip), elapsedMs };
  } finally {
    await gateway.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
