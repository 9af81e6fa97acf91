/**
 * The job: one VM's trip to a cloud and back. Everything the API shows and every resource a
 * workflow creates is recorded here, so nothing a job made is ever untracked.
 */

export const JOB_STATES = [
  'awaiting-upload', // created; waiting for the client to upload the image (multipart, presigned)
  'inspecting', // upload complete; manifest, OVF and disk format are being checked
  'importing', // ImportImage running
  'staged', // the image is in the cloud, ready to launch; waiting for the launch time or POST …/launch
  'launching', // RunInstances issued, waiting for `running`
  'running', // the VM runs in the cloud
  'returning', // stop → export (AWS import mode) or snapshot + changed blocks (AWS direct, Azure) → publish → clean up
  'returned', // the image is back in staging, with a download URL; cloud resources removed
  'return-failed', // the return did not finish; the instance and its disk are kept (no lost bytes)
  'failed', // the offload failed; compensation removed what it had created
  'cancelling', // DELETE accepted (202); the cancel workflow removes the resources
  'cancelled', // DELETE finished; everything the job created is gone
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** States a job never leaves on its own. */
export const TERMINAL_STATES: ReadonlySet<JobState> = new Set(['returned', 'failed', 'cancelled']);
/** Every state of a job that is not done yet. */
export const ACTIVE_STATES: readonly JobState[] = JOB_STATES.filter((s) => !TERMINAL_STATES.has(s));

/**
 * What the client uploads: a VM image, or (`delta`) only the 512 KiB blocks that differ from the
 * VM's cached EBS snapshot (AWS direct offloads; `burstgate offload --incremental`).
 */
export type ImageFormatName = 'ova' | 'vmdk' | 'vhd' | 'vhdx' | 'raw' | 'delta';
export type CloudName = 'aws' | 'azure';

/**
 * How a disk reaches AWS: `direct` writes its blocks into an EBS snapshot (EBS direct APIs) and
 * registers an AMI from it; `import` hands the staged image to VM Import (which also injects drivers).
 */
export type AwsMode = 'direct' | 'import';

export interface AwsTarget {
  cloud: 'aws';
  region: string;
  instanceType: string;
  /**
   * How the disk reaches AWS: `direct` (EBS direct APIs → snapshot → AMI; returned as a delta of the
   * changed 512 KiB blocks) or `import` (VM Import; returned by export as an OVA). As requested, or
   * resolved by inspect when the request left it out (see `resolveAwsMode`). Absent on jobs created
   * before the direct path existed, and before inspect ran: import.
   */
  mode?: AwsMode;
  /** Why inspect chose `mode` (the caller's choice, or what the OVF says about the guest). */
  modeReason?: string;
}
/** An Azure target as the job keeps it: the resource group is resolved (the gateway's default when the request named none). */
export interface AzureTarget {
  cloud: 'azure';
  location: string;
  vmSize: string;
  resourceGroup: string;
}
export type JobTarget = AwsTarget | AzureTarget;

/**
 * An AWS job whose disk went by the EBS direct APIs: it keeps an image cache entry, and it comes
 * back as changed blocks rather than by export.
 */
export const isAwsDirect = (job: Pick<Job, 'target'>): boolean =>
  job.target.cloud === 'aws' && job.target.mode === 'direct';

/** Where a target's resources live: the AWS region or the Azure location. */
export function targetLocation(target: JobTarget): string {
  return target.cloud === 'aws' ? target.region : target.location;
}

/** A cloud or staging resource the job created. Recorded before the step that created it ends. */
export type ResourceType =
  | 'multipart-upload'
  | 's3-object'
  | 'import-task'
  | 'ami'
  | 'snapshot'
  | 'instance'
  | 'export-task'
  // Azure (ids are ARM resource ids; `snapshot` is shared with AWS, told apart by the job's target)
  | 'virtual-machine'
  | 'network-interface'
  | 'disk';

export interface JobResource {
  type: ResourceType;
  id: string;
  /** Where it lives: region (AWS) or location (Azure) for cloud resources, bucket for S3 ones. */
  location: string;
  createdAt: string;
  /** Set when the resource is gone (removed by us, or consumed, e.g. a completed multipart upload). */
  removedAt?: string;
  /**
   * Kept on purpose: the file the user will download (an `s3-object`), or a snapshot/AMI the image
   * cache owns (AWS direct mode). Return cleanup never removes either; cancel removes only the download.
   */
  retained?: boolean;
  /**
   * AWS direct: the snapshot, AMI or block manifest belongs to the image cache (always with
   * `retained`). No cleanup, cancel or compensation of a job removes it; the cache does when it
   * replaces the entry (shared/domain/aws-image-cache.ts).
   */
  imageCache?: boolean;
}

export interface JobStep {
  name: string;
  outcome: 'succeeded' | 'failed';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  detail?: string;
}

/** Why a job failed (`job.error.type`): stable, listed in the README; clients switch on them. */
export const JOB_ERROR_TYPES = [
  'image-rejected',
  'upload-missing',
  'import-failed',
  'export-failed',
  'cloud-rejected',
  'cloud-timed-out',
  'workflow-start-failed',
  'cleanup-incomplete',
] as const;
export type JobErrorType = (typeof JOB_ERROR_TYPES)[number];

export interface JobError {
  /** Stable problem type URI fragment, e.g. `import-failed`. */
  type: JobErrorType;
  title: string;
  detail: string;
  /** The step during which it happened. */
  step?: string;
}

export interface VmHardware {
  vcpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'efi';
  /** The guest OS as the OVF names it (`vmw:osType`, or the OperatingSystemSection's description). */
  osType?: string;
  disks: Array<{ name: string; capacityBytes: number; format: string }>;
  nics: Array<{ name: string; network?: string; adapterType?: string }>;
}

/**
 * How long the VM may stay in the cloud, and what happens then. Every job has one: the request's,
 * or the deployment's default (`defaultLeaseSeconds` from the planned launch), so no VM runs
 * forever by mistake. The README's "Leases and deadlines" section is the contract.
 */
export interface JobLease {
  /** When the lease ends: `onExpiry` happens then (if the return has not started earlier). */
  expiresAt: string;
  /** `return`: bring the VM home. `cancel`: remove everything, bring nothing home. */
  onExpiry: 'return' | 'cancel';
  /** When the VM must be home (returned image published); the return starts early enough, by estimate. */
  returnBy?: string;
  /** `request`: set by POST /offloads or PATCH; `default`: the deployment's default lease. */
  source: 'request' | 'default';
}

/** The timer a lease sets: when the gateway will start the return (or cancel) on its own, and why. */
export interface ReturnPlan {
  startAt: string;
  /** `lease-expires`: at expiresAt. `return-by`: returnBy minus the estimated return duration. */
  reason: 'lease-expires' | 'return-by';
  /** What happens at startAt (the lease's onExpiry, or `return` for a return-by start). */
  action: 'return' | 'cancel';
  /** Estimated seconds from the start of the return to the image published (return-by plans). */
  estimateSeconds?: number;
  /** How the estimate was made, in words (earlier returns of this VM, or the first-return model). */
  basis?: string;
}

/**
 * When a staged VM launches (absent: as soon as its image is in). `at`: at that instant (a timer
 * releases it); `hold`: when POST /offloads/{id}/launch says so.
 */
export interface JobLaunch {
  mode: 'at' | 'hold';
  at?: string;
  /** When the launch was released, and by what (the API, or the timer of `at`). */
  releasedAt?: string;
  releasedBy?: 'api' | 'timer';
}

/** A job's burst window: it launches at opensAt and must be home by closesAt (its lease's returnBy). */
export interface JobWindow {
  scheduleId: string;
  scheduleName: string;
  opensAt: string;
  closesAt: string;
  onMissed: 'open-late' | 'skip';
}

/**
 * The tenant of everything made before tenants existed (jobs, schedules and cache entries without
 * an owner, keys without a tenant): upgrading a deployment keeps its one team's work visible to it.
 */
export const DEFAULT_TENANT = 'default';
/** Tenant names: lower case, digits and dashes, 1–63 characters (they go into table keys and logs). */
export const TENANT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** The tenant that owns a job, schedule or cache entry. */
export const ownerOf = (thing: { tenant?: string }): string => thing.tenant ?? DEFAULT_TENANT;

/** What a job costs: for now the estimate made when it was accepted (budgets.ts). */
export interface JobCost {
  currency: 'USD';
  /** USD: the target's type or size for the lease's hours, and the trip's other lines, at list prices. */
  estimated: number;
  estimatedAt: string;
  /** The hours the estimate counts (the lease's). */
  hours: number;
  /** How it was made, in words (the size, the disk, the guest OS assumed). */
  basis: string;
}

export interface Job {
  jobId: string;
  /** The tenant whose API key made the job (absent: DEFAULT_TENANT); only it sees the job. */
  tenant?: string;
  vmName: string;
  state: JobState;
  target: JobTarget;
  callbackUrl?: string;
  /** Signs the callback's deliveries (Standard Webhooks `whsec_…`); shown once, in POST /offloads' answer. */
  callbackSecret?: string;
  /** The callback answered 410 Gone: no more deliveries to it. */
  callbackDisabledAt?: string;
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
    /**
     * Where the virtual disk lies in the staged object (an OVA's disk entry; the whole object for a
     * bare disk image) and its format, so later steps open it by ranged GETs without re-reading the OVA.
     */
    disk?: { offset: number; size: number; format: string };
    /** A delta upload, as inspect found it: where its extent index waits, and what it carries. */
    delta?: {
      /** S3 key (staging bucket) of the extent index (workflow/aws-delta-upload.ts). */
      indexKey: string;
      baseSha256: string;
      baseCapacity: number;
      extents: number;
      dataBytes: number;
      zeroBytes: number;
    };
  };
  hardware?: VmHardware;
  resources: JobResource[];
  steps: JobStep[];
  bytes: {
    uploaded: number;
    imported?: number;
    /** Bytes read back from the cloud on return (AWS: the exported OVA, or the EBS blocks read; Azure: the changed ranges). */
    exported?: number;
    /** Azure: bytes of the source disk its format maps as data (what a full copy would have to read). */
    allocated?: number;
    /** Azure: bytes written to the managed disk's pages (zero sectors are never written). */
    pagesWritten?: number;
    /** AWS direct: 512 KiB blocks put into the EBS snapshot (PutSnapshotBlock calls that succeeded). */
    blocksUploaded?: number;
    /**
     * AWS direct: non-zero blocks not put because the parent snapshot (the image cache's) already
     * holds the same bytes; with an identical cached image, every non-zero block.
     */
    blocksSkipped?: number;
    /** AWS direct: bytes put into the EBS snapshot (blocksUploaded × 512 KiB). */
    ebsBytesWritten?: number;
    /** Return as a delta: bytes the diff reported changed since the offload (Azure pages; AWS 512 KiB blocks, cut at the disk's end). */
    changed?: number;
  };
  /** Cloud-side ids, for quick reading (also present in `resources`). */
  cloud: {
    importTaskId?: string;
    /** AWS: the AMI the instance is launched from (import: VM Import's; direct: registered from the snapshot, or the cached one). */
    amiId?: string;
    snapshotIds?: string[];
    instanceId?: string;
    exportTaskId?: string;
    /** Azure: ARM resource ids of what the job created. */
    diskId?: string;
    /**
     * The snapshot the return compares against. Azure: ARM id of the snapshot taken after the upload.
     * AWS direct: the EBS snapshot (snap-…) the instance was launched from — the one uploaded, or the
     * image cache's that was reused — the return's ListChangedBlocks base.
     */
    baseSnapshotId?: string;
    networkInterfaceId?: string;
    virtualMachineId?: string;
    /** The snapshot taken for the return (Azure: ARM id; AWS direct: the root volume's EBS snapshot). */
    returnSnapshotId?: string;
    /** Azure and AWS direct: the chunk size the upload ranges were planned with. */
    uploadChunkBytes?: number;
    /** AWS direct: S3 key of the block manifest (block index → SHA-256) of the snapshot uploaded. */
    blockManifestKey?: string;
    /** AWS direct: what the image cache gave this offload (decided by the prepare step). */
    imageCache?: {
      /**
       * `reused`: identical content was cached; its snapshot (and AMI) are launched, nothing uploaded.
       * `incremental`: a child of the cached snapshot, only the blocks that differ put.
       * `full`: no usable cache entry; every non-zero block put.
       */
      outcome: 'reused' | 'incremental' | 'full';
      /** The cached snapshot reused (`reused`) or used as ParentSnapshotId (`incremental`). */
      snapshotId?: string;
      /** The cached entry's block manifest (`incremental`: the blocks compared against). */
      manifestKey?: string;
      /** The job that uploaded the cached snapshot. */
      fromJobId?: string;
    };
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
    /** The cancel workflow's latest execution, and how many a cancel has started (a DELETE may retry one that failed). */
    cancelArn?: string;
    cancelAttempts?: number;
    /** Times the embedded deployment restarted an interrupted workflow. */
    resumes?: number;
    uploadTaskToken?: string;
    /** AwaitLaunch's task token (a held or timed launch waits in the `staged` state). */
    launchTaskToken?: string;
  };
  /** Set when the image has come home. */
  returned?: {
    bucket: string;
    key: string;
    /** `ova`: the whole VM (AWS export, import mode). `delta`: the ranges the VM changed (Azure, AWS direct mode; shared/images README). */
    format: 'ova' | 'delta';
    sizeBytes: number;
    sha256: string;
    diskSha256: string;
    /** Delta only: content SHA-256 of the disk the delta applies to (absent for a full-disk fallback). */
    baseDiskSha256?: string;
    /** True when the returned disk content is bit-identical to what was offloaded. */
    matchesOriginal: boolean;
  };
  error?: JobError;
  lease?: JobLease;
  cost?: JobCost;
  launch?: JobLaunch;
  /** Derived from the lease whenever it or the estimate changes; absent once the return has started. */
  returnPlan?: ReturnPlan;
  /** The `expiresAt` the lease-expiring event was sent for (each lease value warns once). */
  leaseWarnedFor?: string;
  /** When the latest return started, and what started it. */
  returnStartedAt?: string;
  returnStartedBy?: 'api' | 'lease';
  /**
   * Who cancelled the job: a DELETE, a lease that ended with `onExpiry: "cancel"` (or before the
   * VM ran), or its schedule (deleted before the window opened, or the window missed with `onMissed: "skip"`).
   */
  cancelledBy?: 'api' | 'lease' | 'schedule';
  /** The burst window the job is part of (created by a schedule's occurrence). */
  window?: JobWindow;
  /** When the returned image was published and the cloud side cleaned up. */
  returnedAt?: string;
  /** Set when a job with a `returnBy` came home: was it in time? */
  deadline?: { returnBy: string; returnedAt: string; met: boolean; marginSeconds: number };
}
