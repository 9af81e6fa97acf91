/** `burstgate return <job-id> --out <file>`: flags → returnJob (shared/client) → progress and lines. */
import { resolve } from 'node:path';
import { GatewayClientError } from '../../shared/client/errors';
import { checkBaseFile, checkOutputFile } from '../../shared/client/image-file';
import { formatBytes, type ProgressBar } from '../../shared/client/progress';
import { errorLines } from '../../shared/client/render';
import {
  RETURN_OUTPUT_FORMATS,
  outputFormatFor,
  type FetchedReturnedImage,
  type ReturnOutputFormat,
} from '../../shared/client/returned-image';
import { returnJob, type ReturnEvent, type ReturnStage } from '../../shared/client/return-workflow';
import type { JobDownload } from '../../shared/client/types';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, intervalMs, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { JobOutcome, UsageError } from '../support/errors';
import { clock, interruptible, jobPrinter, type Output } from '../support/output';

export const command: Command = {
  usage: `Usage: burstgate return <job-id> --out <file> [--base <original image>] [--to FORMAT] [--force]

Starts the return (stop → export → publish → clean up), follows it until the image is back in
staging, then downloads and verifies it. Running it again after a failed download just downloads
again.

What comes back depends on how the VM went out: the whole VM as an OVA (AWS by VM Import), or a
delta holding only what the VM changed in the cloud (Azure's changed pages; AWS direct, --mode
direct: the changed 512 KiB EBS blocks), which is applied to the image that was offloaded
(--base). Either way FILE appears only once complete and verified; on any failure nothing is left
behind.

  --out FILE      where to write the returned image
  --base IMAGE    the image that was offloaded (the file given to \`burstgate offload\`); needed
                  when the job comes back as a delta of changes (not for a full-disk fallback);
                  its disk is checked before anything is downloaded (and, when the gateway knows
                  the offloaded disk, before the return starts)
  --to FORMAT     what to write: ${RETURN_OUTPUT_FORMATS.join(', ')}
                  default: ova when FILE ends in .ova, else vmdk-stream (a streamOptimized VMDK)
  --force         overwrite FILE if it exists
  --interval S    seconds between status polls (default 2)
${GATEWAY_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('return', args, {
      ...GATEWAY_OPTIONS,
      out: { type: 'string', short: 'o' },
      base: { type: 'string' },
      to: { type: 'string' },
      force: { type: 'boolean' },
      interval: { type: 'string' },
    });
    if (values.help) return printUsage(o, command);
    const id = onePositional('return', positionals, 'the job id (burstgate return <job-id> --out <file>)');
    if (!values.out) {
      throw new UsageError(
        'return',
        'missing --out <file>: where to write the returned image (.ova for an OVA, else a streamOptimized VMDK)',
      );
    }
    const to = values.to ?? outputFormatFor(values.out);
    if (!(RETURN_OUTPUT_FORMATS as readonly string[]).includes(to)) {
      throw new UsageError('return', `--to must be one of ${RETURN_OUTPUT_FORMATS.join(', ')}, not '${to}'`);
    }
    const interval = intervalMs('return', values.interval);
    const outPath = resolve(values.out);
    const basePath = values.base !== undefined ? resolve(values.base) : undefined;
    if (basePath === outPath) {
      throw new UsageError(
        'return',
        `--out ${values.out} is the --base image: the delta is applied to it, so write the result to another file`,
      );
    }
    await checkOutputFile(outPath, { force: values.force === true });
    if (basePath !== undefined) await checkBaseFile(basePath);
    const client = await clientFrom(o, values);
    const retry = [
      `burstgate return ${id}`,
      ...(values.base !== undefined ? [`--base ${values.base}`] : []),
      `--out ${values.out}`,
    ].join(' ');

    const view = new ReturnView(o, id, outPath, basePath, to);
    const live = interruptible(o, () => view.interruptedHint(retry));
    try {
      const result = await returnJob(client, {
        jobId: id,
        out: values.out,
        to: to as ReturnOutputFormat,
        ...(values.base !== undefined ? { base: values.base } : {}),
        intervalMs: interval,
        signal: live.signal,
        onEvent: (e) => view.show(e),
      });
      view.done();
      if (!result.returned) {
        const { job } = result;
        for (const l of job.error ? errorLines(job.error) : [`the return ended ${job.state}`]) o.err(l);
        if (job.state === 'return-failed') o.err(`the VM is kept so nothing is lost; retry with: ${retry}`);
        throw new JobOutcome(job.state);
      }
      printReturned(o, result.image, result.download);
      return 0;
    } catch (e) {
      view.abort();
      // a delta of changes and no base: known once the return is done, so a re-run only downloads
      if (e instanceof GatewayClientError && e.kind === 'base-required') {
        throw new UsageError('return', `${e.message} (the return is done: running it again only downloads)`);
      }
      throw e;
    } finally {
      live.dispose();
    }
  },
};

const BAR_LABELS: Record<string, string> = { base: 'base sha256', download: 'download', convert: 'convert' };

/**
 * What the return shows as its events come: one progress bar at a time on stderr (base hash,
 * download, conversion; a new phase ends the previous bar with its summary line), lines on stdout.
 */
class ReturnView {
  private stage: ReturnStage | undefined;
  private bar: ProgressBar | undefined;
  private phase: string | undefined;
  private readonly printJob: ReturnType<typeof jobPrinter>;

  constructor(
    private readonly o: Output,
    private readonly jobId: string,
    private readonly outPath: string,
    private readonly basePath: string | undefined,
    private readonly to: string,
  ) {
    this.printJob = jobPrinter(o);
  }

  show(e: ReturnEvent): void {
    const { o } = this;
    switch (e.type) {
      case 'stage':
        this.stage = e.stage;
        return;
      case 'phase':
        this.done();
        this.phase = e.phase;
        if (e.phase === 'rebuild') {
          o.err(
            `rebuilding ${this.outPath} (${this.to}) from ${this.basePath ?? 'an empty disk'} and the delta`,
          );
        }
        return;
      case 'progress':
        if (e.phase !== this.phase) {
          this.done();
          this.phase = e.phase;
        }
        this.bar ??= o.bar(BAR_LABELS[e.phase] ?? e.phase, e.total ?? 0);
        this.bar.update(e.done, e.total);
        return;
      case 'base-measured':
        this.done();
        return;
      case 'base-checked':
        o.out(`${clock()}  base ${e.base.path}: disk content sha256 ${e.base.sha256} (the offloaded disk)`);
        return;
      case 'started':
        o.out(`${clock()}  ${this.jobId}: ${e.state}`);
        return;
      case 'resumed':
        o.out(`${clock()}  ${this.jobId} is already ${e.state}`);
        return;
      case 'job':
        this.printJob(e.job, e.previous);
        return;
      case 'base-unused':
        o.err(`note: ${this.jobId} came back as a whole OVA; --base is not needed and was not used`);
        return;
    }
  }

  interruptedHint(retry: string): string {
    const { jobId } = this;
    if (this.stage === 'follow') {
      return `stopped following ${jobId}; the return goes on: \`burstgate status ${jobId} --watch\``;
    }
    if (this.stage === 'fetch') {
      return `interrupted: nothing was kept; the image stays in staging: run \`${retry}\` again`;
    }
    return 'interrupted: nothing was changed';
  }

  /** The current bar ends with its summary line. */
  done(): void {
    this.bar?.finish();
    this.bar = undefined;
  }

  /** The current bar is cleared without a summary (on failure). */
  abort(): void {
    this.bar?.abort();
    this.bar = undefined;
  }
}

function printReturned(o: Output, r: FetchedReturnedImage, d: JobDownload): void {
  const { out } = o;
  const original = d.matchesOriginal
    ? 'identical to the disk that was offloaded'
    : 'the disk changed in the cloud';
  if (r.source === 'ova' && r.format === 'ova') {
    out(`returned image: ${r.path}`);
    out(`  size          ${formatBytes(r.outputBytes)} (${r.outputBytes} bytes)`);
    out(`  sha256        ${r.downloadSha256} (verified)`);
    out(`  disk sha256   ${d.diskSha256} (${original})`);
    return;
  }
  out(`returned image: ${r.path} (${r.format}, ${formatBytes(r.outputBytes)})`);
  if (r.delta) {
    const x = r.delta;
    out(
      `  delta         ${formatBytes(r.downloadedBytes)} downloaded (${r.downloadedBytes} bytes), sha256 ${r.downloadSha256} (verified)`,
    );
    const onto = x.base
      ? `to ${x.base} (${x.baseFormat})`
      : 'to an empty disk (the gateway sent the whole disk: no base existed in the cloud)';
    out(
      `  applied       ${x.extents} extent(s) ${onto}: ${formatBytes(x.bytesApplied)} of data (${x.bytesApplied} bytes), ${formatBytes(x.zeroBytes)} zeroed`,
    );
  } else {
    out(
      `  downloaded    OVA, ${formatBytes(r.downloadedBytes)} (${r.downloadedBytes} bytes), sha256 ${r.downloadSha256} (verified), converted to ${r.format}`,
    );
  }
  out(`  disk sha256   ${r.diskSha256 ?? d.diskSha256} (verified: the disk the gateway returned)`);
  out(`  original      ${original}`);
}
