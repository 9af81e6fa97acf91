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
import type { UploadInstructions } from '../domain/offloads';
import type { BlockManifest } from '../clouds/aws/ebs-blocks';

export type {
  AwsTarget,
  BlockManifest,
  CloudName,
  ImageCacheView,
  ImageFormatName,
  JobLease,
  JobState,
  JobView,
  LeaseRequest,
  ReturnPlan,
  UploadInstructions,
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
