/**
 * `burstgate schedule prestage <schedule> <image>`: upload a VM's current image into the window its
 * schedule is pre-staging (shared/client/prestage-workflow.ts), with the offload's progress view.
 * For an on-prem cron job: when there is nothing to upload yet, or any more, it says so and exits 0.
 */
import { GatewayClientError } from '../../shared/client/errors';
import { launchLines, leaseLines } from '../../shared/client/leases';
import { prestageImage } from '../../shared/client/prestage-workflow';
import { errorLines, targetText } from '../../shared/client/render';
import { scheduleZone } from '../../shared/client/schedules';
import { formatInstant } from '../../shared/client/times';
import { GATEWAY_OPTIONS, clientFrom, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { CliError, JobOutcome, UsageError } from '../support/errors';
import { interruptible, type Output } from '../support/output';
import { UPLOAD_OPTIONS, imageToUpload, uploadFlags } from '../support/upload-flags';
import { OffloadView } from './offload';

export const PRESTAGE_HELP = `prestage <schedule> <image>: upload the VM's current image into the window being pre-staged
(from the prestage lead before the opening until the closing), then follow its job until it is
staged. Made for an on-prem cron job: with no window being pre-staged, or the image in already,
it says so, reads nothing of the image and exits 0.
  --name VM           which of the schedule's upload VMs the image is of (default: its only one)
  --format F          the image format if the extension does not say
  --incremental       upload only the blocks changed since the VM's cached image (AWS direct)
  --no-hash           do not send the image's SHA-256
  --concurrency N     parts uploaded at once (default 4)
  --no-follow         return once the upload is complete
  --interval S        seconds between status polls (default 2)`;

export async function prestage(args: string[], o: Output, command: Command): Promise<number> {
  const where = 'schedule prestage';
  const { values, positionals } = parse(where, args, {
    ...GATEWAY_OPTIONS,
    ...UPLOAD_OPTIONS,
    name: { type: 'string' },
  });
  if (values.help) return printUsage(o, command);
  const [ref, imageArg, extra] = positionals;
  if (extra !== undefined) throw new UsageError(where, `unexpected argument '${extra}'`);
  if (ref === undefined || imageArg === undefined) {
    throw new UsageError(
      where,
      'missing the schedule and the image (burstgate schedule prestage <schedule> <image>)',
    );
  }
  const upload = uploadFlags(where, imageArg, values);
  const image = await imageToUpload(imageArg, 'pre-stage');
  const client = await clientFrom(o, values);
  const view = new OffloadView(o, imageArg, image.sizeBytes);
  const live = interruptible(o, () => view.interruptedHint());
  let result;
  try {
    result = await prestageImage(client, {
      schedule: ref,
      ...(values.name !== undefined ? { vmName: values.name } : {}),
      image,
      ...upload,
      signal: live.signal,
      onEvent: (e) => view.show(e),
    });
  } catch (e) {
    if (e instanceof GatewayClientError && e.kind === 'schedule-vm') throw new CliError(e.message);
    throw view.failed(e);
  } finally {
    live.dispose();
  }
  const zone = scheduleZone(result.schedule);
  const at = (iso: string): string => formatInstant(iso, zone);
  const name = result.schedule.name;
  if (result.kind === 'not-yet') {
    const next = result.next;
    o.out(
      next
        ? `nothing to upload until ${at(next.prestageAt)}: schedule ${name} pre-stages its window opening ${at(next.opensAt)} from then`
        : `nothing to upload: schedule ${name} has no window ahead (it is ${result.schedule.state})`,
    );
    return 0;
  }
  if (result.kind === 'already-uploaded') {
    const { job, window } = result;
    o.out(
      `${result.vm.vmName}'s image for the window opening ${at(window.opensAt)} is in already: job ${job.jobId} is ${job.state}`,
    );
    return 0;
  }
  const job = result.offload.job;
  const opens = at(result.window.opensAt);
  if (!job) {
    o.out(
      `${result.offload.jobId}: uploaded for the window opening ${opens}; follow it with: burstgate status ${result.offload.jobId} --watch`,
    );
    return 0;
  }
  if (job.state === 'staged' || job.state === 'running') {
    o.out(`${job.jobId} is ${job.state} in ${targetText(job)} for the window opening ${opens}`);
    for (const [k, v] of [...launchLines(job, zone), ...leaseLines(job, zone)]) o.out(`${k}: ${v}`);
    return 0;
  }
  for (const l of job.error ? errorLines(job.error) : [`the job ended ${job.state}`]) o.err(l);
  throw new JobOutcome(job.state);
}
