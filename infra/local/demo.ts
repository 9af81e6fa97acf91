/**
 * `burstgate demo` (what `npm start` runs): the whole loop on the embedded deployment. Starts it
 * in a temporary directory, offloads the project's sample VM through the HTTP API to simulated AWS
 * and to simulated Azure at once, returns both (AWS: the exported OVA; Azure: a delta, rebuilt on
 * the sample OVA as `burstgate return --base` does), checks each returned disk's content SHA-256
 * against the original's and that the simulators hold nothing the jobs created, prints a summary,
 * and exits 0 only if all of that held.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { inspectOva, rebuildFromDelta } from '../../shared/images';
import { GatewayClient } from '../../shared/client/api-client';
import { uploadImage } from '../../shared/client/upload';
import { followJob } from '../../shared/client/follow';
import { downloadImage } from '../../shared/client/download';
import type { CreateOffloadRequest, JobView } from '../../shared/client/types';
import { startEmbedded, type Embedded } from './embedded';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const SAMPLE_OVA = join(ROOT, 'test/fixtures/sample-vm/burstgate-sample.ova');

const fmtBytes = (n: number) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms} ms`);

/** One round trip of the sample VM: offload, return, and what came back. */
export interface DemoTrip {
  cloud: 'aws' | 'azure';
  jobId: string;
  ok: boolean;
  originalDiskSha256: string;
  returnedDiskSha256: string;
  /** Cloud resources of the job still in the simulator after the return. */
  leftovers: number;
  /** What the return downloaded (the whole OVA, or the delta). */
  downloadedBytes: number;
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

/** Offload → running → return, following the job; returns the returned job. */
async function roundTrip(ctx: DemoContext, target: CreateOffloadRequest['target']): Promise<JobView> {
  const { client, log } = ctx;
  const created = await client.createOffload(
    { vmName: ctx.vmName, imageFormat: 'ova', imageSizeBytes: ctx.size, target },
    randomUUID(),
  );
  const jobId = created.jobId;
  log(
    `[${target.cloud}] offload ${jobId}: uploading ${fmtBytes(ctx.size)} in ${created.upload.parts.length} part(s)`,
  );
  await client.completeUpload(jobId, await uploadImage(ctx.image, created.upload));
  const onUpdate = (job: JobView, prev?: JobView) => {
    if (job.state !== prev?.state) log(`[${target.cloud}]   ${jobId} → ${job.state}`);
  };
  const running = await followJob(client, jobId, {
    until: (j) => ['running', 'failed', 'cancelled'].includes(j.state),
    intervalMs: 50,
    onUpdate,
  });
  if (running.state !== 'running')
    throw new Error(`the ${target.cloud} offload ended ${running.state}: ${running.error?.detail}`);
  log(
    target.cloud === 'aws'
      ? `[aws]   running as ${running.cloud.instanceId} from ${running.cloud.amiId}`
      : `[azure] running as ${running.cloud.virtualMachineId}`,
  );
  await client.startReturn(jobId);
  const returned = await followJob(client, jobId, {
    until: (j) => ['returned', 'return-failed', 'failed', 'cancelled'].includes(j.state),
    intervalMs: 50,
    onUpdate,
  });
  if (returned.state !== 'returned' || !returned.download) {
    throw new Error(`the ${target.cloud} return ended ${returned.state}: ${returned.error?.detail}`);
  }
  return returned;
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

async function awsTrip(ctx: DemoContext): Promise<{ trip: DemoTrip; job: JobView }> {
  const job = await roundTrip(ctx, { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' });
  const download = job.download!;
  const out = join(ctx.stateDir, 'returned-aws.ova');
  await downloadImage(download.url, out, { expectedSha256: download.sha256 });
  // Check the content ourselves rather than trusting the gateway's word for it.
  const back = await inspectOva(createReadStream(out));
  const returnedDiskSha256 = back.disks[0]?.contentSha256 ?? '';
  const leftovers = await leftoversOf(() => Object.values(ctx.gateway.sim.resources()).flat().length);
  return {
    job,
    trip: {
      cloud: 'aws',
      jobId: job.jobId,
      ok: returnedDiskSha256 === ctx.originalDiskSha256 && leftovers === 0,
      originalDiskSha256: ctx.originalDiskSha256,
      returnedDiskSha256,
      leftovers,
      downloadedBytes: download.sizeBytes,
    },
  };
}

async function azureTrip(ctx: DemoContext): Promise<{ trip: DemoTrip; job: JobView }> {
  const job = await roundTrip(ctx, { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v5' });
  const download = job.download!;
  const delta = join(ctx.stateDir, 'returned-azure.bgdelta');
  await downloadImage(download.url, delta, { expectedSha256: download.sha256 });
  // What `burstgate return --base` does: the delta applied to the offloaded OVA, the result hashed.
  const rebuilt = await rebuildFromDelta({
    base: ctx.image,
    delta,
    out: join(ctx.stateDir, 'returned-azure.vmdk'),
    to: 'vmdk-stream',
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
      ok: rebuilt.sha256 === ctx.originalDiskSha256 && leftovers === 0,
      originalDiskSha256: ctx.originalDiskSha256,
      returnedDiskSha256: rebuilt.sha256,
      leftovers,
      downloadedBytes: download.sizeBytes,
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
      `    ${r.type.padEnd(17)} ${id.padEnd(72)} ${r.removedAt ? 'removed' : r.retained ? 'kept (the download)' : 'LEFT'}`,
    );
  }
  const b = job.bytes;
  log(
    job.target.cloud === 'aws'
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
    // Both clouds at once, as two schedulers would.
    const results = await Promise.all([awsTrip(ctx), azureTrip(ctx)]);
    log('');
    for (const { job } of results) printJob(log, job);
    log('');
    log('round trips (content SHA-256 of the returned disk):');
    log(`  original        ${originalDisk.contentSha256}`);
    for (const { trip } of results) {
      log(
        `  ${trip.cloud.padEnd(5)} ${trip.ok ? 'identical' : 'DIFFERENT'} ${trip.returnedDiskSha256}  ` +
          `(${trip.cloud === 'aws' ? 'OVA' : 'delta'} downloaded: ${fmtBytes(trip.downloadedBytes)}; resources left: ${trip.leftovers})`,
      );
    }
    const elapsedMs = Date.now() - t0;
    const ok = results.every((r) => r.trip.ok);
    log(
      ok
        ? `OK: the VM went to AWS and to Azure and came back bit-identical from both in ${fmtMs(elapsedMs)}`
        : 'FAILED: see above',
    );
    return { ok, trips: results.map((r) => r.trip), elapsedMs };
  } finally {
    await gateway.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
