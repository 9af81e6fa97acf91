/**
 * The HTTP API's request and answer bodies as the client sees them. The job view and the upload
 * instructions are the gateway's own types (shared/domain), so both sides change together.
 */
import type { ImageFormatName, JobState, JobTarget } from '../domain/job';
import type { JobView } from '../domain/view';
import type { UploadInstructions } from '../domain/offloads';

export type { ImageFormatName, JobState, JobTarget, JobView, UploadInstructions };

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
