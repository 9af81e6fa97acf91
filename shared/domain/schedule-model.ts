/**
 * A schedule: recurring (or one-off) burst windows in a time zone. Each occurrence is a window of
 * one or more VMs, one job per VM, launched at the opening and home by the closing. Like job.ts,
 * the model only: the stores keep it, shared/domain/windows/ says what it does.
 */
import type { JobTarget } from './job';

/** Where a window's VM comes from when its occurrence is pre-staged. */
export type WindowSource =
  /** The VM's cached image (AWS direct): the gateway stages it itself, nothing is uploaded. */
  | 'image-cache'
  /** The on-prem side uploads the current image (`burstgate schedule prestage`) once the prestage opens. */
  | 'upload';

export interface ScheduledVm {
  vmName: string;
  /** As a job keeps it (an Azure target's resource group resolved). */
  target: JobTarget;
  source: WindowSource;
}

/** When windows open: a cron expression in a zone, or one instant. */
export type WindowSpec =
  | { cron: string; timeZone: string }
  /** One window; `timeZone` only says how to show its times (default UTC). */
  | { at: string; timeZone: string };

/**
 * How long a window stays open. `duration`: elapsed time (a 60 h window closes 60 h after it
 * opened, whatever the clocks do). `closesAfter`: wall-clock time in the window's zone (a window
 * opening Friday 18:00 with closesAfter 60 h closes Monday 06:00 local, 59 h or 61 h later when the
 * clocks change in between). Seconds, with the ISO-8601 text the request gave.
 */
export type WindowLength =
  | { kind: 'duration'; seconds: number; text: string }
  | { kind: 'closesAfter'; seconds: number; text: string };

export type OnMissed = 'open-late' | 'skip';

export type ScheduleState = 'active' | 'paused' | 'ended';

/** An occurrence's times (ISO-8601 UTC). */
export interface WindowTimes {
  opensAt: string;
  closesAt: string;
  /** When its jobs are created and the on-prem side told to upload: opensAt − prestage lead. */
  prestageAt: string;
  /** Its images must be staged by then, or `window-at-risk` goes out: opensAt − margin. */
  stageBy: string;
}

export type OccurrenceStatus =
  /** Pre-staged before the opening: its jobs launch at opensAt. */
  | 'prestaged'
  /** The gateway was down across the opening and `onMissed` is `open-late`: its jobs launch at once. */
  | 'opened-late'
  /** The gateway was down across the opening and `onMissed` is `skip` (or the window had closed). */
  | 'missed';

export interface Occurrence extends WindowTimes {
  status: OccurrenceStatus;
  /** When the gateway handled its prestage (the timer fired). */
  handledAt: string;
  /** How late the gateway got to it, when it was after the opening. */
  lateBySeconds?: number;
  /** The window's jobs: one per VM, once created (an upload VM's when the on-prem side asks). */
  jobs: Array<{ vmName: string; jobId: string }>;
  /** VMs the window-at-risk check reported (not staged by stageBy). */
  atRisk?: string[];
}

export interface Schedule {
  scheduleId: string;
  /** The tenant whose key made it (absent: the default tenant); names are unique per tenant. */
  tenant?: string;
  name: string;
  vms: ScheduledVm[];
  window: WindowSpec;
  length: WindowLength;
  prestage: { leadSeconds: number; marginSeconds: number };
  onMissed: OnMissed;
  callbackUrl?: string;
  /** Signs the callback's deliveries (and its window jobs'); shown once, when the URL is set. */
  callbackSecret?: string;
  /** The callback answered 410 Gone: no more deliveries to it. */
  callbackDisabledAt?: string;
  state: ScheduleState;
  createdAt: string;
  updatedAt: string;
  version: number;
  /** The occurrence the prestage timer is set for (absent: paused, or no occurrence is left). */
  next?: WindowTimes;
  /** SHA-256 of the POST /schedules body that made it: the same request again is a replay. */
  requestSha256?: string;
  /** Occurrences handled so far, newest first (the last MAX_KEPT_OCCURRENCES). */
  occurrences: Occurrence[];
}

/** Occurrences a schedule keeps in its history. */
export const MAX_KEPT_OCCURRENCES = 20;
