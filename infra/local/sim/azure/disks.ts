/**
 * Microsoft.Compute/disks: managed disks created for direct upload, with Azure's disk state machine
 * (ReadyToUpload → ActiveUpload → Unattached → Attached/Reserved, and ActiveSAS while a read SAS is
 * out) and its rules, each answered with Azure's code and HTTP status.
 */
import { randomUUID } from 'node:crypto';

import {
  checkEnum,
  COMPUTE,
  isoTime,
  lookup,
  prop,
  provisioningState,
  requireLocation,
  requireParam,
  resourceId,
  startOperation,
  str,
  tagsOf,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context';
import { activeSasUrl, answerGrant, parseGrant, revokeAll, SAS_ACCOUNT, SAS_BLOB_NAME } from './disk-access';
import { armError } from './errors';
import { key, type DiskRec } from './model';
import { noChanges } from './ranges';
import {
  accepted,
  answerPut,
  COMPUTE_PROVIDER,
  deleteResource,
  findRecord,
  getResource,
  listResources,
  newResource,
  recordToUpdate,
  requireNotDeleting,
  resourceHead,
  type ResourceKind,
} from './resources';
import { checkUploadedFooter } from './vhd-footer';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MIN_UPLOAD = 20 * MiB + 512;
const MAX_UPLOAD = 32 * 1024 * GiB + 512;

const DISKS: ResourceKind<DiskRec> = {
  ...COMPUTE_PROVIDER,
  type: 'disks',
  operations: 'Disks',
  label: 'Disk',
  table: (state) => state.disks,
  json: diskJson,
};

function diskJson(ctx: ArmContext, d: DiskRec) {
  const sizeBytes = d.uploadSizeBytes - 512;
  return {
    ...resourceHead(DISKS, d),
    ...(d.managedBy ? { managedBy: d.managedBy } : {}),
    sku: { name: d.sku, tier: d.sku.startsWith('Premium') ? 'Premium' : 'Standard' },
    properties: {
      ...(d.osType ? { osType: d.osType } : {}),
      ...(d.hyperVGeneration ? { hyperVGeneration: d.hyperVGeneration } : {}),
      creationData: { createOption: 'Upload', uploadSizeBytes: d.uploadSizeBytes },
      diskSizeGB: Math.ceil(sizeBytes / GiB),
      diskSizeBytes: sizeBytes,
      uniqueId: d.uniqueId,
      provisioningState: provisioningState(ctx, d, 'Updating'),
      diskState: d.state,
      timeCreated: isoTime(d.createdAt),
      networkAccessPolicy: 'AllowAll',
      publicNetworkAccess: 'Enabled',
      encryption: { type: 'EncryptionAtRestWithPlatformKey' },
    },
  };
}

function checkUploadSize(size: unknown): number {
  requireParam(size, 'disk.creationData.uploadSizeBytes');
  if (typeof size !== 'number' || !Number.isSafeInteger(size))
    throw armError(
      'InvalidParameter',
      `The value '${String(size)}' of parameter 'uploadSizeBytes' is not a valid integer.`,
    );
  if (size < MIN_UPLOAD || size > MAX_UPLOAD)
    throw armError(
      'BadRequest',
      `The upload size in bytes ${size} must be between ${MIN_UPLOAD} bytes (20 MiB + 512 bytes for the VHD footer) and ${MAX_UPLOAD} bytes (32 TiB + 512 bytes for the VHD footer).`,
    );
  if ((size - 512) % MiB !== 0)
    throw armError(
      'BadRequest',
      `The upload size in bytes ${size} - 512 bytes for the VHD footer (${size - 512} in this case) must be a multiple of MiB.`,
    );
  return size;
}

const DISK_SKUS = [
  'Standard_LRS',
  'Premium_LRS',
  'StandardSSD_LRS',
  'UltraSSD_LRS',
  'Premium_ZRS',
  'StandardSSD_ZRS',
  'PremiumV2_LRS',
];

export async function putDisk(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): Promise<ArmResponse> {
  const id = resourceId(ctx, rg, COMPUTE, 'disks', name);
  const body = req.body;
  const location = requireLocation(body);
  const createOption = str(body, 'properties', 'creationData', 'createOption');
  requireParam(createOption, 'disk.creationData.createOption');
  if (createOption !== 'Upload')
    throw armError(
      'InvalidParameter',
      `The value '${String(createOption)}' of parameter 'disk.creationData.createOption' is not supported by the burstgate simulator; it creates disks with 'Upload' only.`,
    );
  const uploadSizeBytes = checkUploadSize(prop(body, 'properties', 'creationData', 'uploadSizeBytes'));
  const osType = str(body, 'properties', 'osType');
  const hyperVGeneration = str(body, 'properties', 'hyperVGeneration');
  const sku = str(body, 'sku', 'name') ?? 'Standard_LRS';
  checkEnum(osType, 'disk.osType', ['Windows', 'Linux']);
  checkEnum(hyperVGeneration, 'disk.hyperVGeneration', ['V1', 'V2']);
  checkEnum(sku, 'disk.sku.name', DISK_SKUS);
  const tags = tagsOf(body);

  const existing = recordToUpdate(ctx, DISKS, id, name);
  if (existing) {
    if (existing.uploadSizeBytes !== uploadSizeBytes)
      throw armError('PropertyChangeNotAllowed', "Changing property 'uploadSizeBytes' is not allowed.", 409);
    existing.tags = tags;
    return answerPut(ctx, req, DISKS, existing, { created: false });
  }

  const uniqueId = randomUUID();
  const blob = `disk-${uniqueId}`;
  await ctx.store.createPageBlob(blob, uploadSizeBytes);
  const disk: DiskRec = {
    ...newResource(id, name, rg, location, tags, ctx.now(), ctx.timing.operationMs),
    uniqueId,
    blob,
    sku,
    ...(osType ? { osType } : {}),
    ...(hyperVGeneration ? { hyperVGeneration } : {}),
    uploadSizeBytes,
    state: 'ReadyToUpload',
    pending: noChanges(),
  };
  ctx.state.disks[key(id)] = disk;
  return answerPut(ctx, req, DISKS, disk, { created: true });
}

export function getDisk(ctx: ArmContext, _req: ArmRequest, rg: string, name: string): ArmResponse {
  return getResource(ctx, DISKS, rg, name);
}

export function listDisks(ctx: ArmContext, rg: string): ArmResponse {
  return listResources(ctx, DISKS, rg);
}

export function grantDiskAccess(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const d = requireNotDeleting(ctx, DISKS, rg, name);
  const { access, seconds } = parseGrant(req.body);
  const vm = d.managedBy ? lookup(ctx.state.vms, d.managedBy) : undefined;
  if (access === 'Write') {
    if (d.state !== 'ReadyToUpload' && d.state !== 'ActiveUpload')
      throw armError(
        'OperationNotAllowed',
        `Write access can only be granted to a disk created with createOption 'Upload' that is in ReadyToUpload state; disk ${name} is in ${d.state} state.`,
        409,
      );
    d.state = 'ActiveUpload';
  } else {
    if (d.state === 'ReadyToUpload' || d.state === 'ActiveUpload')
      throw armError(
        'OperationNotAllowed',
        `Read access cannot be granted to disk ${name} in ${d.state} state; finish the upload and revoke its write access first.`,
        409,
      );
    if (vm && (vm.power === 'running' || vm.power === 'starting' || vm.power === 'deallocating'))
      throw armError(
        'OperationNotAllowed',
        `Access not permitted because disk ${name} is currently attached to running VM ${vm.id}.`,
        409,
      );
    d.state = 'ActiveSAS';
  }
  return answerGrant(ctx, req, DISKS, d, access, seconds);
}

export async function revokeDiskAccess(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): Promise<ArmResponse> {
  const d = requireNotDeleting(ctx, DISKS, rg, name);
  let error: { code: string; message: string } | undefined;
  if (d.state === 'ActiveUpload') {
    // Azure validates the uploaded VHD when upload access ends; a bad one leaves the disk in ActiveUpload
    const footer = await ctx.store.read(d.blob, d.uploadSizeBytes - 512, 512);
    const url = activeSasUrl(ctx, d.id) ?? `${ctx.blobUrl}/${SAS_ACCOUNT}/${d.uniqueId}/${SAS_BLOB_NAME}`;
    const bad = checkUploadedFooter(footer, d.uploadSizeBytes, SAS_BLOB_NAME, url);
    if (bad) error = { code: bad.code, message: bad.message };
    else {
      d.state = 'Unattached';
      revokeAll(ctx, d.id);
    }
  } else if (d.state === 'ActiveSAS') {
    d.state = d.managedBy ? 'Reserved' : 'Unattached';
    revokeAll(ctx, d.id);
  }
  return accepted(ctx, req, 'Disks_RevokeAccess', COMPUTE, d.location, error ? { error } : {});
}

export function deleteDisk(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): ArmResponse | Promise<ArmResponse> {
  const repeated = findRecord(ctx, DISKS, rg, name);
  // Unlike other types, a repeated DELETE of a disk has never saved the state: its operation reaches
  // state.json with the next save. Kept as it was; deleteResource would save.
  if (repeated?.deletingUntil !== undefined)
    return { status: 202, headers: startOperation(ctx, req, 'Disks_Delete', COMPUTE, repeated.location) };
  return deleteResource(ctx, req, DISKS, rg, name, async (d) => {
    if (d.managedBy)
      throw armError('OperationNotAllowed', `Disk ${name} is attached to VM ${d.managedBy}.`, 409);
    if (d.state === 'ActiveSAS' || d.state === 'ActiveUpload')
      throw armError(
        'OperationNotAllowed',
        `Disk ${name} is in ${d.state} state and cannot be deleted; revoke its access first.`,
        409,
      );
    const snapshotsLeft = Object.values(ctx.state.snapshots).some((s) => s.blob === d.blob);
    // incremental snapshots keep the disk's blob (they are Azurite snapshots of it)
    if (snapshotsLeft) ctx.state.orphanBlobs.push(d.blob);
    else await ctx.store.deleteBlob(d.blob);
  });
}
