/** `burstgate offload <image>`: flags → offloadImage (shared/client) → progress bars and lines. */
import { extname } from 'node:path';
import { GatewayClientError } from '../../shared/client/errors';
import { IMAGE_FORMATS, vmNameFromPath } from '../../shared/client/image-file';
import { launchLines, leaseLines } from '../../shared/client/leases';
import { offloadImage, type OffloadEvent, type OffloadStage } from '../../shared/client/offload-workflow';
import { formatBytes, type ProgressBar } from '../../shared/client/progress';
import { errorLines, formatDuration, targetText } from '../../shared/client/render';
import type { ClientJobView, JobTarget } from '../../shared/client/types';
import { isImageError } from '../../shared/images/errors';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, onePositional, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { CliError, JobOutcome, UsageError } from '../support/errors';
import { clock, interruptible, jobPrinter, type Output } from '../support/output';
import { TARGET_OPTIONS, targetFlags } from '../support/target-flags';
import { UPLOAD_OPTIONS, imageToUpload, uploadFlags } from '../support/upload-flags';
import {
  OFFLOAD_LEASE_HELP,
  OFFLOAD_LEASE_OPTIONS,
  launchFlags,
  offloadLease,
  timeFlags,
} from '../support/time-flags';

export const command: Command = {
  usage: `Usage: burstgate offload <image> [--cloud aws|azure] [options]

Creates an offload job, uploads the image (multipart, with progress), completes the upload and
follows the job until it is running (or failed).

  <image>                 .ova, .vmdk (streamOptimized), .vhd (fixed or dynamic), .vhdx, or raw (.img/.raw)
  --cloud aws|azure       target cloud (default aws; --to CLOUD is the older spelling)
  --name NAME             VM name (default: the file name)
  --format F              image format if the extension does not say: ${IMAGE_FORMATS.join(', ')}
  --callback-url URL      the gateway calls it on every state change
  --concurrency N         parts uploaded at once (default 4)
  --no-hash               do not send the file's SHA-256 (saves reading the file twice)
  --no-follow             return once the upload is complete
  --interval S            seconds between status polls (default 2)

AWS (--cloud aws):
  --region R              target region (default us-east-1)
  --instance-type T       EC2 instance type (default t3.medium)
  --mode direct|import    direct: EBS direct APIs (blocks into a snapshot, an AMI; comes back as
                          the changed blocks); import: VM Import (comes back as an OVA). Default:
                          the gateway decides from the guest OS in the OVF (README)
  --incremental           upload only the 512 KiB blocks that differ from the VM's image the
                          gateway cached at its last direct offload (same --name and --region):
                          the blocks are hashed here against the cached block manifest and sent as
                          a delta. Implies --mode direct; without a cached image the whole image
                          goes (and becomes the cached one)

Azure (--cloud azure):
  --location L            Azure region, e.g. westeurope (required)
  --vm-size S             VM size, e.g. Standard_D2s_v3 (required)
  --resource-group G      resource group for the job's resources (default: the gateway's)

Keep the image: an Azure VM, and an AWS VM offloaded by the direct path, come back as a delta (what
changed), which \`burstgate return --base <image>\` applies to it.

Launch (default: as soon as the image is in):
  --launch-at T           stage the VM (image in the cloud, nothing running) and launch it at T;
                          following stops once it is staged
  --hold                  stage it and launch it on \`burstgate launch <job>\`

${OFFLOAD_LEASE_HELP}
${GATEWAY_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('offload', args, {
      ...GATEWAY_OPTIONS,
      ...TARGET_OPTIONS,
      ...UPLOAD_OPTIONS,
      'launch-at': { type: 'string' },
      hold: { type: 'boolean' },
      name: { type: 'string' },
      'callback-url': { type: 'string' },
      ...OFFLOAD_LEASE_OPTIONS,
    });
    if (values.help) return printUsage(o, command);
    const imageArg = onePositional(
      'offload',
      positionals,
      'the image file (burstgate offload <image> --cloud aws|azure)',
    );
    let target = targetFlags('offload', values);
    if (values.incremental) {
      if (target.cloud !== 'aws' || target.mode === 'import') {
        throw new UsageError(
          'offload',
          '--incremental puts changed blocks on top of the cached EBS snapshot: it needs --cloud aws and --mode direct (or no --mode)',
        );
      }
      target = { ...target, mode: 'direct' };
    }
    const upload = uploadFlags('offload', imageArg, values);
    const times = timeFlags('offload', o, values.tz);
    const lease = offloadLease(times, values);
    const launch = launchFlags(times, values);

    const image = await imageToUpload(imageArg, 'offload');
    const client = await clientFrom(o, values);
    const vmName = values.name ?? vmNameFromPath(image.path);
    const view = new OffloadView(o, imageArg, image.sizeBytes);
    const live = interruptible(o, () => view.interruptedHint());
    try {
      const result = await offloadImage(client, {
        image,
        ...upload,
        vmName,
        target,
        ...(values['callback-url'] ? { callbackUrl: values['callback-url'] } : {}),
        ...(lease ? { lease } : {}),
        ...(launch ? { launch } : {}),
        signal: live.signal,
        onEvent: (e) => view.show(e),
      });
      const job = result.job;
      if (!job) {
        o.out(`follow it with: burstgate status ${result.jobId} --watch`);
        return 0;
      }
      if (job.state === 'staged') {
        o.out(`${job.jobId} is staged in ${targetText(job)}: ${cloudSummary(job)}; nothing runs yet`);
        for (const [k, v] of [...launchLines(job, times.zone), ...leaseLines(job, times.zone)]) {
          o.out(`${k}: ${v}`);
        }
        return 0;
      }
      if (job.state === 'running') {
        o.out(`${job.jobId} is running in ${targetText(job)}: ${cloudSummary(job)}`);
        for (const [k, v] of leaseLines(job, times.zone)) o.out(`${k}: ${v}`);
        o.out(`bring it home with: ${returnHint(job.jobId, job.target, imageArg, vmName)}`);
        return 0;
      }
      for (const l of job.error ? errorLines(job.error) : [`the offload ended ${job.state}`]) o.err(l);
      throw new JobOutcome(job.state);
    } catch (e) {
      throw view.failed(e);
    } finally {
      live.dispose();
    }
  },
};

/** What the offload shows as its events come: a bar per stage on stderr, lines on stdout. */
export class OffloadView {
  private stage: OffloadStage | undefined;
  private jobId: string | undefined;
  private bar: ProgressBar | undefined;
  /** Bytes of what is uploaded: the image, or the delta of changed blocks. */
  private uploadBytes: number;
  private readonly printJob: ReturnType<typeof jobPrinter>;

  constructor(
    private readonly o: Output,
    private readonly imageArg: string,
    private readonly imageBytes: number,
  ) {
    this.uploadBytes = imageBytes;
    this.printJob = jobPrinter(o);
  }

  show(e: OffloadEvent): void {
    const { o } = this;
    switch (e.type) {
      case 'stage':
        // the hash bar only ever shows progress; the others end with a summary line
        if (this.stage === 'hash') this.bar?.abort();
        else this.bar?.finish();
        this.bar = undefined;
        this.stage = e.stage;
        if (e.stage === 'compare') this.bar = o.bar('compare', 1);
        if (e.stage === 'hash') this.bar = o.bar('sha256', this.uploadBytes);
        if (e.stage === 'upload') this.bar = o.bar('upload', this.uploadBytes);
        return;
      case 'progress':
        this.bar?.update(e.done, e.total);
        return;
      case 'compared': {
        this.bar?.finish();
        this.bar = undefined;
        const c = e.comparison;
        if (c.kind === 'whole') {
          o.out(`--incremental: ${c.reason}; uploading the whole image`);
          return;
        }
        const s = c.summary;
        this.uploadBytes = c.sizeBytes;
        o.out(
          `--incremental: ${s.dataBlocks} changed and ${s.zeroBlocks} zeroed block(s) of 512 KiB against ` +
            `${c.cached.snapshotId} (cached by ${c.cached.jobId}); uploading ` +
            `${formatBytes(c.sizeBytes)} instead of ${formatBytes(this.imageBytes)}`,
        );
        return;
      }
      case 'created':
        this.jobId = e.jobId;
        o.out(
          `${e.jobId}: offloading ${e.vmName} (${e.upload.format}, ${formatBytes(e.upload.sizeBytes)}) to ${targetText(e)}`,
        );
        return;
      case 'uploaded':
        o.out(`${clock()}  upload complete (${e.parts} part(s))`);
        return;
      case 'job':
        this.printJob(e.job, e.previous);
        return;
    }
  }

  /** Ctrl-C: what is left where. */
  interruptedHint(): string {
    const id = this.jobId;
    if (id === undefined) return 'interrupted: nothing was created on the gateway';
    if (this.stage === 'follow')
      return `stopped following ${id}; it goes on: \`burstgate status ${id} --watch\``;
    return `interrupted: job ${id} waits for its upload; remove it with \`burstgate cancel ${id}\``;
  }

  /** The error to report for `e`, said in terms of the stage it stopped. */
  failed(e: unknown): unknown {
    this.bar?.abort();
    this.bar = undefined;
    if (this.stage === 'compare' && isImageError(e)) {
      return new CliError(`cannot compare ${this.imageArg} with the cached image: ${e.message}`);
    }
    if (this.stage === 'upload' && e instanceof GatewayClientError && this.jobId !== undefined) {
      return new CliError(
        e.message,
        `job ${this.jobId} waits for its upload; remove it with \`burstgate cancel ${this.jobId}\``,
      );
    }
    return e;
  }
}

/**
 * The cloud ids worth a glance: EC2's instance and AMI, Azure's VM and managed disk (by name: the
 * last segment of their ARM ids; `status` shows the full ids), else whatever ids the cloud reports.
 */
function cloudSummary(job: ClientJobView): string {
  const c = job.cloud as Record<string, unknown>;
  const armName = (id: unknown): string => String(id).split('/').pop() ?? String(id);
  const known = [
    c.instanceId && `instance ${String(c.instanceId)}`,
    c.amiId && `AMI ${String(c.amiId)}`,
    c.virtualMachineId && `VM ${armName(c.virtualMachineId)}`,
    c.diskId && `disk ${armName(c.diskId)}`,
  ];
  const any = Object.entries(c)
    .filter(([, v]) => typeof v === 'string' && v !== '')
    .map(([k, v]) => `${k} ${String(v)}`);
  const bits = known.some(Boolean) ? known.filter(Boolean) : any;
  const took = job.steps.reduce((n, s) => n + s.durationMs, 0);
  return `${bits.join(', ') || 'no cloud id reported'} (steps took ${formatDuration(took)})`;
}

/**
 * The `return` command to print once an offload runs. An AWS import comes back whole (an OVA);
 * an AWS direct or Azure VM as a delta applied to the offloaded image, so the hint names it as
 * --base and an output that is not the base itself.
 */
export function returnHint(jobId: string, target: JobTarget, image: string, vmName: string): string {
  if (target.cloud === 'aws' && target.mode !== 'direct')
    return `burstgate return ${jobId} --out ${vmName}.ova`;
  return `burstgate return ${jobId} --base ${image} --out ${vmName}-returned${extname(image).toLowerCase() === '.ova' ? '.ova' : '.vmdk'}`;
}
