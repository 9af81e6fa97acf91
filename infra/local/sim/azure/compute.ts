/**
 * Microsoft.Compute: managed disks (direct upload), incremental snapshots and virtual machines, with
 * Azure's disk state machine (ReadyToUpload → ActiveUpload → Unattached → Attached/Reserved, and
 * ActiveSAS while a read SAS is out) and its rules, each answered with Azure's code and HTTP status.
 */
import { createHmac, randomUUID } from 'node:crypto';

import {
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
import { armError } from './errors';
import { key, type AccessRec, type DiskRec, type SnapshotRec, type VmRec } from './model';
import { mergeChanges, noChanges } from './ranges';
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
  requireRecord,
  resourceHead,
  type ResourceKind,
} from './resources';
import { checkUploadedFooter } from './vhd-footer';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MIN_UPLOAD = 20 * MiB + 512;
const MAX_UPLOAD = 32 * 1024 * GiB + 512;
/** The blob name Azure gives every managed-disk SAS (…/<container>/abcd). */
export const SAS_BLOB_NAME = 'abcd';
const SAS_ACCOUNT = 'md-impexp-sim';

// ---------------------------------------------------------------- time-based state

/** Applies VM power transitions whose time has come (starting → running, deallocating → deallocated). */
export function tickVms(ctx: ArmContext): boolean {
  const now = ctx.now();
  let changed = false;
  for (const vm of Object.values(ctx.state.vms)) {
    if (vm.power === 'starting' && now >= vm.powerUntil) {
      vm.power = 'running';
      changed = true;
    } else if (vm.power === 'deallocating' && now >= vm.powerUntil) {
      vm.power = 'deallocated';
      const disk = lookup(ctx.state.disks, vm.osDiskId);
      if (disk?.state === 'Attached') disk.state = 'Reserved';
      changed = true;
    }
  }
  return changed;
}

// ---------------------------------------------------------------- SAS

export function sasSignature(secret: string, accessId: string, container: string): string {
  return createHmac('sha256', secret).update(`${accessId}\n${container}`).digest('base64');
}

function grantSas(ctx: ArmContext, resourceIdValue: string, mode: 'Read' | 'Write', seconds: number): string {
  const id = randomUUID();
  const container = ctx.newId().replace(/-/g, '').slice(0, 12);
  const access: AccessRec = {
    id,
    resourceId: key(resourceIdValue),
    mode,
    container,
    expiresAt: ctx.now() + seconds * 1000,
    revoked: false,
  };
  ctx.state.accesses[id] = access;
  const q = new URLSearchParams({
    sv: '2018-03-28',
    sr: 'b',
    si: id,
    sig: sasSignature(ctx.state.secret, id, container),
  });
  return `${ctx.blobUrl}/${SAS_ACCOUNT}/${container}/${SAS_BLOB_NAME}?${q.toString()}`;
}

function revokeAll(ctx: ArmContext, id: string): void {
  for (const a of Object.values(ctx.state.accesses)) if (a.resourceId === key(id)) a.revoked = true;
}

function activeSasUrl(ctx: ArmContext, id: string): string | undefined {
  const a = Object.values(ctx.state.accesses).find((x) => x.resourceId === key(id) && !x.revoked);
  return a ? `${ctx.blobUrl}/${SAS_ACCOUNT}/${a.container}/${SAS_BLOB_NAME}` : undefined;
}

function parseGrant(body: unknown): { access: 'Read' | 'Write'; seconds: number } {
  const access = str(body, 'access');
  requireParam(access, 'grantAccessData.access');
  if (access !== 'Read' && access !== 'Write')
    throw armError(
      'InvalidParameter',
      `The value '${String(access)}' of parameter 'grantAccessData.access' is not valid. Allowed values are 'Read' and 'Write'.`,
    );
  const seconds = prop(body, 'durationInSeconds');
  requireParam(seconds, 'grantAccessData.durationInSeconds');
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds <= 0)
    throw armError(
      'InvalidParameter',
      `The value '${String(seconds)}' of parameter 'grantAccessData.durationInSeconds' is not valid. It must be a positive number of seconds.`,
    );
  return { access, seconds };
}

/** Grants a SAS on a disk or snapshot; the operation's result (Location URL) carries the accessSAS. */
function answerGrant(
  ctx: ArmContext,
  req: ArmRequest,
  kind: ResourceKind<DiskRec> | ResourceKind<SnapshotRec>,
  r: DiskRec | SnapshotRec,
  access: 'Read' | 'Write',
  seconds: number,
): ArmResponse {
  const accessSAS = grantSas(ctx, r.id, access, seconds);
  return accepted(ctx, req, `${kind.operations}_GrantAccess`, COMPUTE, r.location, { output: { accessSAS } });
}

const DISKS: ResourceKind<DiskRec> = {
  ...COMPUTE_PROVIDER,
  type: 'disks',
  operations: 'Disks',
  label: 'Disk',
  table: (state) => state.disks,
  json: diskJson,
};

const SNAPSHOTS: ResourceKind<SnapshotRec> = {
  ...COMPUTE_PROVIDER,
  type: 'snapshots',
  operations: 'Snapshots',
  label: 'Snapshot',
  table: (state) => state.snapshots,
  json: snapshotJson,
};

const VMS: ResourceKind<VmRec> = {
  ...COMPUTE_PROVIDER,
  type: 'virtualMachines',
  operations: 'VirtualMachines',
  label: 'VM',
  table: (state) => state.vms,
  json: (ctx, vm) => vmJson(ctx, vm),
};

// ---------------------------------------------------------------- disks

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

function checkEnum(value: string | undefined, name: string, allowed: string[]): void {
  if (value !== undefined && !allowed.includes(value))
    throw armError(
      'InvalidParameter',
      `The value '${value}' of parameter '${name}' is not valid. Allowed values are ${allowed.map((a) => `'${a}'`).join(', ')}.`,
    );
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

// ---------------------------------------------------------------- snapshots

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

// ---------------------------------------------------------------- virtual machines

const POWER_DISPLAY: Record<VmRec['power'], string> = {
  starting: 'VM starting',
  running: 'VM running',
  deallocating: 'VM deallocating',
  deallocated: 'VM deallocated',
};

function instanceView(ctx: ArmContext, vm: VmRec) {
  const prov = provisioningState(ctx, vm, 'Creating');
  return {
    computerName: vm.name,
    osName: vm.osType ?? 'Linux',
    statuses: [
      {
        code: `ProvisioningState/${prov.toLowerCase()}`,
        level: 'Info',
        displayStatus: prov === 'Succeeded' ? 'Provisioning succeeded' : `Provisioning ${prov.toLowerCase()}`,
        time: isoTime(vm.createdAt),
      },
      { code: `PowerState/${vm.power}`, level: 'Info', displayStatus: POWER_DISPLAY[vm.power] },
    ],
    disks: [{ name: vm.osDiskName, statuses: [{ code: 'ProvisioningState/succeeded', level: 'Info' }] }],
  };
}

function vmJson(ctx: ArmContext, vm: VmRec, withView = false) {
  return {
    ...resourceHead(VMS, vm),
    properties: {
      vmId: vm.vmId,
      hardwareProfile: { vmSize: vm.vmSize },
      storageProfile: {
        osDisk: {
          ...(vm.osType ? { osType: vm.osType } : {}),
          name: vm.osDiskName,
          createOption: 'Attach',
          caching: 'ReadWrite',
          managedDisk: { id: vm.osDiskId },
          deleteOption: 'Detach',
        },
        dataDisks: [],
      },
      networkProfile: {
        networkInterfaces: vm.nicIds.map((id, i) => ({ id, properties: { primary: i === 0 } })),
      },
      provisioningState: provisioningState(ctx, vm, 'Creating'),
      timeCreated: isoTime(vm.createdAt),
      ...(withView ? { instanceView: instanceView(ctx, vm) } : {}),
    },
  };
}

export function putVm(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const id = resourceId(ctx, rg, COMPUTE, 'virtualMachines', name);
  const body = req.body;
  const location = requireLocation(body);
  const vmSize = str(body, 'properties', 'hardwareProfile', 'vmSize');
  requireParam(vmSize, 'hardwareProfile.vmSize');
  const osDisk = prop(body, 'properties', 'storageProfile', 'osDisk');
  requireParam(osDisk, 'storageProfile.osDisk');
  const createOption = str(osDisk, 'createOption');
  requireParam(createOption, 'storageProfile.osDisk.createOption');
  if (createOption !== 'Attach')
    throw armError(
      'InvalidParameter',
      `The value '${String(createOption)}' of parameter 'storageProfile.osDisk.createOption' is not supported by the burstgate simulator; it creates VMs on an existing disk with 'Attach' only.`,
    );
  const diskId = str(osDisk, 'managedDisk', 'id');
  requireParam(diskId, 'storageProfile.osDisk.managedDisk.id');
  const nics = prop(body, 'properties', 'networkProfile', 'networkInterfaces');
  if (!Array.isArray(nics) || nics.length === 0)
    throw armError(
      'InvalidParameter',
      "Required parameter 'networkProfile.networkInterfaces' is missing (null). A virtual machine needs at least one network interface.",
    );
  const nicIds = nics.map((n, i) => {
    const nid = str(n, 'id');
    requireParam(nid, `networkProfile.networkInterfaces[${i}].id`);
    return nid as string;
  });
  const tags = tagsOf(body);

  const existing = recordToUpdate(ctx, VMS, id, name);
  if (existing) {
    if (key(existing.osDiskId) !== key(diskId as string))
      throw armError(
        'PropertyChangeNotAllowed',
        "Changing property 'osDisk.managedDisk.id' is not allowed.",
        409,
      );
    existing.tags = tags;
    return answerPut(ctx, req, VMS, existing, { created: false });
  }

  const disk = lookup(ctx.state.disks, diskId as string);
  if (!disk || disk.deletingUntil !== undefined)
    throw armError(
      'NotFound',
      `Disk ${String(diskId)} not found. Create the disk before the VM that attaches it.`,
      404,
    );
  if (disk.state === 'ReadyToUpload' || disk.state === 'ActiveUpload' || disk.state === 'ActiveSAS')
    throw armError(
      'OperationNotAllowed',
      `Disk ${disk.name} is in ${disk.state} state and cannot be attached to a virtual machine. Revoke the disk's access first.`,
      409,
    );
  if (disk.managedBy)
    throw armError(
      'OperationNotAllowed',
      `Disk ${disk.name} is already attached to VM ${disk.managedBy}.`,
      409,
    );
  if (ctx.now() < disk.readyAt)
    throw armError(
      'OperationNotAllowed',
      `Disk ${disk.name} is still being created; retry when it has succeeded.`,
      409,
    );
  const osType = str(osDisk, 'osType') ?? disk.osType;
  if (!osType)
    throw armError(
      'InvalidParameter',
      "Required parameter 'storageProfile.osDisk.osType' is missing (null): the attached disk has no osType.",
    );
  for (const nid of nicIds) {
    const nic = lookup(ctx.state.nics, nid);
    if (!nic || nic.deletingUntil !== undefined)
      throw armError('NotFound', `Network interface ${nid} not found.`, 404);
    if (nic.virtualMachine && key(nic.virtualMachine) !== key(id))
      throw armError(
        'NicInUse',
        `Network Interface ${nic.id} is used by existing resource ${nic.virtualMachine}. A network interface can be attached to one virtual machine only.`,
        400,
      );
  }

  const now = ctx.now();
  const vm: VmRec = {
    // the create finishes when the VM runs
    ...newResource(id, name, rg, location, tags, now, Math.max(ctx.timing.operationMs, ctx.timing.vmStartMs)),
    vmId: randomUUID(),
    vmSize: vmSize as string,
    osDiskId: disk.id,
    osDiskName: disk.name,
    osType,
    nicIds: nicIds.map((n) => (lookup(ctx.state.nics, n) as { id: string }).id),
    power: 'starting',
    powerUntil: now + ctx.timing.vmStartMs,
  };
  disk.state = 'Attached';
  disk.managedBy = id;
  for (const nid of nicIds) {
    const nic = lookup(ctx.state.nics, nid);
    if (nic) nic.virtualMachine = id;
  }
  ctx.state.vms[key(id)] = vm;
  return answerPut(ctx, req, VMS, vm, { created: true, durationMs: vm.readyAt - now });
}

export function getVm(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const expand = req.query.get('$expand');
  return { status: 200, body: vmJson(ctx, requireRecord(ctx, VMS, rg, name), expand === 'instanceView') };
}

export function getVmInstanceView(ctx: ArmContext, _req: ArmRequest, rg: string, name: string): ArmResponse {
  return { status: 200, body: instanceView(ctx, requireRecord(ctx, VMS, rg, name)) };
}

export function listVms(ctx: ArmContext, rg: string): ArmResponse {
  return listResources(ctx, VMS, rg);
}

export function deallocateVm(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const vm = requireNotDeleting(ctx, VMS, rg, name);
  const now = ctx.now();
  if (vm.power === 'starting' || vm.power === 'running') {
    vm.power = 'deallocating';
    vm.powerUntil = now + ctx.timing.vmDeallocateMs;
  }
  const durationMs = Math.max(ctx.timing.operationMs, vm.power === 'deallocating' ? vm.powerUntil - now : 0);
  return accepted(ctx, req, 'VirtualMachines_Deallocate', COMPUTE, vm.location, { durationMs });
}

export function startVm(ctx: ArmContext, req: ArmRequest, rg: string, name: string): ArmResponse {
  const vm = requireNotDeleting(ctx, VMS, rg, name);
  const disk = lookup(ctx.state.disks, vm.osDiskId);
  if (disk?.state === 'ActiveSAS')
    throw armError(
      'OperationNotAllowed',
      `Operation 'start' is not allowed on VM ${name} because its disk ${disk.name} is in ActiveSAS state; revoke the disk's access first.`,
      409,
    );
  if (vm.power === 'deallocating')
    throw armError(
      'OperationNotAllowed',
      `Operation 'start' is not allowed on VM ${name} while it is deallocating.`,
      409,
    );
  const now = ctx.now();
  if (vm.power === 'deallocated') {
    vm.power = 'starting';
    vm.powerUntil = now + ctx.timing.vmStartMs;
    if (disk) disk.state = 'Attached';
  }
  const durationMs = Math.max(ctx.timing.operationMs, vm.power === 'starting' ? vm.powerUntil - now : 0);
  return accepted(ctx, req, 'VirtualMachines_Start', COMPUTE, vm.location, { durationMs });
}

export function deleteVm(
  ctx: ArmContext,
  req: ArmRequest,
  rg: string,
  name: string,
): ArmResponse | Promise<ArmResponse> {
  return deleteResource(ctx, req, VMS, rg, name, (vm) => {
    // the OS disk's deleteOption is Detach: the disk stays, unattached
    const disk = lookup(ctx.state.disks, vm.osDiskId);
    if (disk && disk.managedBy && key(disk.managedBy) === key(vm.id)) {
      delete disk.managedBy;
      if (disk.state === 'Attached' || disk.state === 'Reserved') disk.state = 'Unattached';
    }
    for (const nid of vm.nicIds) {
      const nic = lookup(ctx.state.nics, nid);
      if (nic?.virtualMachine && key(nic.virtualMachine) === key(vm.id)) delete nic.virtualMachine;
    }
  });
}
