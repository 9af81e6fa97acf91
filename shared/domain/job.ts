/**
 * The job: one VM's trip to a cloud and back. Everything the API shows and every resource a
 * workflow creates is recorded here, so nothing a job made is ever untracked.
 */

export const JOB_STATES = [
  'awaiting-upload', // created; waiting for the client to upload the image (multipart, presigned)
  'inspecting', // upload complete; manifest, OVF and disk format are being checked
  'importing', // ImportImage running
  'launching', // RunInstances issued, waiting for `running`
  'running', // the VM runs in the cloud
  'returning', // stop → export → publish → clean up
  'returned', // the image is back in staging, with a download URL; cloud resources removed
  'return-failed', // the return did not finish; the instance and its disk are kept (no lost bytes)
  'failed', // the offload failed; compensation removed what it had created
  'cancelling', // DELETE accepted; removing resources
  'cancelled', // DELETE finished; everything the job created is gone
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves on its own. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['returned', 'failed', 'cancelled']);

export type ImageFormatName = 'ova' | 'vmdk' | 'vhd' | 'vhdx' | 'raw';
export type CloudName = 'aws';

export interface AwsTarget {
  cloud: 'aws';
  region: string;
  instanceType: string;
}
export type JobTarget = AwsTarget;

/** A cloud or staging resource the job created. Recorded before the step that created it ends. */
export type ResourceType =
  'multipart-upload' | 's3-object' | 'import-task' | 'ami' | 'snapshot' | 'instance' | 'export-task';

export interface JobResource {
  type: ResourceType;
  id: string;
  /** Where it lives: region for cloud resources, bucket for S3 ones. */
  location: string;
  createdAt: string;
  /** Set when the resource is gone (removed by us, or consumed, e.g. a completed multipart upload). */
  removedAt?: string;
  /** The file the user will download (the exported image) is kept on purpose. */
  retained?: boolean;
}

export interface JobStep {
  name: string;
  outcome: 'succeeded' | 'failed';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  detail?: string;
}

export interface JobError {
  /** Stable problem type URI fragment, e.g. `import-failed`. */
  type: string;
  title: string;
  detail: string;
  /** The step during which it happened. */
  step?: string;
}

export interface VmHardware {
  vcpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'efi';
  disks: Array<{ name: string; capacityBytes: number; format: string }>;
  nics: Array<{ name: string; network?: string; adapterType?: string }>;
}

export interface Job {
  jobId: string;
  vmName: string;
  state: JobState;
  target: JobTarget;
  callbackUrl?: string;
  createdAt: string;
  updatedAt: string;
  /** Optimistic-concurrency counter; every write increments it. */
  version: number;
  image: {
    format: ImageFormatName;
    bucket: string;
    key: string;
    sizeBytes: number;
    uploadId?: string;
    /** SHA-256 of the uploaded file, as the client declared it (optional) and as inspect measured it. */
    sha256?: string;
    /** SHA-256 of the virtual disk content (all bytes, zeros included). */
    diskSha256?: string;
    diskCapacityBytes?: number;
    partitionTable?: 'gpt' | 'mbr' | 'none';
  };
  hardware?: VmHardware;
  resources: JobResource[];
  steps: JobStep[];
  bytes: { uploaded: number; imported?: number; exported?: number };
  /** Cloud-side ids, for quick reading (also present in `resources`). */
  cloud: {
    importTaskId?: string;
    amiId?: string;
    snapshotIds?: string[];
    instanceId?: string;
    exportTaskId?: string;
  };
  /** The step under way, so its duration can be recorded when it ends. */
  activeStep?: { name: string; startedAt: string };
  /** When the client finished the upload (the await-upload step may run before or after). */
  uploadCompletedAt?: string;
  /** Step Functions bookkeeping. */
  execution?: {
    offloadArn?: string;
    returnArn?: string;
    returnAttempts?: number;
    /** Times the embedded deployment restarted an interrupted workflow. */
    resumes?: number;
    uploadTaskToken?: string;
  };
  /** Set when the image has come home. */
  returned?: {
    bucket: string;
    key: string;
    format: 'ova';
    sizeBytes: number;
    sha256: string;
    diskSha256: string;
    /** True when the returned disk content is bit-identical to what was offloaded. */
    matchesOriginal: boolean;
  };
  error?: JobError;
}
