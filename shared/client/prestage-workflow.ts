/**
 * `burstgate schedule prestage` as a workflow: upload a VM's current image into the burst window
 * its schedule is pre-staging, so that the VM is staged (image in the cloud, nothing running) when
 * the window opens. Made to run from an on-prem cron job every few minutes: when no window is being
 * pre-staged, or this VM's image for it is in already, it says so and uploads nothing (and reads
 * nothing of the image). Otherwise it is the offload workflow (offload-workflow.ts) with the job
 * made by POST /schedules/{id}/prestage, incremental against the VM's cached image when asked.
 */
import type { GatewayClient } from './api-client';
import { GatewayClientError } from './errors';
import { offloadImage, type OffloadOptions, type OffloadResult } from './offload-workflow';
import type { CreatedOffload, JobView, PrestagedUpload, ScheduleView, WindowView } from './types';

type ScheduledVm = ScheduleView['vms'][number];
type HandledWindow = ScheduleView['occurrences'][number];

export interface PrestageOptions extends Omit<
  OffloadOptions,
  'vmName' | 'target' | 'create' | 'lease' | 'launch' | 'callbackUrl'
> {
  /** The schedule's id or name. */
  schedule: string;
  /** The VM of the schedule the image is of; may be left out when the schedule uploads one VM only. */
  vmName?: string;
}

export type PrestageResult =
  /** The image went up into `window`'s job. */
  | {
      kind: 'uploaded';
      schedule: ScheduleView;
      vm: ScheduledVm;
      window: PrestagedUpload['window'];
      offload: OffloadResult;
    }
  /** No window is being pre-staged: the next one's prestage opens at `next.prestageAt` (none: no window ahead). */
  | { kind: 'not-yet'; schedule: ScheduleView; vm: ScheduledVm; next?: WindowView; detail?: string }
  /** This VM's image for the window being pre-staged is in already: its job is past its upload. */
  | {
      kind: 'already-uploaded';
      schedule: ScheduleView;
      vm: ScheduledVm;
      window: HandledWindow;
      job: JobView;
    };

export async function prestageImage(client: GatewayClient, opts: PrestageOptions): Promise<PrestageResult> {
  const schedule = await client.getSchedule(opts.schedule, 1);
  const vm = uploadVm(schedule, opts.vmName);
  if (opts.incremental && (vm.target.cloud !== 'aws' || vm.target.mode !== 'direct')) {
    throw new GatewayClientError(
      'schedule-vm',
      `VM ${vm.vmName} of schedule ${schedule.name} runs on ${vm.target.cloud}${vm.target.cloud === 'aws' ? ` (mode ${vm.target.mode ?? 'chosen by the gateway'})` : ''}: ` +
        'an incremental upload needs an AWS direct target; upload the whole image (leave out --incremental)',
    );
  }
  // The gateway records a window when its prestage timer fires, newest first: a window still open
  // there is the one being pre-staged (the gateway's POST has the last word on its clock).
  const window = schedule.occurrences.find(
    (o) => o.status !== 'missed' && Date.parse(o.closesAt) > Date.now(),
  );
  const notYet = (detail?: string): PrestageResult => ({
    kind: 'not-yet',
    schedule,
    vm,
    ...(schedule.next[0] ? { next: schedule.next[0] } : {}),
    ...(detail ? { detail } : {}),
  });
  if (!window) return notYet();
  const existing = window.jobs.find((j) => j.vmName === vm.vmName);
  if (existing) {
    const job = await client.getOffload(existing.jobId);
    if (job.state !== 'awaiting-upload') return { kind: 'already-uploaded', schedule, vm, window, job };
  }
  let answered: PrestagedUpload | undefined;
  const create = async (
    req: Parameters<NonNullable<OffloadOptions['create']>>[0],
  ): Promise<CreatedOffload> => {
    answered = await client.prestageSchedule(schedule.scheduleId, {
      vmName: vm.vmName,
      imageFormat: req.imageFormat,
      imageSizeBytes: req.imageSizeBytes,
      ...(req.imageSha256 ? { imageSha256: req.imageSha256 } : {}),
    });
    if (!answered.upload) throw new UploadedMeanwhile(answered.job);
    return {
      jobId: answered.jobId,
      state: answered.state,
      upload: answered.upload,
      links: answered.job.links,
    };
  };
  try {
    const offload = await offloadImage(client, { ...opts, vmName: vm.vmName, target: vm.target, create });
    return { kind: 'uploaded', schedule, vm, window: answered!.window, offload };
  } catch (e) {
    if (e instanceof UploadedMeanwhile) return { kind: 'already-uploaded', schedule, vm, window, job: e.job };
    if (e instanceof GatewayClientError && e.problemType === 'no-open-prestage') {
      return notYet(e.problem?.detail);
    }
    throw e;
  }
}

/** Another run completed this window's upload between the check and the POST. */
class UploadedMeanwhile extends Error {
  constructor(readonly job: JobView) {
    super(`job ${job.jobId} has its upload already`);
  }
}

/** The schedule's upload VM `vmName`, or its only one. */
function uploadVm(schedule: ScheduleView, vmName: string | undefined): ScheduledVm {
  const uploads = schedule.vms.filter((v) => v.source === 'upload');
  const names = uploads.map((v) => v.vmName).join(', ') || 'none';
  if (vmName === undefined) {
    if (uploads.length === 1) return uploads[0]!;
    throw new GatewayClientError(
      'schedule-vm',
      uploads.length === 0
        ? `schedule ${schedule.name} uploads no VM's image (its VMs come from the image cache): there is nothing to pre-stage`
        : `schedule ${schedule.name} uploads the images of ${names}: say which this one is (--name VM)`,
    );
  }
  const vm = uploads.find((v) => v.vmName === vmName);
  if (!vm) {
    throw new GatewayClientError(
      'schedule-vm',
      `schedule ${schedule.name} has no VM ${vmName} whose image is uploaded (its upload VMs: ${names})`,
    );
  }
  return vm;
}
