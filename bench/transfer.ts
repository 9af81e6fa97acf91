/**
 * `npm run bench:transfer` — what the AWS fast path moves, measured in one run on the embedded
 * deployment (real bytes through s3rver and the AWS simulator's EBS direct APIs):
 *   1. direct offload: bytes put into EBS / the image's allocated bytes            (target ≤ 1.02)
 *   2. the guest changes 1 % of the disk; return: bytes read from EBS / disk size   (target ≤ 0.02)
 *   3. re-offload of the returned image (`--incremental`): bytes uploaded and put into EBS / disk size
 *      (target ≤ 0.02; the whole image, re-offloaded the way that does not use the cache's manifest,
 *      shown beside it)
 *   4. time from upload-complete to running, direct vs VM Import, on the same image.
 *
 * The image: a 1 GiB disk (MBR, one Linux partition) holding 256 MiB of random data in extents of
 * 1-8 MiB at 1 MiB boundaries, as a file system lays out large files, shipped as a streamOptimized
 * VMDK (so "allocated" is exact: the grains that hold data). The guest's change: 10 writes of 1 MiB
 * at 4 KiB-aligned places (files being rewritten), 1 % of the disk; EBS moves whole 512 KiB blocks,
 * so up to 3 blocks per write.
 *
 * Time: the simulator's fixed latencies are AWS's (as assumed: VM Import at least 10 minutes — "10
 * minutes to over an hour even for tiny images" — as 5 phases of 2 min, a snapshot completing in
 * 30 s, an instance starting in 30 s) scaled 1:100, while data moves at this machine's speed (the
 * upload to staging and the EBS blocks alike). The table also shows each path's time with AWS's
 * latencies put back in place of the simulated ones it waited for (import: 5 phases and the
 * instance start; direct: the snapshot's completion and the instance start). Printed with the table.
 *
 * Options: --keep (leave the work directory).
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayClient } from '../shared/client/api-client';
import { downloadImage } from '../shared/client/download';
import { followJob } from '../shared/client/follow';
import { prepareIncrementalUpload } from '../shared/client/incremental';
import { uploadImage } from '../shared/client/upload';
import type { JobView } from '../shared/domain/view';
import { rebuildFromDelta } from '../shared/images';
import {
  AWS_LATENCY_MS,
  DISK,
  KiB,
  MiB,
  SCALE,
  TIMING,
  importWaits,
  lcg,
  makeImage,
  min,
  printTable,
  runBench,
  randomStream,
  sec,
  type Latencies,
} from './support';

interface Offloaded {
  job: JobView;
  toRunningMs: number;
}

async function offload(
  client: GatewayClient,
  image: string,
  mode: 'direct' | 'import',
  imageFormat: 'vmdk' | 'delta' = 'vmdk',
): Promise<Offloaded> {
  const created = await client.createOffload(
    {
      vmName: 'bench-transfer',
      imageFormat,
      imageSizeBytes: (await stat(image)).size,
      target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium', mode },
    },
    randomUUID(),
  );
  const parts = await uploadImage(image, created.upload);
  const t0 = Date.now();
  await client.completeUpload(created.jobId, parts);
  const job = await followJob(client, created.jobId, {
    until: (j) => ['running', 'failed', 'cancelled'].includes(j.state),
    intervalMs: 20,
  });
  if (job.state !== 'running') throw new Error(`${mode} offload ended ${job.state}: ${job.error?.detail}`);
  return { job, toRunningMs: Date.now() - t0 };
}

runBench('transfer', async ({ dir, gw, client, log }) => {
  const image = await makeImage(dir, log);

  // 1. direct offload
  log('direct offload...');
  const direct = await offload(client, image, 'direct');
  const allocated = direct.job.bytes.allocated ?? 0;
  const uploaded = direct.job.bytes.ebsBytesWritten ?? 0;

  // 2. the guest changes 1 %; return of the changed blocks
  const next = lcg(11);
  const fill = randomStream(2);
  let changed = 0;
  for (let i = 0; i < 10; i++) {
    const data = Buffer.alloc(MiB);
    fill(data);
    const offset = (1 + next(DISK / (4 * KiB) - 1 - MiB / (4 * KiB))) * 4 * KiB;
    await gw.sim.writeDisk(direct.job.cloud.instanceId!, offset, data);
    changed += data.length;
  }
  log(`the guest changed ${changed / MiB} MiB; return...`);
  await client.startReturn(direct.job.jobId);
  const returned = await followJob(client, direct.job.jobId, {
    until: (j) => ['returned', 'return-failed'].includes(j.state),
    intervalMs: 20,
  });
  if (returned.state !== 'returned' || !returned.download) throw new Error(`return ended ${returned.state}`);
  const readBack = returned.bytes.exported ?? 0;
  const delta = join(dir, 'back.bgdelta');
  await downloadImage(returned.download.url, delta, { expectedSha256: returned.download.sha256 });
  const back = join(dir, 'back.vmdk');
  const rebuilt = await rebuildFromDelta({ base: image, delta, out: back, to: 'vmdk-stream' });
  if (rebuilt.sha256 !== returned.download.diskSha256)
    throw new Error('the rebuilt disk is not the returned one');

  // 3. re-offload of the returned image, incrementally: the CLI's delta of the blocks that differ
  // from the cached snapshot, a child of that snapshot
  log('incremental re-offload of the returned image...');
  const compareStarted = Date.now();
  const incremental = await prepareIncrementalUpload(client, {
    imagePath: back,
    region: 'us-east-1',
    vmName: 'bench-transfer',
  });
  if (incremental.kind !== 'delta') throw new Error(`no incremental re-offload: ${incremental.reason}`);
  const compareMs = Date.now() - compareStarted;
  const again = await offload(client, incremental.path, 'direct', 'delta').finally(() =>
    incremental.dispose(),
  );
  const reUploaded = again.job.bytes.ebsBytesWritten ?? 0;
  const reSent = again.job.image.sizeBytes;
  await client.cancel(again.job.jobId);

  // 4. the same image by VM Import
  log('VM Import offload of the same image...');
  const imported = await offload(client, image, 'import');
  await client.cancel(imported.job.jobId);

  // Each path's time with AWS's own latencies: what was measured, with the simulated latencies the
  // path waited for replaced by AWS's (the simulator's timings are inputs; the rest is data time).
  const directWaits = (t: Latencies) => t.snapshotMs + t.instanceStartMs;
  const awsDirect = direct.toRunningMs - directWaits(TIMING) + directWaits(AWS_LATENCY_MS);
  const awsImport = imported.toRunningMs - importWaits(TIMING) + importWaits(AWS_LATENCY_MS);

  const rows: Array<[string, string, string, string]> = [
    [
      'direct offload: put into EBS / allocated',
      `${(uploaded / MiB).toFixed(2)} MiB / ${(allocated / MiB).toFixed(2)} MiB`,
      (uploaded / allocated).toFixed(4),
      `≤ 1.02 ${uploaded / allocated <= 1.02 ? 'met' : 'NOT met'}`,
    ],
    [
      `return, ${((100 * changed) / DISK).toFixed(2)} % changed: read from EBS / disk`,
      `${(readBack / MiB).toFixed(2)} MiB / ${DISK / MiB} MiB`,
      (readBack / DISK).toFixed(4),
      `≤ 0.02 ${readBack / DISK <= 0.02 ? 'met' : 'NOT met'}`,
    ],
    [
      're-offload (--incremental): uploaded / disk',
      `${(reSent / MiB).toFixed(2)} MiB / ${DISK / MiB} MiB (the image: ${((await stat(back)).size / MiB).toFixed(1)} MiB)`,
      (reSent / DISK).toFixed(4),
      `≤ 0.02 ${reSent / DISK <= 0.02 ? 'met' : 'NOT met'}`,
    ],
    [
      're-offload (--incremental): put into EBS / disk',
      `${(reUploaded / MiB).toFixed(2)} MiB / ${DISK / MiB} MiB (${again.job.cloud.imageCache?.outcome ?? '?'})`,
      (reUploaded / DISK).toFixed(4),
      `≤ 0.02 ${reUploaded / DISK <= 0.02 ? 'met' : 'NOT met'}`,
    ],
    [
      `upload-complete → running, latencies 1:${SCALE}: direct vs VM Import`,
      `${sec(direct.toRunningMs)} vs ${sec(imported.toRunningMs)}`,
      `${(imported.toRunningMs / direct.toRunningMs).toFixed(2)}×`,
      'measured',
    ],
    [
      '  with AWS latencies in place of the simulated ones',
      `${min(awsDirect)} vs ${min(awsImport)}`,
      `${(awsImport / awsDirect).toFixed(1)}× faster`,
      'extrapolated',
    ],
  ];
  printTable(['measure', 'bytes / time', 'ratio', 'target'], rows);
  const steps = (j: JobView) =>
    j.steps.map((st) => `${st.name} ${(st.durationMs / 1000).toFixed(2)} s`).join(', ');
  process.stdout.write(`direct steps: ${steps(direct.job)}\nVM Import steps: ${steps(imported.job)}\n`);
  process.stdout.write(
    `AWS latencies assumed (ms): ${JSON.stringify(AWS_LATENCY_MS)}, simulated at 1:${SCALE}; incremental re-offload: comparing the local disk with the cached manifest and writing the delta took ${sec(compareMs)}\n`,
  );
});
