/**
 * What the HTTP API answers, as zod schemas: every route's success body and the problem+json error
 * body. With the request schemas (requests.ts, schedule-requests.ts) they are the one source of the
 * OpenAPI document (openapi.ts → openapi.json), and the views' types are inferred from them
 * (view.ts, image-cache-view.ts, windows/schedule-view.ts), so a view and its schema cannot drift.
 *
 * Answers are open objects (members may be added; clients ignore what they do not know). Each named
 * schema carries its component id in zod's own metadata (`.meta({ id })`): no OpenAPI library at
 * run time.
 */
import { z } from 'zod';
import { JOB_ERROR_TYPES, JOB_STATES } from './job';
import { PROBLEM_BASE, PROBLEM_TYPES, type ProblemType } from './errors';

/** An instant as the gateway writes it: ISO-8601 with `Z` or an offset. */
const Instant = z.iso.datetime({ offset: true });
const Count = z.number().int().min(0);
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

export const JobStateSchema = z.enum(JOB_STATES).meta({ id: 'JobState' });

// ── the job ─────────────────────────────────────────────────────────────────────────────────────

export const JobTargetSchema = z
  .discriminatedUnion('cloud', [
    z.object({
      cloud: z.literal('aws'),
      region: z.string(),
      instanceType: z.string(),
      mode: z.enum(['direct', 'import']).optional(),
      modeReason: z.string().optional(),
    }),
    z.object({
      cloud: z.literal('azure'),
      location: z.string(),
      vmSize: z.string(),
      resourceGroup: z.string(),
    }),
  ])
  .meta({ id: 'JobTarget', description: 'Where the VM runs; an Azure resource group is resolved.' });

export const JobResourceSchema = z
  .object({
    type: z.enum([
      'multipart-upload',
      's3-object',
      'import-task',
      'ami',
      'snapshot',
      'instance',
      'export-task',
      'virtual-machine',
      'network-interface',
      'disk',
    ]),
    id: z.string(),
    location: z.string(),
    createdAt: Instant,
    removedAt: Instant.optional(),
    retained: z.boolean().optional(),
    imageCache: z.boolean().optional(),
  })
  .meta({ id: 'JobResource', description: 'A cloud or staging resource the job created.' });

export const JobStepSchema = z
  .object({
    name: z.string(),
    outcome: z.enum(['succeeded', 'failed']),
    startedAt: Instant,
    endedAt: Instant,
    durationMs: Count,
    detail: z.string().optional(),
  })
  .meta({ id: 'JobStep' });

export const JobErrorSchema = z
  .object({
    type: z.enum(JOB_ERROR_TYPES),
    title: z.string(),
    detail: z.string(),
    step: z.string().optional(),
  })
  .meta({ id: 'JobError', description: 'Why the job failed (README: the job error types).' });

export const VmHardwareSchema = z
  .object({
    vcpus: z.number().int(),
    memoryMiB: z.number().int(),
    firmware: z.enum(['bios', 'efi']),
    osType: z.string().optional(),
    disks: z.array(z.object({ name: z.string(), capacityBytes: Count, format: z.string() })),
    nics: z.array(
      z.object({ name: z.string(), network: z.string().optional(), adapterType: z.string().optional() }),
    ),
  })
  .meta({ id: 'VmHardware', description: 'The VM as its OVF describes it.' });

export const JobLeaseSchema = z
  .object({
    expiresAt: Instant,
    onExpiry: z.enum(['return', 'cancel']),
    returnBy: Instant.optional(),
    source: z.enum(['request', 'default']),
  })
  .meta({ id: 'JobLease', description: 'How long the VM may stay, and what happens then.' });

export const ReturnPlanSchema = z
  .object({
    startAt: Instant,
    reason: z.enum(['lease-expires', 'return-by']),
    action: z.enum(['return', 'cancel']),
    estimateSeconds: z.number().optional(),
    basis: z.string().optional(),
  })
  .meta({ id: 'ReturnPlan', description: 'When the gateway starts the return (or cancel) on its own.' });

export const JobLaunchSchema = z
  .object({
    mode: z.enum(['at', 'hold']),
    at: Instant.optional(),
    releasedAt: Instant.optional(),
    releasedBy: z.enum(['api', 'timer']).optional(),
  })
  .meta({ id: 'JobLaunch', description: 'A held or timed launch: when, and whether it was released.' });

export const JobWindowSchema = z
  .object({
    scheduleId: z.string(),
    scheduleName: z.string(),
    opensAt: Instant,
    closesAt: Instant,
    onMissed: z.enum(['open-late', 'skip']),
  })
  .meta({ id: 'JobWindow', description: 'The burst window the job belongs to.' });

export const JobBytesSchema = z
  .object({
    uploaded: Count,
    imported: Count.optional(),
    exported: Count.optional(),
    allocated: Count.optional(),
    pagesWritten: Count.optional(),
    blocksUploaded: Count.optional(),
    blocksSkipped: Count.optional(),
    ebsBytesWritten: Count.optional(),
    changed: Count.optional(),
  })
  .meta({ id: 'JobBytes' });

export const JobCloudSchema = z
  .object({
    importTaskId: z.string().optional(),
    amiId: z.string().optional(),
    snapshotIds: z.array(z.string()).optional(),
    instanceId: z.string().optional(),
    exportTaskId: z.string().optional(),
    diskId: z.string().optional(),
    baseSnapshotId: z.string().optional(),
    networkInterfaceId: z.string().optional(),
    virtualMachineId: z.string().optional(),
    returnSnapshotId: z.string().optional(),
    uploadChunkBytes: Count.optional(),
    blockManifestKey: z.string().optional(),
    imageCache: z
      .object({
        outcome: z.enum(['reused', 'incremental', 'full']),
        snapshotId: z.string().optional(),
        manifestKey: z.string().optional(),
        fromJobId: z.string().optional(),
      })
      .optional(),
  })
  .meta({ id: 'JobCloud', description: 'Cloud-side ids (also in resources).' });

export const JobImageSchema = z
  .object({
    format: z.enum(['ova', 'vmdk', 'vhd', 'vhdx', 'raw', 'delta']),
    sizeBytes: Count,
    sha256: Sha256Hex.optional(),
    diskSha256: Sha256Hex.optional(),
    diskCapacityBytes: Count.optional(),
    partitionTable: z.enum(['gpt', 'mbr', 'none']).optional(),
    disk: z.object({ offset: Count, size: Count, format: z.string() }).optional(),
    delta: z
      .object({
        baseSha256: Sha256Hex,
        baseCapacity: Count,
        extents: Count,
        dataBytes: Count,
        zeroBytes: Count,
      })
      .optional()
      .meta({ description: 'A delta upload (--incremental): what it carried and the image it applied to.' }),
  })
  .meta({ id: 'JobImage' });

export const JobDownloadSchema = z
  .object({
    url: z.string().meta({ description: 'Presigned GET of `<vmName>.ova` or `<vmName>.bgdelta`.' }),
    expiresAt: Instant,
    format: z.enum(['ova', 'delta']).meta({
      description:
        '`ova`: the whole VM (AWS import mode). `delta`: the ranges it changed, to apply to the offloaded image (Azure: pages; AWS direct: 512 KiB EBS blocks).',
    }),
    sizeBytes: Count,
    sha256: Sha256Hex.meta({ description: 'SHA-256 of the file behind url.' }),
    diskSha256: Sha256Hex.meta({ description: 'Content SHA-256 of the returned disk.' }),
    baseDiskSha256: Sha256Hex.optional().meta({
      description: 'Delta only: content SHA-256 of the disk the delta applies to (the offloaded disk).',
    }),
    matchesOriginal: z.boolean(),
  })
  .meta({ id: 'JobDownload', description: 'The returned image (once `returned`).' });

export const JobLinksSchema = z
  .object({
    self: z.string(),
    uploadComplete: z.string().optional(),
    return: z.string().optional(),
    launch: z.string().optional(),
  })
  .meta({ id: 'JobLinks' });

export const JobViewSchema = z
  .object({
    jobId: z.string(),
    vmName: z.string(),
    /** The tenant that owns the job (whose keys see it). */
    tenant: z.string(),
    state: JobStateSchema,
    target: JobTargetSchema,
    callbackUrl: z.string().optional().meta({ description: 'Redacted: no user info, no query.' }),
    createdAt: Instant,
    updatedAt: Instant,
    image: JobImageSchema,
    hardware: VmHardwareSchema.optional(),
    resources: z.array(JobResourceSchema),
    steps: z.array(JobStepSchema),
    activeStep: z.object({ name: z.string(), startedAt: Instant }).optional(),
    bytes: JobBytesSchema,
    cloud: JobCloudSchema,
    error: JobErrorSchema.optional(),
    lease: JobLeaseSchema.optional(),
    cost: z
      .object({
        currency: z.literal('USD'),
        estimated: z.number(),
        estimatedAt: Instant,
        hours: z.number(),
        basis: z.string(),
      })
      .optional()
      .meta({
        description: "The estimate made when the offload was accepted (list prices, the lease's hours).",
      }),
    returnPlan: ReturnPlanSchema.optional(),
    returnStartedAt: Instant.optional(),
    returnStartedBy: z.enum(['api', 'lease']).optional(),
    returnedAt: Instant.optional(),
    deadline: z
      .object({ returnBy: Instant, returnedAt: Instant, met: z.boolean(), marginSeconds: z.number() })
      .optional()
      .meta({
        description:
          'A job with a returnBy, once home: whether it was in time, by how many seconds (negative: late).',
      }),
    cancelledBy: z.enum(['api', 'lease', 'schedule']).optional(),
    window: JobWindowSchema.optional(),
    launch: JobLaunchSchema.optional(),
    download: JobDownloadSchema.optional(),
    links: JobLinksSchema,
  })
  .meta({ id: 'JobView', description: 'One job (GET /offloads/{id}).' });

// ── answers of the /offloads routes ─────────────────────────────────────────────────────────────

export const UploadInstructionsSchema = z
  .object({
    uploadId: z.string(),
    partSizeBytes: Count,
    parts: z.array(z.object({ partNumber: z.number().int().min(1), url: z.string() })),
    expiresAt: Instant,
  })
  .meta({ id: 'UploadInstructions', description: 'PUT each part to its presigned URL.' });

export const CreatedOffloadSchema = z
  .object({
    jobId: z.string(),
    state: JobStateSchema,
    upload: UploadInstructionsSchema.optional().meta({
      description: 'Absent only for a replay of a job that is past awaiting-upload.',
    }),
    callbackSecret: z.string().optional().meta({
      description:
        'With a callbackUrl: the Standard Webhooks secret (`whsec_…`) its deliveries are signed with. Only in this answer.',
    }),
    links: JobLinksSchema,
    job: JobViewSchema,
  })
  .meta({ id: 'CreatedOffload', description: 'POST /offloads: the job and its upload.' });

export const JobListSchema = z
  .object({
    items: z.array(JobViewSchema),
    nextCursor: z.string().optional().meta({ description: 'More jobs follow: pass it as `cursor`.' }),
  })
  .meta({ id: 'JobList' });

export const DeliveryLogSchema = z
  .object({
    items: z.array(
      z.object({
        deliveryId: z.string().meta({ description: 'The `webhook-id` of every attempt.' }),
        webhookId: z.string().optional().meta({
          description:
            "In a job's log: the tenant's endpoint it went to (absent: the job's own callbackUrl).",
        }),
        eventType: z.string(),
        url: z.string().meta({ description: 'Redacted: no user info, no query.' }),
        state: z.enum(['pending', 'delivered', 'failed', 'gone', 'refused']),
        createdAt: z.string(),
        attempts: z.array(
          z.object({
            at: z.string(),
            status: z.number().int().optional(),
            error: z.string().optional(),
            durationMs: z.number().int(),
          }),
        ),
        nextAttemptAt: z.string().optional(),
      }),
    ),
  })
  .meta({ id: 'DeliveryLog' });

export const WebhookViewSchema = z
  .object({
    webhookId: z.string(),
    tenant: z.string(),
    url: z.string().meta({ description: 'Redacted: no user info, no query.' }),
    events: z.array(z.string()),
    state: z.enum(['enabled', 'disabled']),
    disabledReason: z.string().optional(),
    secrets: z.array(z.object({ createdAt: z.string(), expiresAt: z.string().optional() })).meta({
      description:
        'When each signing secret was made, and until when a rotated-out one signs; never a secret.',
    }),
    createdAt: z.string(),
    updatedAt: z.string(),
    links: z.object({ self: z.string(), deliveries: z.string() }),
  })
  .meta({ id: 'WebhookView' });

export const WebhookWithSecretSchema = WebhookViewSchema.extend({
  secret: z.string().meta({ description: 'The new `whsec_…` secret: shown in this answer only.' }),
}).meta({ id: 'WebhookWithSecret' });

export const WebhookListSchema = z.object({ items: z.array(WebhookViewSchema) }).meta({ id: 'WebhookList' });

export const DeletedWebhookSchema = z
  .object({ webhookId: z.string(), deleted: z.literal(true) })
  .meta({ id: 'DeletedWebhook' });

export const ReplayAnswerSchema = z
  .object({ deliveryId: z.string(), state: z.enum(['pending', 'delivered', 'failed', 'gone', 'refused']) })
  .meta({ id: 'ReplayAnswer' });

export const JobStateAnswerSchema = z
  .object({ jobId: z.string(), state: JobStateSchema })
  .meta({ id: 'JobStateAnswer' });

export const UploadCompletedSchema = z
  .object({ jobId: z.string(), state: JobStateSchema, bytes: JobBytesSchema })
  .meta({ id: 'UploadCompleted' });

export const LaunchAnswerSchema = z
  .object({ jobId: z.string(), state: JobStateSchema, launch: JobLaunchSchema.optional() })
  .meta({ id: 'LaunchAnswer' });

export const ImageCacheViewSchema = z
  .object({
    vmName: z.string(),
    region: z.string(),
    snapshotId: z.string(),
    amiId: z.string().optional(),
    diskSha256: Sha256Hex,
    diskSha256Measured: z.boolean(),
    capacityBytes: Count,
    blocks: Count,
    jobId: z.string(),
    updatedAt: Instant,
    manifest: z
      .object({ url: z.string(), expiresAt: Instant })
      .meta({ description: 'Presigned GET of the block manifest (JSON).' }),
  })
  .meta({ id: 'ImageCacheView', description: "A VM's cached image (AWS direct)." });

// ── schedules ───────────────────────────────────────────────────────────────────────────────────

const WindowTimesShape = {
  opensAt: Instant,
  closesAt: Instant,
  prestageAt: Instant,
  stageBy: Instant,
};
const LocalTimesShape = { opensAtLocal: Instant, closesAtLocal: Instant };

export const WindowViewSchema = z
  .object({ ...WindowTimesShape, ...LocalTimesShape })
  .meta({ id: 'WindowView', description: 'A window ahead, in UTC and in the zone.' });

export const OccurrenceViewSchema = z
  .object({
    ...WindowTimesShape,
    status: z.enum(['prestaged', 'opened-late', 'missed']),
    handledAt: Instant,
    lateBySeconds: z.number().optional(),
    jobs: z.array(z.object({ vmName: z.string(), jobId: z.string() })),
    atRisk: z.array(z.string()).optional(),
    ...LocalTimesShape,
  })
  .meta({ id: 'OccurrenceView', description: 'A window handled so far.' });

export const ScheduleViewSchema = z
  .object({
    scheduleId: z.string(),
    name: z.string(),
    /** The tenant that owns the schedule and its window jobs. */
    callbackSecret: z.string().optional().meta({
      description:
        'With a callbackUrl: the Standard Webhooks secret (`whsec_…`) its deliveries are signed with. Only in this answer.',
    }),
    tenant: z.string(),
    state: z.enum(['active', 'paused', 'ended']),
    vms: z.array(
      z.object({ vmName: z.string(), target: JobTargetSchema, source: z.enum(['image-cache', 'upload']) }),
    ),
    window: z.union([
      z.object({ cron: z.string(), timeZone: z.string() }),
      z.object({ at: Instant, timeZone: z.string() }),
    ]),
    duration: z.string().optional(),
    closesAfter: z.string().optional(),
    prestage: z.object({ lead: z.string(), margin: z.string() }),
    onMissed: z.enum(['open-late', 'skip']),
    callbackUrl: z.string().optional(),
    createdAt: Instant,
    updatedAt: Instant,
    next: z.array(WindowViewSchema),
    occurrences: z.array(OccurrenceViewSchema),
    links: z.object({ self: z.string(), prestage: z.string() }),
  })
  .meta({ id: 'ScheduleView', description: 'A schedule with its next windows and its history.' });

export const ScheduleListSchema = z
  .object({
    items: z.array(ScheduleViewSchema),
    nextCursor: z.string().optional().meta({ description: 'More schedules follow: pass it as `cursor`.' }),
  })
  .meta({ id: 'ScheduleList' });

export const SchedulePreviewSchema = z
  .object({
    expression: z.string(),
    timeZone: z.string(),
    windows: z.array(
      z.object({
        opensAt: Instant,
        opensAtLocal: Instant,
        closesAt: Instant.optional(),
        closesAtLocal: Instant.optional(),
      }),
    ),
  })
  .meta({ id: 'SchedulePreview' });

export const DeletedScheduleSchema = z
  .object({
    scheduleId: z.string(),
    name: z.string(),
    deleted: z.literal(true),
    cancelledJobs: z.array(z.string()),
  })
  .meta({ id: 'DeletedSchedule' });

export const PrestagedUploadSchema = z
  .object({
    jobId: z.string(),
    state: JobStateSchema,
    upload: UploadInstructionsSchema.optional(),
    window: z.object({ opensAt: Instant, closesAt: Instant }),
    links: JobLinksSchema,
    job: JobViewSchema,
  })
  .meta({
    id: 'PrestagedUpload',
    description: "The window's job and its upload, as POST /offloads answers.",
  });

// ── errors ──────────────────────────────────────────────────────────────────────────────────────

const PROBLEM_TYPE_URIS = (Object.keys(PROBLEM_TYPES) as ProblemType[]).map((t) => `${PROBLEM_BASE}${t}`);

export const ProblemSchema = z
  .object({
    type: z.enum(PROBLEM_TYPE_URIS as [string, ...string[]]),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: 'validation-failed: each wrong field.' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json).' });

/** What API Gateway itself answers (no key, a refused key, throttled, a failed integration). */
export const GatewayMessageSchema = z.object({ message: z.string() }).meta({
  id: 'GatewayMessage',
  description: 'API Gateway\'s own answer, e.g. `{"message":"Unauthorized"}`.',
});

export type JobView = z.infer<typeof JobViewSchema>;
export type ImageCacheView = z.infer<typeof ImageCacheViewSchema>;
export type ScheduleView = z.infer<typeof ScheduleViewSchema>;
export type WindowView = z.infer<typeof WindowViewSchema>;
export type SchedulePreview = z.infer<typeof SchedulePreviewSchema>;
export type Problem = z.infer<typeof ProblemSchema>;
