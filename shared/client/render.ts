/** Plain-text views of jobs for the CLI (no colours: they end up in logs). */
import { launchLines, leaseLines } from './leases';
import { formatBytes } from './progress';
import { UTC, type Zone } from './times';
import type { ClientJobView, JobDownload, JobTarget } from './types';

/** Jobs as the gateway sends them; the target and download may be any the contract allows. */
type JobView = ClientJobView;

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `aws eu-west-1 t3.medium`, `azure westeurope Standard_D2s_v3 (resource group rg-burst)`. */
export function targetText(job: { target: JobTarget }): string {
  const t = job.target;
  switch (t.cloud) {
    case 'aws':
      return `aws ${t.region} ${t.instanceType}`;
    case 'azure':
      return `azure ${t.location} ${t.vmSize}${t.resourceGroup ? ` (resource group ${t.resourceGroup})` : ''}`;
    default:
      // a cloud added to the gateway after this client was built: show what it says
      return Object.values(t as Record<string, unknown>)
        .filter((v) => typeof v === 'string')
        .join(' ');
  }
}

/** The download lines of `burstgate status`: what it is, and for a delta what it applies to. */
export function downloadLines(d: JobDownload, jobId: string): Array<[string, string]> {
  const what = d.format === 'delta' ? 'delta (only what changed in the cloud)' : d.format;
  const lines: Array<[string, string]> = [
    ['download', `${what}, ${formatBytes(d.sizeBytes)}, sha256 ${d.sha256}, expires ${d.expiresAt}`],
  ];
  if (d.format === 'delta') {
    lines.push(['', `applies to the disk with content sha256 ${d.baseDiskSha256 ?? '(not stated)'}`]);
    lines.push(['', `(burstgate return ${jobId} --base <the offloaded image> --out <file> rebuilds it)`]);
  }
  lines.push([
    '',
    `${d.format === 'delta' ? 'result' : 'disk'} content sha256 ${d.diskSha256}${d.matchesOriginal ? ' (identical to the original)' : ' (changed in the cloud)'}`,
  ]);
  return lines;
}

export function stepLine(step: JobView['steps'][number]): string {
  const mark = step.outcome === 'succeeded' ? 'ok  ' : 'FAIL';
  return `${mark} ${step.name.padEnd(12)} ${formatDuration(step.durationMs).padStart(9)}${step.detail ? `  ${step.detail}` : ''}`;
}

export function errorLines(error: NonNullable<JobView['error']>): string[] {
  return [
    `error: ${error.title} (${error.type}${error.step ? `, during ${error.step}` : ''})`,
    `  ${error.detail}`,
  ];
}

/** The full `burstgate status` view; lease times in UTC and `zone` (default: UTC only). */
export function renderJob(job: JobView, opts: { zone?: Zone; now?: Date } = {}): string {
  const lines: string[] = [];
  const kv = (k: string, v: string): void => void lines.push(`  ${k.padEnd(10)} ${v}`);
  lines.push(`${job.jobId}  ${job.vmName}  ${job.state}${job.activeStep ? ` (${job.activeStep.name})` : ''}`);
  kv('target', targetText(job));
  kv('created', job.createdAt);
  kv('updated', job.updatedAt);
  const img = job.image;
  let image = `${img.format}, ${formatBytes(img.sizeBytes)}`;
  if (img.sha256) image += `, sha256 ${img.sha256}`;
  kv('image', image);
  if (img.diskCapacityBytes !== undefined || img.diskSha256) {
    const parts = [];
    if (img.diskCapacityBytes !== undefined) parts.push(formatBytes(img.diskCapacityBytes));
    if (img.partitionTable) parts.push(img.partitionTable);
    if (img.diskSha256) parts.push(`content sha256 ${img.diskSha256}`);
    kv('disk', parts.join(', '));
  }
  if (job.hardware) {
    const h = job.hardware;
    kv(
      'hardware',
      `${h.vcpus} vCPU, ${h.memoryMiB} MiB, ${h.firmware}, ${h.disks.length} disk(s), ${h.nics.length} NIC(s)`,
    );
  }
  const cloud = Object.entries(job.cloud)
    .filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`);
  if (cloud.length) kv('cloud', cloud.join(', '));
  const bytes = [`uploaded ${formatBytes(job.bytes.uploaded)}`];
  if (job.bytes.imported !== undefined) bytes.push(`imported ${formatBytes(job.bytes.imported)}`);
  if (job.bytes.exported !== undefined) bytes.push(`exported ${formatBytes(job.bytes.exported)}`);
  kv('bytes', bytes.join(', '));
  for (const [k, v] of launchLines(job, opts.zone ?? UTC, opts.now)) kv(k, v);
  for (const [k, v] of leaseLines(job, opts.zone ?? UTC, opts.now)) kv(k, v);
  if (job.steps.length) {
    lines.push('  steps');
    for (const s of job.steps) lines.push(`    ${stepLine(s)}`);
  }
  if (job.resources.length) {
    lines.push('  resources');
    for (const r of job.resources) {
      // A retained s3-object is the download; a retained snapshot or AMI belongs to the image cache.
      const kept = r.type === 's3-object' ? 'kept (the download)' : 'kept (the image cache)';
      const fate = r.removedAt ? `removed ${r.removedAt}` : r.retained ? kept : 'exists';
      lines.push(`    ${r.type.padEnd(16)} ${r.id}  (${r.location})  ${fate}`);
    }
  }
  if (job.error) lines.push(...errorLines(job.error).map((l) => `  ${l}`));
  if (job.download) for (const [k, v] of downloadLines(job.download, job.jobId)) kv(k, v);
  return lines.join('\n');
}

/** Lines of a table: each column as wide as its widest cell, two spaces between, `indent` before. */
export function columns(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  indent = '',
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]): string =>
    indent +
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

/** One line per job for `burstgate list`. */
export function renderJobTable(jobs: JobView[]): string {
  if (jobs.length === 0) return 'no jobs';
  const rows = jobs.map((j) => [j.jobId, j.state, j.vmName, targetText(j), j.updatedAt]);
  return columns(['JOB', 'STATE', 'VM', 'TARGET', 'UPDATED'], rows).join('\n');
}
