/**
 * The simulator's resource tables. Everything here is plain JSON so it can be saved under
 * `stateDir/state.json` and loaded on restart. Time-based states are derived from the timestamps
 * (see `tick` in each resource module), so a restarted simulator resumes where it stopped.
 */
import type { Tag } from './protocol';

export interface AwsSimTiming {
  /** Default for every phase below that is not given (ms). Default 200. */
  phaseMs: number;
  /** Each ImportImage phase: pending, validating, validated, converting, preparing ami; and deleting. */
  importPhaseMs: number;
  /** pending → running. */
  instanceStartMs: number;
  /** stopping → stopped. */
  instanceStopMs: number;
  /** shutting-down → terminated. */
  instanceTerminateMs: number;
  /** How long a terminated instance stays visible in DescribeInstances. Default 60 000. */
  terminatedVisibleMs: number;
  /** Minimum time an export task stays active (and cancelling lasts). */
  exportMs: number;
  /** pending → completed (or error) of a snapshot after CompleteSnapshot or CreateSnapshot. */
  snapshotMs: number;
  /**
   * How long one minute of a StartSnapshot `Timeout` lasts in the simulator (default 60 000), so a
   * test can see a pending snapshot time out to `error` without waiting ten real minutes.
   */
  ebsMinuteMs: number;
}

export function resolveTiming(t: Partial<AwsSimTiming> = {}): AwsSimTiming {
  const phaseMs = t.phaseMs ?? 200;
  return {
    phaseMs,
    importPhaseMs: t.importPhaseMs ?? phaseMs,
    instanceStartMs: t.instanceStartMs ?? phaseMs,
    instanceStopMs: t.instanceStopMs ?? phaseMs,
    instanceTerminateMs: t.instanceTerminateMs ?? phaseMs,
    terminatedVisibleMs: t.terminatedVisibleMs ?? 60_000,
    exportMs: t.exportMs ?? phaseMs,
    snapshotMs: t.snapshotMs ?? phaseMs,
    ebsMinuteMs: t.ebsMinuteMs ?? 60_000,
  };
}

export type ImportSourceFormat = 'OVA' | 'VMDK' | 'VHD' | 'VHDX' | 'RAW';

export interface ImportDiskSource {
  format?: ImportSourceFormat;
  bucket?: string;
  key?: string;
  url?: string;
  description?: string;
  deviceName?: string;
}

/** One disk the import work produced (stored under disk id `<taskId>-<n>` until completion). */
export interface ImportedDisk {
  diskId: string;
  capacity: number;
  dataBytes: number;
  /** Size of the source object in S3 (SnapshotDetail.DiskImageSize). */
  sourceSize: number;
  /** AWS's SnapshotDetail.Format wording: RAW, VMDK, VHD, VHDX. */
  format: string;
  bucket?: string;
  key?: string;
  url?: string;
}

export interface ImportWork {
  state: 'running' | 'done' | 'failed';
  /** When the source passed format and partition validation. */
  validatedAt?: number;
  doneAt?: number;
  failedAt?: number;
  /** 'validating' failures show earlier than 'converting' ones. */
  failedPhase?: 'validating' | 'converting';
  failMessage?: string;
  disks?: ImportedDisk[];
  firmware?: 'bios' | 'efi';
}

export interface ImportTaskRec {
  id: string;
  createdAt: number;
  description?: string;
  clientToken?: string;
  roleName: string;
  architecture?: string;
  platform?: string;
  licenseType?: string;
  bootMode?: string;
  sources: ImportDiskSource[];
  tags: Tag[];
  /** failImport fault captured when the task was created. */
  injectedFailure?: string;
  work: ImportWork;
  canceledAt?: number;
  cancelReason?: string;
  /** Set when the completion was materialized (AMI + snapshots registered). */
  completedAt?: number;
  imageId?: string;
  snapshotIds?: string[];
  /** Disks were removed after a failure or a cancellation. */
  cleanedUp?: boolean;
}

export type SnapshotState = 'pending' | 'completed' | 'error';

export interface SnapshotRec {
  id: string;
  createdAt: number;
  volumeSize: number;
  capacity: number;
  description: string;
  tags: Tag[];
  importTaskId?: string;
  /** Absent means completed (VM Import registers its snapshots complete). */
  state?: SnapshotState;
  stateMessage?: string;
  /** When a sealing snapshot (CompleteSnapshot, CreateSnapshot) reaches `sealOutcome`. */
  sealAt?: number;
  sealOutcome?: 'completed' | 'error';
  /** How the snapshot was made: VM Import, the EBS direct APIs, or CreateSnapshot of a volume. */
  origin?: 'import' | 'ebs-direct' | 'volume';
  /** CreateSnapshot: the source volume. */
  volumeId?: string;
  /** StartSnapshot's ParentSnapshotId, or the snapshot a volume was created from. */
  parentSnapshotId?: string;
  /** The first snapshot of the lineage (ListChangedBlocks compares only within one); absent = own id. */
  lineage?: string;
  /** EBS direct API bookkeeping of a snapshot started with StartSnapshot. */
  ebs?: {
    /** StartSnapshot Timeout in minutes. */
    timeoutMin: number;
    /** Last StartSnapshot or PutSnapshotBlock; the Timeout counts from here. */
    lastActivityAt: number;
    clientToken?: string;
    completeRequestedAt?: number;
  };
}

export interface ImageRec {
  id: string;
  createdAt: number;
  name: string;
  description: string;
  architecture: string;
  bootMode: 'legacy-bios' | 'uefi';
  rootDeviceName: string;
  blockDevices: { deviceName: string; snapshotId: string; volumeSize: number }[];
  platform?: string;
  tags: Tag[];
  importTaskId?: string;
  /** RegisterImage's VirtualizationType (imported AMIs are hvm). */
  virtualizationType?: 'hvm' | 'paravirtual';
  /** RegisterImage's EnaSupport (imported AMIs have ENA). */
  enaSupport?: boolean;
}

export type InstanceStateName =
  'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export const INSTANCE_STATE_CODES: Record<InstanceStateName, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export interface InstanceRec {
  id: string;
  reservationId: string;
  imageId: string;
  instanceType: string;
  launchTime: number;
  state: InstanceStateName;
  stateSince: number;
  /** What `state` becomes after the current transition (for stop/terminate issued while pending). */
  stateReason?: { code: string; message: string };
  transitionReason: string;
  clientToken?: string;
  keyName?: string;
  amiLaunchIndex: number;
  privateIp: string;
  subnetId: string;
  vpcId: string;
  bootMode: 'legacy-bios' | 'uefi';
  /**
   * Volumes (disk ids in the DiskStore), the first one is the root. `baseSnapshotId` is the snapshot
   * the volume was created from or last snapshotted to (the parent of its next CreateSnapshot).
   */
  volumes: { deviceName: string; volumeId: string; capacity: number; baseSnapshotId?: string }[];
  /** AWS only exports instances that came from VM Import. */
  fromImport: boolean;
  tags: Tag[];
}

export interface ExportTaskRec {
  id: string;
  createdAt: number;
  description?: string;
  instanceId: string;
  targetEnvironment: string;
  diskImageFormat: 'VMDK' | 'RAW' | 'VHD';
  containerFormat?: 'ova';
  bucket: string;
  prefix: string;
  key: string;
  tags: Tag[];
  work: { state: 'running' | 'done' | 'failed'; doneAt?: number; failedAt?: number; message?: string };
  cancelRequestedAt?: number;
  /** 'completed' | 'cancelled' once final. */
  finalState?: 'completed' | 'cancelled';
  finalMessage?: string;
}

export interface SimState {
  version: 1;
  importTasks: Record<string, ImportTaskRec>;
  snapshots: Record<string, SnapshotRec>;
  images: Record<string, ImageRec>;
  instances: Record<string, InstanceRec>;
  exportTasks: Record<string, ExportTaskRec>;
  /** ClientToken → task id (ImportImage) and → reservation (RunInstances). */
  importTokens: Record<string, string>;
  runTokens: Record<string, { reservationId: string; fingerprint: string; instanceIds: string[] }>;
  /** StartSnapshot ClientToken → the snapshot it created and the request it came with. */
  ebsTokens: Record<string, { snapshotId: string; fingerprint: string }>;
}

export function emptyState(): SimState {
  return {
    version: 1,
    importTasks: {},
    snapshots: {},
    images: {},
    instances: {},
    exportTasks: {},
    importTokens: {},
    runTokens: {},
    ebsTokens: {},
  };
}
