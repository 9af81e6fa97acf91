/**
 * Microsoft.Compute/snapshots: incremental snapshots of a managed disk (createOption Copy), each an
 * Azurite snapshot of the disk's page blob carrying the pages written since the previous one, so
 * page-range diffs between snapshots of one disk are what Azure reports.
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
  str,
  tagsOf,
  type ArmContext,
  type ArmRequest,
  type ArmResponse,
} from './context';
import { answerGrant, parseGrant, revokeAll } from './disk-access';
import { armError } from './errors';
import { key, type SnapshotRec } from './model';
import { mergeChanges, noChanges } from './ranges';
import {
  accepted,
  answerPut,
  COMPUTE_PROVIDER,
  deleteResource,
  getResource,
  listResources,
  newResource,
  recordToUpdate,
  requireNotDeleting,
  resourceHead,
  type ResourceKind,
} from './resources';

const GiB = 1024 * 1024 * 1024;

const SNAPSHOTS: ResourceKind<SnapshotRec> = {
  ...COMPUTE_PROVIDER,
  type: 'snapshots',
  operations: 'Snapshots',
  label: 'Snapshot',
  table: (state) => state.snapshots,
  json: snapshotJson,
};

function snapshotJson(ctx: ArmContext, s: SnapshotRec) {
  return {
    ...resourceHead(SNAPSHOTS, s),
    sku: { name: s.sku, tier: 'Standard' },
    properties: {
      ...(s.osType ? { osType: s.osType } : {}),
      ...(s.hyperVGeneration ? { hyperVGeneration: s.hyperVGeneration } : {}),
      creationData: {
        createOption: 'Copy',
        sourceResourceId: s.sourceDiskId,
        sourceUniqueId: s.sourceUniqueId,
      },
      diskSizeGB: Math.ceil(s.sizeBytes / GiB),
      diskSizeBytes: s.sizeBytes,
      uniqueId: s.uniqueId,
      provisioningState: provisioningState(ctx, s, 'Updating'),
      diskState: s.state,
      timeCreated: isoTime(s.createdAt),
      incremental: s.incremental,
      ...(s.incremental ? { incrementalSnapshotFamilyId: s.sourceUniqueId } : {}),
      completionPercent: 100,
      networkAccessPolicy: 'AllowAll',
      encryption: { type: 'EncryptionAtRestWithPlatformKey' },
    },
  };
}

export async function putSnapshot(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): Promise<ArmResponse> {
  const id = resourceId(ctx, rg, COMPUTE, 'snapshots', name);
  const body = req.body;
  const location = requireLocation(body);
  const createOption = str(body, 'properties', 'creationData', 'createOption');
  requireParam(createOption, 'snapshot.creationData.createOption');
  if (createOption !== 'Copy')
    throw armError(
      'InvalidParameter',
      `The value '${String(createOption)}' of parameter 'snapshot.creationData.createOption' is not supported by the burstgate simulator; it creates snapshots with 'Copy' from a disk only.`,
    );
  const sourceId = str(body, 'properties', 'creationData', 'sourceResourceId');
  requireParam(sourceId, 'snapshot.creationData.sourceResourceId');
  const incremental = prop(body, 'properties', 'incremental') === true;
  const sku = str(body, 'sku', 'name') ?? 'Standard_LRS';
  checkEnum(sku, 'snapshot.sku.name', ['Standard_LRS', 'Premium_LRS', 'Standard_ZRS']);
  const tags = tagsOf(body);

  const existing = recordToUpdate(ctx, SNAPSHOTS, id, name);
  if (existing) {
    if (key(existing.sourceDiskId) !== key(sourceId as string))
      throw armError('PropertyChangeNotAllowed', "Changing property 'sourceResourceId' is not allowed.", 409);
    existing.tags = tags;
    return answerPut(ctx, req, SNAPSHOTS, existing, { created: false });
  }

  const disk = lookup(ctx.state.disks, sourceId as string);
  if (!disk || disk.deletingUntil !== undefined)
    throw armError('NotFound', `Resource ${String(sourceId)} not found.`, 404);
  if (disk.state === 'ReadyToUpload' || disk.state === 'ActiveUpload')
    throw armError(
      'OperationNotAllowed',
      `Cannot create a snapshot of disk ${disk.name} because it is in ${disk.state} state; finish the upload and revoke its write access first.`,
      409,
    );
  const blobSnapshot = await ctx.store.snapshot(disk.blob);
  const seq = (ctx.state.blobSeq[disk.blob] ?? 0) + 1;
  ctx.state.blobSeq[disk.blob] = seq;
  const snap: SnapshotRec = {
    ...newResource(id, name, rg, location, tags, ctx.now(), ctx.timing.operationMs),
    uniqueId: randomUUID(),
    sourceDiskId: disk.id,
    sourceUniqueId: disk.uniqueId,
    blob: disk.blob,
    blobSnapshot,
    seq,
    changes: disk.pending,
    incremental,
    sizeBytes: disk.uploadSizeBytes,
    ...(disk.osType ? { osType: disk.osType } : {}),
    ...(disk.hyperVGeneration ? { hyperVGeneration: disk.hyperVGeneration } : {}),
    sku,
    state: 'Unattached',
  };
  disk.pending = noChanges();
  ctx.state.snapshots[key(id)] = snap;
  return answerPut(ctx, req, SNAPSHOTS, snap, { created: true });
}

export function getSnapshot(ctx: ArmContext, _req: ArmRequest, rg: string, name: string): ArmResponse {
  return getResource(ctx, SNAPSHOTS, rg, name);
}

export function listSnapshots(ctx: ArmContext, rg: string): ArmResponse {
  return listResources(ctx, SNAPSHOTS, rg);
}

export function grantSnapshotAccess(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const s = requireNotDeleting(ctx, SNAPSHOTS, rg, name);
  const { access, seconds } = parseGrant(req.body);
  if (access !== 'Read')
    throw armError('OperationNotAllowed', `Only Read access can be granted to snapshot ${name}.`, 409);
  if (ctx.now() < s.readyAt)
    throw armError(
      'OperationNotAllowed',
      `Snapshot ${name} is still being created; retry when it has succeeded.`,
      409,
    );
  s.state = 'ActiveSAS';
  return answerGrant(ctx, req, SNAPSHOTS, s, access, seconds);
}

export function revokeSnapshotAccess(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): ArmResponse {
  const s = requireNotDeleting(ctx, SNAPSHOTS, rg, name);
  s.state = 'Unattached';
  revokeAll(ctx, s.id);
  return accepted(ctx, req, 'Snapshots_RevokeAccess', COMPUTE, s.location);
}

export function deleteSnapshot(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): ArmResponse | Promise<ArmResponse> {
  return deleteResource(ctx, req, SNAPSHOTS, rg, name, async (s) => {
    if (s.state === 'ActiveSAS')
      throw armError(
        'OperationNotAllowed',
        `Snapshot ${name} is in ActiveSAS state and cannot be deleted; revoke its access first.`,
        409,
      );
    await removeSnapshotBlob(ctx, s);
  });
}

/**
 * Removes a snapshot's Azurite snapshot. Its page changes move to the next snapshot of the same blob
 * (or to the disk's pending changes), so diffs that span the removed snapshot stay complete.
 */
async function removeSnapshotBlob(ctx: ArmContext, s: SnapshotRec): Promise<void> {
  const family = Object.values(ctx.state.snapshots)
    .filter((x) => x.blob === s.blob && x !== s && x.deletingUntil === undefined)
    .sort((a, b) => a.seq - b.seq);
  const next = family.find((x) => x.seq > s.seq);
  if (next) next.changes = mergeChanges(s.changes, next.changes);
  else {
    const disk = Object.values(ctx.state.disks).find(
      (d) => d.blob === s.blob && d.deletingUntil === undefined,
    );
    if (disk) disk.pending = mergeChanges(s.changes, disk.pending);
  }
  await ctx.store.deleteSnapshot(s.blob, s.blobSnapshot);
  const orphan = ctx.state.orphanBlobs.indexOf(s.blob);
  if (orphan >= 0 && family.length === 0) {
    await ctx.store.deleteBlob(s.blob);
    ctx.state.orphanBlobs.splice(orphan, 1);
  }
}
