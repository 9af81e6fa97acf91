/**
 * `burstgate demo` (what `npm start` runs): the whole loop on the embedded deployment. Starts it
 * in a temporary directory, offloads the project's sample VM to simulated AWS through the HTTP
 * API, returns it, checks the returned disk's content SHA-256 against the original's, checks the
 * simulator holds nothing the job created, prints a summary, and exits 0 only if all of that held.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { inspectOva } from '../../shared/images';
import { GatewayClient } from '../../shared/client/api-client';
import { uploadImage } from '../../shared/client/upload';
import { followJob } from '../../shared/client/follow';
import { downloadImage } from '../../shared/client/download';
import type { JobView } from '../../shared/domain/view';
import { startEmbedded } from './embedded';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
export const SAMPLE_OVA = join(ROOT, 'test/fixtures/sample-vm/burstgate-sample.ova');

const fmtBytes = (n: number) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms} ms`);

export interface DemoResult {
  ok: boolean;
  jobId: string;
  originalDiskSha256: string;
  returnedDiskSha256: string;
  leftovers: number;
  elapsedMs: number;
}

export async function runDemo(
  opts: { image?: string; log?: (line: string) => void } = {},
): Promise<DemoResult> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const image = opts.image ?? SAMPLE_OVA;
  const t0 = Date.now();
  const stateDir = await mkdtemp(join(tmpdir(), 'burstgate-demo-'));
  const gateway = await startEmbedded({ stateDir, quiet: true });
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

    const client = new GatewayClient({ baseUrl: gateway.apiUrl, apiKey: gateway.apiKey });
    const created = await client.createOffload(
      {
        vmName: original.hardware.vmName,
        imageFormat: 'ova',
        imageSizeBytes: size,
        target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
      },
      randomUUID(),
    );
    const jobId = created.jobId;
    log(`offload ${jobId}: uploading ${fmtBytes(size)} in ${created.upload.parts.length} part(s)`);
    const parts = await uploadImage(image, created.upload);
    await client.completeUpload(jobId, parts);

    const onUpdate = (job: JobView, prev?: JobView) => {
      if (job.state !== prev?.state) log(`  ${jobId} → ${job.state}`);
    };
    const running = await followJob(client, jobId, {
      until: (j) => ['running', 'failed', 'cancelled'].includes(j.state),
      intervalMs: 100,
      onUpdate,
    });
    if (running.state !== 'running')
      throw new Error(`the offload ended ${running.state}: ${running.error?.detail}`);
    log(`  running as ${running.cloud.instanceId} from ${running.cloud.amiId}`);

    await client.startReturn(jobId);
    const returned = await followJob(client, jobId, {
      until: (j) => ['returned', 'return-failed', 'failed', 'cancelled'].includes(j.state),
      intervalMs: 100,
      onUpdate,
    });
    if (returned.state !== 'returned' || !returned.download) {
      throw new Error(`the return ended ${returned.state}: ${returned.error?.detail}`);
    }
    const out = join(stateDir, 'returned.ova');
    await downloadImage(returned.download.url, out, { expectedSha256: returned.download.sha256 });
    // Check the content ourselves rather than trusting the gateway's word for it.
    const back = await inspectOva(createReadStream(out));
    const returnedDiskSha256 = back.disks[0]?.contentSha256 ?? '';
    // Terminated instances pass through `shutting-down`; give that a moment before counting.
    let leftoverCount = 0;
    for (let i = 0; i < 50; i++) {
      leftoverCount = Object.values(gateway.sim.resources()).flat().length;
      if (leftoverCount === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ok = returnedDiskSha256 === originalDisk.contentSha256 && leftoverCount === 0;

    log('');
    log(`steps of ${jobId}:`);
    for (const s of returned.steps) {
      log(
        `  ${s.name.padEnd(8)} ${s.outcome.padEnd(9)} ${fmtMs(s.durationMs).padStart(9)}  ${s.detail ?? ''}`,
      );
    }
    log('cloud and staging resources (created → removed):');
    for (const r of returned.resources) {
      log(
        `  ${r.type.padEnd(16)} ${r.id.padEnd(48)} ${r.removedAt ? 'removed' : r.retained ? 'kept (the download)' : 'LEFT'}`,
      );
    }
    log(
      `bytes: uploaded ${fmtBytes(returned.bytes.uploaded)}, imported ${fmtBytes(returned.bytes.imported ?? 0)}, ` +
        `exported ${fmtBytes(returned.bytes.exported ?? 0)}`,
    );
    log(`returned image: ${fmtBytes(returned.download.sizeBytes)}, SHA-256 ${returned.download.sha256}`);
    log(`original disk content SHA-256 ${originalDisk.contentSha256}`);
    log(`returned disk content SHA-256 ${returnedDiskSha256}`);
    log(`simulator resources left behind: ${leftoverCount}`);
    const elapsedMs = Date.now() - t0;
    log(
      ok ? `OK: the VM went to AWS and came back bit-identical in ${fmtMs(elapsedMs)}` : 'FAILED: see above',
    );
    return {
      ok,
      jobId,
      originalDiskSha256: originalDisk.contentSha256,
      returnedDiskSha256,
      leftovers: leftoverCount,
      elapsedMs,
    };
  } finally {
    await gateway.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}
