/**
 * The HTTP API's request and answer bodies as the client sees them: the gateway's own types
 * (shared/domain), so both sides change together. The one difference is the Azure target, which the
 * client sends and fixtures build as requested (no resource group: the gateway fills in its default).
 */
import type {
  AwsTarget,
  AzureTarget as ResolvedAzureTarget,
  CloudName,
  ImageFormatName,
  JobLease,
  JobState,
  ReturnPlan,
} from '../domain/job';
import type { LeaseRequest } from '../domain/requests';
import type { JobView } from '../domain/view';
import type { ImageCacheView } from '../domain/image-cache-view';
import type { JobLaunch } from '../domain/job';
import type {
  CreateScheduleRequest,
  PrestageUploadRequest,
  UpdateScheduleRequest,
} from '../domain/schedule-requests';
import type { ScheduleView, WindowView } from '../domain/windows/schedule-view';
import type { UploadInstructions } from '../domain/offloads';
import type { BlockManifest } from '../clouds/aws/ebs-blocks';
import type { Quote, QuoteRequestBody as QuoteRequest } from '../domain/quotes';
import type { BudgetView } from '../domain/budgets';

export type {
  AwsTarget,
  BlockManifest,
  CloudName,
  ImageCacheView,
  ImageFormatName,
  CreateScheduleRequest,
  JobLaunch,
  JobLease,
  JobState,
  JobView,
  PrestageUploadRequest,
  ScheduleView,
  UpdateScheduleRequest,
  WindowView,
  LeaseRequest,
  ReturnPlan,
  UploadInstructions,
  Quote,
  QuoteRequest,
  BudgetView,
};

/** Where an offload runs on Azure, as requested: a managed disk from a fixed VHD, then a VM. */
export type AzureTarget = Omit<ResolvedAzureTarget, 'resourceGroup'> & { resourceGroup?: string };

export type JobTarget = AwsTarget | AzureTarget;

/** What a returned job offers for download (GET /offloads/{id} once it is `returned`). */
export type JobDownload = NonNullable<JobView['download']>;

/** GET /offloads/{id}, with the target as the client may have sent it. */
export type ClientJobView = Omit<JobView, 'target'> & { target: JobTarget };

/** POST /offloads body. */
export interface CreateOffloadRequest {
  vmName: string;
  imageFormat: ImageFormatName;
  imageSizeBytes: number;
  /** Lowercase hex SHA-256 of the file; the gateway checks the upload against it. */
  imageSha256?: string;
  target: JobTarget;
  /** Optional webhook the gateway calls on state changes. */
  callbackUrl?: string;
  /** How long the VM may stay (absolute instants); left out, the gateway's default lease. */
  lease?: Omit<LeaseRequest, 'returnBy'> & { returnBy?: string };
  /** When the staged VM launches: at an instant, or on POST /offloads/{id}/launch (`"hold"`); left out, at once. */
  launch?: 'hold' | { at: string };
}

/** 202 answer of POST /offloads. */
export interface CreatedOffload {
  jobId: string;
  state: JobState;
  upload: UploadInstructions;
  links: { self: string; uploadComplete?: string };
  /** The job as created (the gateway includes it; older gateways may not). */
  job?: JobView;
}

/** One uploaded part, as POST /offloads/{id}/upload-complete wants it. */
export interface UploadedPart {
  partNumber: number;
  etag: string;
}

/** 202/200 answer of upload-complete, return and cancel. */
export interface JobStateAnswer {
  jobId: string;
  state: JobState;
}

/** 202 answer of POST /offloads/{id}/launch. */
export interface LaunchAnswer extends JobStateAnswer {
  launch?: JobLaunch;
}

/** 200 answer of DELETE /schedules/{id}: the jobs of windows that had not opened were cancelled. */
export interface DeletedSchedule {
  scheduleId: string;
  name: string;
  deleted: true;
  cancelledJobs: string[];
}

/** GET /schedules/preview query: the next openings of a cron expression in a zone. */
export interface PreviewRequest {
  cron: string;
  timeZone: string;
  count?: number;
  /** ISO-8601 instant to count from (default: the gateway's now). */
  after?: string;
  duration?: string;
  closesAfter?: string;
}

/** 200 answer of GET /schedules/preview. */
export interface SchedulePreview {
  expression: string;
  timeZone: string;
  windows: Array<{ opensAt: string; opensAtLocal: string; closesAt?: string; closesAtLocal?: string }>;
}

/**
 * 202 (200 again for the same VM and window) answer of POST /schedules/{id}/prestage: the window's
 * job and its upload; no `upload` once that upload is complete.
 */
export interface PrestagedUpload {
  jobId: string;
  state: JobState;
  upload?: UploadInstructions;
  window: { opensAt: string; closesAt: string };
  job: JobView;
}
