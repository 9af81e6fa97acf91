/** Request bodies and queries of the /schedules API, validated with zod; errors name the field. */
import { z } from 'zod';
import { durationSeconds } from '../schedules/iso-duration';
import { CreateOffloadRequest, Cursor, Instant, TenantName } from './requests';

/** Schedule names: what a CLI user types (`burstgate schedule show month-end`). */
const NAME = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
const Duration = z
  .string()
  .max(32)
  .refine((t) => durationSeconds(t) !== undefined, {
    message: 'an ISO-8601 duration of days, hours, minutes, seconds, e.g. PT60H or P2DT12H',
  });

export const ScheduledVmRequest = z
  .object({
    vmName: CreateOffloadRequest.shape.vmName,
    target: CreateOffloadRequest.shape.target,
    /** `image-cache`: the VM's cached image (AWS direct); `upload`: the on-prem side uploads before each window. */
    source: z.enum(['image-cache', 'upload']),
  })
  .strict();

const CronWindow = z
  .object({ cron: z.string().min(1).max(256), timeZone: z.string().min(1).max(64) })
  .strict();
const AtWindow = z.object({ at: Instant, timeZone: z.string().min(1).max(64).optional() }).strict();

export const PrestageRequest = z
  .object({
    /** How long before the opening the jobs are created and the upload opens (default PT2H). */
    lead: Duration.optional(),
    /** The images must be staged this long before the opening, or window-at-risk goes out (default PT10M). */
    margin: Duration.optional(),
  })
  .strict();

const ScheduleFields = {
  vms: z
    .array(ScheduledVmRequest)
    .min(1)
    .max(20)
    .refine((vms) => new Set(vms.map((v) => v.vmName)).size === vms.length, {
      message: 'each VM at most once per schedule',
    }),
  window: z.union([CronWindow, AtWindow], {
    error: 'either {cron, timeZone} (a recurring window) or {at} (one window)',
  }),
  /** Elapsed time the window stays open. */
  duration: Duration.optional(),
  /** Wall-clock time in the window's zone the window stays open (DST-aware). */
  closesAfter: Duration.optional(),
  prestage: PrestageRequest.optional(),
  onMissed: z.enum(['open-late', 'skip']).optional(),
  callbackUrl: z.url({ protocol: /^https?$/ }).optional(),
};

export const CreateScheduleRequest = z
  .object({
    name: z.string().regex(NAME, 'a letter, then up to 63 letters, digits, dot, underscore or dash'),
    ...ScheduleFields,
  })
  .strict();
export type CreateScheduleRequest = z.infer<typeof CreateScheduleRequest>;

/** PATCH /schedules/{id}: what is given replaces what the schedule had; `state` pauses or resumes it. */
export const UpdateScheduleRequest = z
  .object({
    state: z.enum(['active', 'paused']).optional(),
    vms: ScheduleFields.vms.optional(),
    window: ScheduleFields.window.optional(),
    duration: Duration.optional(),
    closesAfter: Duration.optional(),
    prestage: PrestageRequest.optional(),
    onMissed: ScheduleFields.onMissed,
    callbackUrl: z
      .url({ protocol: /^https?$/ })
      .nullable()
      .optional(),
  })
  .strict();
export type UpdateScheduleRequest = z.infer<typeof UpdateScheduleRequest>;

/** POST /schedules/{id}/prestage: the image an upload VM of the prestaging window will upload. */
export const PrestageUploadRequest = CreateOffloadRequest.pick({
  imageFormat: true,
  imageSizeBytes: true,
  imageSha256: true,
})
  .extend({ vmName: z.string().min(1).max(128) })
  .strict();
export type PrestageUploadRequest = z.infer<typeof PrestageUploadRequest>;

export const PreviewQuery = z
  .object({
    cron: z.string().min(1).max(256),
    timeZone: z.string().min(1).max(64),
    count: z.coerce.number().int().min(1).max(100).optional(),
    after: Instant.optional(),
    duration: Duration.optional(),
    closesAfter: Duration.optional(),
  })
  .strict();
export type PreviewQuery = z.infer<typeof PreviewQuery>;

export const ListSchedulesQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).optional(),
    cursor: Cursor.optional(),
    tenant: TenantName.optional(),
  })
  .strict();

export const ScheduleViewQuery = z
  .object({ count: z.coerce.number().int().min(1).max(100).optional() })
  .strict();

/** A schedule id (`sch-` + 26 base32 characters) or a schedule name. */
export const ScheduleRef = z
  .string()
  .regex(/^(sch-[0-9a-z]{26}|[A-Za-z][A-Za-z0-9._-]{0,63})$/, 'a schedule id (sch-…) or name');
export const isScheduleId = (ref: string): boolean => /^sch-[0-9a-z]{26}$/.test(ref);
