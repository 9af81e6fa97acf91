/**
 * The answer schemas (api-schemas.ts) against the views the gateway really builds: every member a
 * view has is in its schema (parsing keeps the whole view: nothing stripped), and the schemas
 * mirror the job and schedule model types exactly (checked by tsc).
 */
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { z } from 'zod';
import {
  ImageCacheViewSchema,
  JobLaunchSchema,
  JobLeaseSchema,
  JobResourceSchema,
  JobStepSchema,
  JobTargetSchema,
  JobViewSchema,
  ProblemSchema,
  ReturnPlanSchema,
  ScheduleViewSchema,
  SchedulePreviewSchema,
  VmHardwareSchema,
  JobWindowSchema,
  JobErrorSchema,
} from '../../../shared/domain/api-schemas';
import { viewImageCache } from '../../../shared/domain/image-cache-view';
import type {
  Job,
  JobError,
  JobLaunch,
  JobLease,
  JobResource,
  JobStep,
  JobTarget,
  JobWindow,
  ReturnPlan,
  VmHardware,
} from '../../../shared/domain/job';
import type { ImageCacheEntry } from '../../../shared/store/image-cache';
import type { Schedule } from '../../../shared/domain/schedule-model';
import { viewJob } from '../../../shared/domain/view';
import { viewSchedule } from '../../../shared/domain/windows/schedule-view';
import { previewSchedule } from '../../../shared/domain/windows/schedules';
import { problemResponse } from '../../../lambdas/middleware/problem-details';
import { placeJob, stepTest, type StepTest } from '../workflow/fixtures';

let t: StepTest;
beforeEach(() => {
  t = stepTest();
  // the fake S3 client cannot presign; the view only passes the URL on
  vi.spyOn(t.gw.staging, 'presignGet').mockImplementation(
    async (key) => `https://staging.example/${key}?X-Amz-Signature=s`,
  );
});
afterEach(() => t.fake.assertNoUnscriptedCalls());

const SHA = 'a'.repeat(64);
const AT = '2027-10-22T16:00:00.000Z';

/** A returned AWS direct job of a burst window with every optional member the view can show. */
function everything(job: Job): void {
  job.callbackUrl = 'https://hooks.example/burst?token=x';
  job.image = {
    ...job.image,
    sha256: SHA,
    diskSha256: SHA,
    diskCapacityBytes: 1 << 30,
    partitionTable: 'gpt',
    disk: { offset: 512, size: 1 << 20, format: 'vmdk' },
    uploadId: 'internal',
    delta: { indexKey: 'k', baseSha256: SHA, baseCapacity: 1 << 30, extents: 3, dataBytes: 5, zeroBytes: 7 },
  };
  job.target = {
    cloud: 'aws',
    region: 'us-east-1',
    instanceType: 't3.medium',
    mode: 'direct',
    modeReason: 'r',
  };
  job.hardware = {
    vcpus: 2,
    memoryMiB: 2048,
    firmware: 'efi',
    osType: 'ubuntu64Guest',
    disks: [{ name: 'disk1', capacityBytes: 1 << 30, format: 'streamOptimized' }],
    nics: [{ name: 'nic0', network: 'VM Network', adapterType: 'VMXNET3' }],
  };
  job.resources = [
    {
      type: 'snapshot',
      id: 'snap-1',
      location: 'us-east-1',
      createdAt: AT,
      retained: true,
      imageCache: true,
    },
    { type: 'instance', id: 'i-1', location: 'us-east-1', createdAt: AT, removedAt: AT },
  ];
  job.steps = [
    { name: 'inspect', outcome: 'succeeded', startedAt: AT, endedAt: AT, durationMs: 5, detail: 'ok' },
  ];
  job.activeStep = { name: 'cleanup', startedAt: AT };
  job.bytes = {
    uploaded: 1,
    imported: 2,
    exported: 3,
    allocated: 4,
    pagesWritten: 5,
    blocksUploaded: 6,
    blocksSkipped: 7,
    ebsBytesWritten: 8,
    changed: 9,
  };
  job.cloud = {
    amiId: 'ami-1',
    snapshotIds: ['snap-1'],
    instanceId: 'i-1',
    baseSnapshotId: 'snap-1',
    returnSnapshotId: 'snap-2',
    uploadChunkBytes: 1 << 20,
    blockManifestKey: 'm',
    imageCache: { outcome: 'incremental', snapshotId: 'snap-0', manifestKey: 'm0', fromJobId: 'job-x' },
  };
  job.error = { type: 'export-failed', title: 't', detail: 'd', step: 'publish' };
  job.lease = { expiresAt: AT, onExpiry: 'return', returnBy: '2027-10-22T18:00:00+02:00', source: 'request' };
  job.returnPlan = {
    startAt: AT,
    reason: 'return-by',
    action: 'return',
    estimateSeconds: 300,
    basis: 'model',
  };
  job.returnStartedAt = AT;
  job.returnStartedBy = 'lease';
  job.returnedAt = AT;
  job.deadline = { returnBy: AT, returnedAt: AT, met: true, marginSeconds: 12 };
  job.cancelledBy = 'schedule';
  job.window = { scheduleId: 'sch-1', scheduleName: 'weekend', opensAt: AT, closesAt: AT, onMissed: 'skip' };
  job.launch = { mode: 'at', at: AT, releasedAt: AT, releasedBy: 'timer' };
  job.returned = {
    bucket: 'b',
    key: 'returns/x.bgdelta',
    format: 'delta',
    sizeBytes: 10,
    sha256: SHA,
    diskSha256: SHA,
    baseDiskSha256: SHA,
    matchesOriginal: false,
  };
}

function schedule(): Schedule {
  return {
    scheduleId: 'sch-01jz0000000000000000000000',
    name: 'weekend',
    vms: [
      {
        vmName: 'vm-01',
        target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.medium' },
        source: 'upload',
      },
    ],
    window: { cron: 'cron(0 18 ? * 6 *)', timeZone: 'Europe/Berlin' },
    length: { kind: 'duration', seconds: 216000, text: 'PT60H' },
    prestage: { leadSeconds: 7200, marginSeconds: 900 },
    onMissed: 'open-late',
    callbackUrl: 'https://hooks.example/w?token=x',
    state: 'active',
    createdAt: AT,
    updatedAt: AT,
    version: 3,
    next: {
      opensAt: '2027-10-29T16:00:00.000Z',
      closesAt: '2027-11-01T04:00:00.000Z',
      prestageAt: '2027-10-29T14:00:00.000Z',
      stageBy: '2027-10-29T15:45:00.000Z',
    },
    occurrences: [
      {
        opensAt: AT,
        closesAt: '2027-10-25T04:00:00.000Z',
        prestageAt: '2027-10-22T14:00:00.000Z',
        stageBy: '2027-10-22T15:45:00.000Z',
        status: 'opened-late',
        handledAt: AT,
        lateBySeconds: 400,
        jobs: [{ vmName: 'vm-01', jobId: 'job-01jz0000000000000000000000' }],
        atRisk: ['vm-01'],
      },
    ],
  };
}

describe('answer schemas', () => {
  it('keep every member of a job view with all its optional parts (nothing stripped)', async () => {
    // Prepare
    const job = await placeJob(t, 'returned', everything);

    // Act
    const view = await viewJob(t.gw, job);
    const parsed = JobViewSchema.safeParse(view);

    // Assess
    expect(parsed.error).toBeUndefined();
    expect(parsed.data).toEqual(view);
    expect(view.download?.format).toBe('delta');
    expect(view.image.delta).toBeDefined();
  });

  it('keep every member of a fresh job view (the least a view has)', async () => {
    // Prepare
    const job = await placeJob(t, 'awaiting-upload');

    // Act
    const view = await viewJob(t.gw, job);

    // Assess
    expect(JobViewSchema.parse(view)).toEqual(view);
  });

  it('keep every member of a schedule view, its windows ahead (local times with offsets) and its history', () => {
    // Prepare
    const s = schedule();

    // Act
    const view = viewSchedule(s, 3);

    // Assess
    expect(view.next).toHaveLength(3);
    expect(view.next[0]?.opensAtLocal).toBe('2027-10-29T18:00:00+02:00');
    expect(ScheduleViewSchema.parse(view)).toEqual(view);
  });

  it('keep every member of an image cache view and a schedule preview', async () => {
    // Prepare
    const entry: ImageCacheEntry = {
      vmName: 'vm-01',
      region: 'us-east-1',
      snapshotId: 'snap-1',
      amiId: 'ami-1',
      diskSha256: SHA,
      diskSha256Measured: true,
      capacityBytes: 1 << 30,
      blocks: 12,
      jobId: 'job-01jz0000000000000000000000',
      updatedAt: AT,
      manifestKey: 'image-cache/us-east-1/vm-01/manifest.json',
      partitionTable: 'gpt',
      retired: [],
    };

    // Act
    const cache = await viewImageCache(t.gw, entry);
    const preview = previewSchedule(t.gw, {
      cron: 'cron(0 18 ? * 6 *)',
      timeZone: 'Europe/Berlin',
      count: 2,
      after: AT,
      duration: 'PT60H',
    });

    // Assess
    expect(ImageCacheViewSchema.parse(cache)).toEqual(cache);
    expect(SchedulePreviewSchema.parse(preview)).toEqual(preview);
    expect(preview.windows).toHaveLength(2);
  });

  it('describe the problem+json body the API answers, and refuse an unknown problem type', () => {
    // Prepare
    const answer = problemResponse(400, {
      type: 'validation-failed',
      title: 'The request is not valid',
      detail: 'vmName: required',
      instance: '/offloads',
      errors: [{ path: 'vmName', message: 'required' }],
    });
    const body = JSON.parse(String(answer.body)) as Record<string, unknown>;

    // Act
    const parsed = ProblemSchema.safeParse(body);
    const unknown = ProblemSchema.safeParse({ ...body, type: 'https://burstgate.dev/problems/made-up' });

    // Assess
    expect(parsed.data).toEqual(body);
    expect(unknown.success).toBe(false);
  });

  it('mirror the job model types exactly (a member added to one and not the other fails tsc)', () => {
    // Assess (tsc checks these; vitest only runs them)
    expectTypeOf<z.infer<typeof JobTargetSchema>>().toEqualTypeOf<JobTarget>();
    expectTypeOf<z.infer<typeof JobResourceSchema>>().toEqualTypeOf<JobResource>();
    expectTypeOf<z.infer<typeof JobStepSchema>>().toEqualTypeOf<JobStep>();
    expectTypeOf<z.infer<typeof JobErrorSchema>>().toEqualTypeOf<JobError>();
    expectTypeOf<z.infer<typeof VmHardwareSchema>>().toEqualTypeOf<VmHardware>();
    expectTypeOf<z.infer<typeof JobLeaseSchema>>().toEqualTypeOf<JobLease>();
    expectTypeOf<z.infer<typeof ReturnPlanSchema>>().toEqualTypeOf<ReturnPlan>();
    expectTypeOf<z.infer<typeof JobLaunchSchema>>().toEqualTypeOf<JobLaunch>();
    expectTypeOf<z.infer<typeof JobWindowSchema>>().toEqualTypeOf<JobWindow>();
    expectTypeOf<z.infer<typeof JobViewSchema.shape.bytes>>().toEqualTypeOf<Job['bytes']>();
    expectTypeOf<z.infer<typeof JobViewSchema.shape.cloud>>().toEqualTypeOf<Job['cloud']>();
    expect(JobViewSchema.shape.tenant.safeParse('acme').success).toBe(true);
  });
});
