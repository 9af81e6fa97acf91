/**
 * The simulator's resource tables. Plain JSON, saved as `stateDir/state.json` when a stateDir is
 * given. Time-based states (provisioning, power state, long-running operations) are derived from
 * timestamps, so a restarted simulator resumes where it stopped.
 */
import type { PageChanges } from './ranges';

export interface AzureSimTiming {
  /** Default for every duration below that is not given (ms). Default 100. */
  phaseMs: number;
  /** How long a long-running operation stays InProgress (create, grant, revoke, delete, power ops). */
  operationMs: number;
  /** VM PowerState/starting → running (create and start). */
  vmStartMs: number;
  /** VM PowerState/deallocating → deallocated. */
  vmDeallocateMs: number;
}

export function resolveTiming(t: Partial<AzureSimTiming> = {}): AzureSimTiming {
  const phaseMs = t.phaseMs ?? 100;
  return {
    phaseMs,
    operationMs: t.operationMs ?? phaseMs,
    vmStartMs: t.vmStartMs ?? phaseMs,
    vmDeallocateMs: t.vmDeallocateMs ?? phaseMs,
  };
}

/** Azure's disk states (DiskState enum) that the simulator uses. */
export type DiskState =
  'ReadyToUpload' | 'ActiveUpload' | 'Unattached' | 'Attached' | 'Reserved' | 'ActiveSAS';

export interface ResourceBase {
  id: string;
  name: string;
  resourceGroup: string;
  location: string;
  tags?: Record<string, string>;
  createdAt: number;
  /** Provisioning shows Creating/Updating until then. */
  readyAt: number;
  /** Set by DELETE: the resource shows provisioningState Deleting until then, and is gone after. */
  deletingUntil?: number;
}

export interface DiskRec extends ResourceBase {
  uniqueId: string;
  /** Name of the page blob in Azurite that holds the disk (and its snapshots). */
  blob: string;
  sku: string;
  osType?: string;
  hyperVGeneration?: string;
  uploadSizeBytes: number;
  state: DiskState;
  /** VM the disk is attached to (managedBy). */
  managedBy?: string;
  /** Pages written since the newest snapshot of this disk. */
  pending: PageChanges;
}

export interface SnapshotRec extends ResourceBase {
  uniqueId: string;
  sourceDiskId: string;
  sourceUniqueId: string;
  blob: string;
  /** Azurite's snapshot timestamp of the blob. */
  blobSnapshot: string;
  /** Order among snapshots of the same blob. */
  seq: number;
  /** Pages written between the previous snapshot of the blob (seq - 1, or the blob's creation) and this one. */
  changes: PageChanges;
  incremental: boolean;
  sizeBytes: number;
  osType?: string;
  hyperVGeneration?: string;
  sku: string;
  state: 'Unattached' | 'ActiveSAS';
}

export interface SubnetRec {
  id: string;
  name: string;
  addressPrefix: string;
  /** Next host number handed out to a NIC. */
  nextHost: number;
}

export interface VnetRec extends ResourceBase {
  addressPrefixes: string[];
  subnets: SubnetRec[];
}

export interface NicRec extends ResourceBase {
  subnetId: string;
  privateIp: string;
  ipConfigName: string;
  macAddress: string;
  virtualMachine?: string;
}

export type PowerState = 'starting' | 'running' | 'deallocating' | 'deallocated';

export interface VmRec extends ResourceBase {
  vmId: string;
  vmSize: string;
  osDiskId: string;
  osDiskName: string;
  osType?: string;
  nicIds: string[];
  power: PowerState;
  /** When the current power transition (starting, deallocating) ends. */
  powerUntil: number;
}

/** Read or write access granted to a disk or snapshot (one SAS). */
export interface AccessRec {
  id: string;
  resourceId: string;
  mode: 'Read' | 'Write';
  container: string;
  expiresAt: number;
  revoked: boolean;
}

export interface OperationRec {
  id: string;
  /** ARM operation id (Disks_GrantAccess) for the calls log. */
  action: string;
  /** Microsoft.Compute or Microsoft.Network: where the status URL lives. */
  namespace: string;
  location: string;
  startedAt: number;
  doneAt: number;
  /** Failed operations carry Azure's error. */
  error?: { code: string; message: string };
  /** Body answered by the Location URL once the operation succeeded (grantAccess: AccessUri). */
  output?: unknown;
}

export interface AzureSimState {
  version: 1;
  /** HMAC key for bearer tokens and SAS signatures, so both survive a restart. */
  secret: string;
  disks: Record<string, DiskRec>;
  snapshots: Record<string, SnapshotRec>;
  vnets: Record<string, VnetRec>;
  nics: Record<string, NicRec>;
  vms: Record<string, VmRec>;
  accesses: Record<string, AccessRec>;
  operations: Record<string, OperationRec>;
  /** Blob name → snapshot count ever taken, for seq. */
  blobSeq: Record<string, number>;
  /** Blobs whose disk is gone but whose snapshots still live (deleted with the last snapshot). */
  orphanBlobs: string[];
}

export const emptyState = (secret: string): AzureSimState => ({
  version: 1,
  secret,
  disks: {},
  snapshots: {},
  vnets: {},
  nics: {},
  vms: {},
  accesses: {},
  operations: {},
  blobSeq: {},
  orphanBlobs: [],
});

/** ARM resource ids compare case-insensitively; tables are keyed by the lower-cased id. */
export const key = (id: string) => id.toLowerCase();
