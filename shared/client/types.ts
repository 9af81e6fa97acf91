/**
 * The HTTP API's request and answer bodies as the client sees them. The job view is the gateway's
 * own type (shared/domain), so both sides change together. The target and the download are also
 * spelled out here, as the client's side of the contract for issue #4 (an Azure target; a download
 * that is a whole OVA or a delta to apply on-prem): `ClientJobView` is the job view with those two
 * fields as wide as the contract says, and the client reads jobs through it, so it handles them
 * whether or not the gateway's own types have caught up. (Once shared/domain has the Azure target
 * and the delta download, `ClientJobView` and `JobView` are the same type.)
 */
import type { ImageFormatName, JobState } from '../domain/job';
import type { JobView } from '../domain/view';
import type { UploadInstructions } from '../domain/offloads';

export type { ImageFormatName, JobState, JobView, UploadInstructions };

/** Where an offload runs on AWS: VM Import, then EC2. */
export interface AwsTarget {
  cloud: 'aws';
  /** e.g. `us-east-1`. */
  region: string;
  /** EC2 instance type, e.g. `t3.medium`. */
  instanceType: string;
}

/** Where an offload runs on Azure: a managed disk from a fixed VHD, then a VM. */
export interface AzureTarget {
  cloud: 'azure';
  /** Azure region name, e.g. `westeurope`. */
  location: string;
  /** VM size, e.g. `Standard_D2s_v3`. */
  vmSize: string;
  /** Resource group for the job's resources (default: the gateway's own). */
  resourceGroup?: string;
}

export type JobTarget = AwsTarget | AzureTarget;
export type CloudName = JobTarget['cloud'];

/** What a returned job offers for download (GET /offloads/{id} once it is `returned`). */
export interface JobDownload {
  /** Presigned GET URL; its name is `<vmName>.ova` or `<vmName>.bgdelta`. */
  url: string;
  expiresAt: string;
  /**
   * `ova`: the whole VM. `delta`: only the ranges the VM changed in the cloud (shared/images
   * README, "Delta artifact"), to be applied to the image that was offloaded.
   */
  format: 'ova' | 'delta';
  /** Bytes of the file behind `url`. */
  sizeBytes: number;
  /** SHA-256 of the file behind `url`. */
  sha256: string;
  /** Content SHA-256 of the returned disk (all bytes, zeros included; the same in any format). */
  diskSha256: string;
  /** Delta only: content SHA-256 of the disk the delta applies to (the offloaded image's disk). */
  baseDiskSha256?: string;
  /** True when the returned disk is bit-identical to the one that was offloaded. */
  matchesOriginal: boolean;
}

/** GET /offloads/{id}, with the target and download as the contract defines them. */
export type ClientJobView = Omit<JobView, 'target' | 'download'> & {
  target: JobTarget;
  download?: JobDownload;
};

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
