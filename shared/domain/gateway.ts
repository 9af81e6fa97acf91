/**
 * The context every operation runs in: the job store, the staging bucket, the cloud adapter,
 * the event publisher. Built once per Lambda module from injected deps.
 */
import { BudgetStore } from '../store/budget-store';
import { createPriceSources, type PriceSources } from './price-sources';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { AwsSnapshots } from '../clouds/aws/aws-snapshots';
import { AwsTarget } from '../clouds/aws/aws-target';
import { AwsSnapshotBlocks } from '../clouds/aws/snapshot-blocks';
import { AzureTarget } from '../clouds/azure/azure-target';
import { CloudError } from '../clouds/errors';
import type { CloudTarget } from '../clouds/cloud-target';
import type { GatewayConfig, GatewayDeps } from '../runtime/deps';
import { ImageCache } from '../store/image-cache';
import { JobStore } from '../store/job-store';
import { ScheduleStore } from '../store/schedule-store';
import { StagingBucket } from '../store/staging';
import { SchedulerTimers, type JobTimers } from '../timers/job-timers';
import type { Job, JobResource, JobState, JobTarget } from './job';
import type { Schedule } from './schedule-model';
import { checkCallbackUrl, type CallbackEnv } from './callbacks';
import { ownerOf } from './job';
import { DeliveryStore, type DeliverySubject } from '../store/delivery-store';
import type { Resolver } from './egress';
import { enqueueEvent, type OutboxEnv } from './webhooks/outbox';
import { WebhookStore } from '../store/webhook-store';

const callbackEnv = (deps: GatewayDeps): CallbackEnv => ({
  policy: deps.config.callbacks,
  resolve: deps.resolve,
});

/**
 * Events besides state changes, each with its EventBridge detail-type; the callback gets
 * `type: "burstgate.<kind>"`. The README lists them with their detail.
 */
export const JOB_EVENTS = {
  'lease-expiring': 'Lease Expiring',
  'return-started-by-lease': 'Return Started By Lease',
  'deadline-met': 'Deadline Met',
  'deadline-missed': 'Deadline Missed',
} as const;
export type JobEventKind = keyof typeof JOB_EVENTS;

/** A schedule's events (its windows), with their detail-types; the callback is the schedule's. */
export const WINDOW_EVENTS = {
  'window-prestage': 'Window Prestage',
  'window-at-risk': 'Window At Risk',
  'window-opened-late': 'Window Opened Late',
  'window-missed': 'Window Missed',
} as const;
export type WindowEventKind = keyof typeof WINDOW_EVENTS;

export interface Gateway {
  config: GatewayConfig;
  store: JobStore;
  /** Schedules of burst windows (items in the jobs table). */
  schedules: ScheduleStore;
  staging: StagingBucket;
  /** For artifacts the steps stream into the staging bucket (the return delta). */
  s3: S3Client;
  sfn: SFNClient;
  logger: Logger;
  now(): Date;
  /** The AWS adapter (VM Import/Export, EC2). */
  cloudFor(target: JobTarget): CloudTarget;
  /** AWS snapshots read block by block (EBS direct APIs): the changed-block return. */
  awsSnapshotReader: AwsSnapshotBlocks;
  /** The Azure adapter; a CloudError when this gateway has no Azure configuration. */
  azure(): AzureTarget;
  /** AWS snapshots written block by block (EBS direct APIs) and registered as AMIs: the direct offload. */
  awsSnapshotWriter: AwsSnapshots;
  /** The AWS direct path's image cache (items in the jobs table). */
  imageCache: ImageCache;
  /** The webhook outbox: deliveries of events to callback URLs (items in the jobs table). */
  deliveries: DeliveryStore;
  /** A tenant's webhook endpoints (items in the jobs table). */
  webhooks: WebhookStore;
  /** The webhook outbox's view of the gateway (webhooks/outbox.ts). */
  outbox: OutboxEnv;
  /** Resolves callback hosts at delivery (default: the system's resolver). */
  resolve: Resolver | undefined;
  publish(job: Job, from: JobState | undefined): Promise<void>;
  /** Sends one of JOB_EVENTS (EventBridge and the job's callback); failures are logged, never thrown. */
  announce(job: Job, kind: JobEventKind, detail: Record<string, unknown>): Promise<void>;
  /** Sends one of WINDOW_EVENTS (EventBridge and the schedule's callback); failures are logged, never thrown. */
  announceWindow(schedule: Schedule, kind: WindowEventKind, detail: Record<string, unknown>): Promise<void>;
  /** One-time timers (EventBridge Scheduler): lease warnings, lease-driven returns, launch times. */
  timers: JobTimers;
  /** Refuses a callback URL the gateway would not send to (callbacks.ts): a ValidationError naming `path`. */
  checkCallback(url: string, path: string): Promise<void>;
  /** Prices and instance catalogs for quotes (price-sources.ts). */
  priceSources: PriceSources;
  /** Tenants' monthly budgets (items in the jobs table). */
  budgets: BudgetStore;
}

export function createGateway(deps: GatewayDeps): Gateway {
  const aws = new AwsTarget({ ec2For: deps.ec2For, vmImportRoleName: deps.config.vmImportRoleName });
  const azureConfig = deps.config.azure;
  const azureClients = deps.azureClients;
  const azure =
    azureConfig && azureClients
      ? new AzureTarget({
          clients: azureClients,
          lroPollIntervalMs: azureConfig.lroPollIntervalMs,
          sasDurationSeconds: azureConfig.sasDurationSeconds,
          ...(azureConfig.subnetId ? { subnetId: azureConfig.subnetId } : {}),
        })
      : undefined;
  const deliveries = new DeliveryStore(deps.ddb, deps.config.jobsTable);
  const webhooks = new WebhookStore(deps.ddb, deps.config.jobsTable);
  const outbox: OutboxEnv = {
    deliveries,
    webhooks,
    sfn: deps.sfn,
    stateMachineArn: deps.config.webhookStateMachineArn,
    logger: deps.logger,
    now: deps.now,
  };
  return {
    config: deps.config,
    priceSources: createPriceSources(deps),
    budgets: new BudgetStore(deps.ddb, deps.config.jobsTable),
    deliveries,
    webhooks,
    outbox,
    resolve: deps.resolve,
    store: new JobStore(deps.ddb, deps.config.jobsTable),
    schedules: new ScheduleStore(deps.ddb, deps.config.jobsTable),
    awsSnapshotWriter: new AwsSnapshots({ ec2For: deps.ec2For, ebsFor: deps.ebsFor }),
    imageCache: new ImageCache(deps.ddb, deps.config.jobsTable),
    staging: new StagingBucket(deps.s3, deps.config.stagingBucket),
    s3: deps.s3,
    sfn: deps.sfn,
    logger: deps.logger,
    now: deps.now,
    awsSnapshotReader: new AwsSnapshotBlocks({ ec2For: deps.ec2For, ebsFor: deps.ebsFor }),
    cloudFor: (target) => {
      if (target.cloud === 'aws') return aws;
      throw new CloudError('CloudRejected', `the ${target.cloud} target has no AWS adapter; use gw.azure()`);
    },
    azure: () => {
      if (!azure) {
        throw new CloudError(
          'CloudRejected',
          'this gateway has no Azure configuration (service principal and default resource group); deploy it with Azure credentials',
          'AzureNotConfigured',
        );
      }
      return azure;
    },
    timers: new SchedulerTimers({ client: deps.scheduler, ...deps.config.timers }),
    checkCallback: (url, path) => checkCallbackUrl(callbackEnv(deps), url, path),
    publish: (job, from) =>
      send(deps, outbox, ofJob(job), 'Job State Changed', 'job-state-changed', {
        jobId: job.jobId,
        vmName: job.vmName,
        from: from ?? null,
        to: job.state,
        target: job.target,
        at: job.updatedAt,
        ...(job.error ? { error: job.error } : {}),
      }),
    announce: (job, kind, detail) =>
      send(deps, outbox, ofJob(job), JOB_EVENTS[kind], kind, {
        jobId: job.jobId,
        vmName: job.vmName,
        state: job.state,
        at: deps.now().toISOString(),
        ...detail,
      }),
    announceWindow: (schedule, kind, detail) =>
      send(deps, outbox, ofSchedule(schedule), WINDOW_EVENTS[kind], kind, {
        scheduleId: schedule.scheduleId,
        scheduleName: schedule.name,
        at: deps.now().toISOString(),
        ...detail,
      }),
  };
}

/** Whose event it is: the callback to notify (unless it answered 410), and the keys its log lines carry. */
interface EventSource {
  callbackUrl: string | undefined;
  tenant: string;
  subject: DeliverySubject;
  about: Record<string, string>;
}
const ofJob = (job: Job): EventSource => ({
  callbackUrl: job.callbackDisabledAt ? undefined : job.callbackUrl,
  tenant: ownerOf(job),
  subject: { kind: 'job', id: job.jobId },
  about: { jobId: job.jobId },
});
const ofSchedule = (s: Schedule): EventSource => ({
  callbackUrl: s.callbackDisabledAt ? undefined : s.callbackUrl,
  tenant: ownerOf(s),
  subject: { kind: 'schedule', id: s.scheduleId },
  about: { scheduleId: s.scheduleId },
});

/**
 * An event on the bus and, through the outbox, to the callback; a lost event or callback must not
 * fail the job, so errors are logged. Nothing here waits for a receiver.
 */
async function send(
  deps: GatewayDeps,
  outbox: OutboxEnv,
  { callbackUrl, tenant, subject, about }: EventSource,
  detailType: string,
  kind: string,
  detail: Record<string, unknown>,
): Promise<void> {
  try {
    await deps.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: deps.config.eventBusName,
            Source: 'burstgate',
            DetailType: detailType,
            Resources: [],
            Detail: JSON.stringify(detail),
          },
        ],
      }),
    );
  } catch (err) {
    deps.logger.warn(`could not publish the ${detailType} event`, { ...about, error: err as Error });
  }
  await enqueueEvent(outbox, {
    tenant,
    subject,
    url: callbackUrl,
    about: subject.kind === 'job' ? { jobId: subject.id } : { scheduleId: subject.id },
    eventType: `burstgate.${kind}`,
    payload: detail,
  });
}

/** Updates a job and, when its state changed, publishes the change. */
export async function updateJob(
  gw: Gateway,
  jobId: string,
  change: (job: Job) => void | false,
): Promise<Job> {
  let from: JobState | undefined;
  const job = await gw.store.update(
    jobId,
    (j) => {
      from = j.state;
      return change(j);
    },
    gw.now(),
  );
  if (from !== undefined && from !== job.state) {
    gw.logger.info('job state changed', { jobId, from, to: job.state });
    await gw.publish(job, from);
  }
  return job;
}

export function beginStep(job: Job, name: string, now: Date): void {
  if (job.activeStep?.name === name) return;
  job.activeStep = { name, startedAt: now.toISOString() };
}

export function endStep(job: Job, outcome: 'succeeded' | 'failed', now: Date, detail?: string): void {
  const active = job.activeStep;
  if (!active) return;
  job.steps.push({
    name: active.name,
    outcome,
    startedAt: active.startedAt,
    endedAt: now.toISOString(),
    durationMs: now.getTime() - Date.parse(active.startedAt),
    ...(detail ? { detail } : {}),
  });
  delete job.activeStep;
}

export function recordResource(job: Job, r: Omit<JobResource, 'createdAt'>, now: Date): void {
  if (job.resources.some((x) => x.type === r.type && x.id === r.id)) return;
  job.resources.push({ ...r, createdAt: now.toISOString() });
}

export function markRemoved(job: Job, type: JobResource['type'], id: string, now: Date): void {
  const r = job.resources.find((x) => x.type === type && x.id === id);
  if (r && !r.removedAt) r.removedAt = now.toISOString();
}
