/** DescribeImages, DeregisterImage, DescribeSnapshots, DeleteSnapshot, CreateTags. */
import {
  iso,
  matchesFilters,
  mergeTags,
  tagSetXml,
  validateTags,
  type Handler,
  type SimContext,
} from './context';
import { forgetPending, snapshotState } from './ebs-snapshots';
import { assertWellFormed } from './ids';
import type { ImageRec, SnapshotRec } from './model';
import { Ec2Error, qBool, qFilters, qStrList, qTags, requireStr, type XmlObject } from './protocol';

export function imageXml(ctx: SimContext, img: ImageRec): XmlObject {
  return {
    imageId: img.id,
    imageLocation: `${ctx.accountId}/${img.name}`,
    imageState: 'available',
    imageOwnerId: ctx.accountId,
    creationDate: iso(img.createdAt),
    isPublic: false,
    architecture: img.architecture,
    imageType: 'machine',
    name: img.name,
    description: img.description,
    rootDeviceType: 'ebs',
    rootDeviceName: img.rootDeviceName,
    blockDeviceMapping: img.blockDevices.map((bd) => ({
      deviceName: bd.deviceName,
      ebs: {
        snapshotId: bd.snapshotId,
        volumeSize: bd.volumeSize,
        deleteOnTermination: true,
        volumeType: 'gp2',
        encrypted: false,
      },
    })),
    virtualizationType: img.virtualizationType ?? 'hvm',
    hypervisor: 'xen',
    enaSupport: img.enaSupport ?? true,
    sriovNetSupport: 'simple',
    bootMode: img.bootMode,
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
    tagSet: img.tags.length ? tagSetXml(img.tags) : undefined,
  };
}

/** Snapshots not made from a volume (VM Import, EBS direct APIs) show this placeholder volume id. */
const NO_VOLUME = 'vol-ffffffff';

function progressOf(snap: SnapshotRec): string {
  const state = snapshotState(snap);
  if (state === 'completed') return '100%';
  if (state === 'error') return '0%';
  // sealing (CompleteSnapshot or CreateSnapshot under way) vs still being written
  return snap.sealAt !== undefined ? '99%' : '0%';
}

export function snapshotXml(ctx: SimContext, snap: SnapshotRec): XmlObject {
  return {
    snapshotId: snap.id,
    volumeId: snap.volumeId ?? NO_VOLUME,
    status: snapshotState(snap),
    statusMessage: snapshotState(snap) === 'error' ? snap.stateMessage : undefined,
    startTime: iso(snap.createdAt),
    progress: progressOf(snap),
    ownerId: ctx.accountId,
    description: snap.description,
    volumeSize: snap.volumeSize,
    encrypted: false,
    storageTier: 'standard',
    tagSet: snap.tags.length ? tagSetXml(snap.tags) : undefined,
  };
}

function notFoundList(code: string, what: string, missing: string[]): Ec2Error {
  return new Ec2Error(code, `The ${what} '[${missing.join(', ')}]' does not exist`);
}

function ownedBySelf(ctx: SimContext, owners: string[]): boolean {
  return owners.length === 0 || owners.some((o) => o === 'self' || o === ctx.accountId);
}

export function findImage(ctx: SimContext, id: string): ImageRec {
  assertWellFormed('ami', id, 'InvalidAMIID.Malformed');
  const img = ctx.state.images[id];
  if (!img) throw notFoundList('InvalidAMIID.NotFound', 'image id', [id]);
  return img;
}

export const describeImages: Handler = (ctx, params) => {
  const ids = qStrList(params, 'ImageId');
  for (const id of ids) assertWellFormed('ami', id, 'InvalidAMIID.Malformed');
  const missing = ids.filter((id) => !ctx.state.images[id]);
  if (missing.length) throw notFoundList('InvalidAMIID.NotFound', 'image id', missing);
  const owners = qStrList(params, 'Owner');
  const filters = qFilters(params, 'Filter');
  const selected = ids.length
    ? ids.map((id) => ctx.state.images[id] as ImageRec)
    : Object.values(ctx.state.images);
  const images = ownedBySelf(ctx, owners) ? selected : [];
  return {
    imagesSet: images
      .filter((img) =>
        matchesFilters(
          filters,
          {
            'image-id': [img.id],
            state: ['available'],
            name: [img.name],
            description: [img.description],
            architecture: [img.architecture],
            'owner-id': [ctx.accountId],
            'is-public': ['false'],
            'image-type': ['machine'],
            'root-device-type': ['ebs'],
            'root-device-name': [img.rootDeviceName],
            'virtualization-type': ['hvm'],
            'block-device-mapping.snapshot-id': img.blockDevices.map((b) => b.snapshotId),
          },
          img.tags,
        ),
      )
      .map((img) => imageXml(ctx, img)),
  };
};

export const deregisterImage: Handler = (ctx, params) => {
  const img = findImage(ctx, requireStr(params, 'ImageId'));
  const deleteSnapshots = qBool(params, 'DeleteAssociatedSnapshots') ?? false;
  delete ctx.state.images[img.id];
  const results: XmlObject[] = [];
  if (deleteSnapshots) {
    for (const bd of img.blockDevices) {
      if (snapshotUsers(ctx, bd.snapshotId).length) {
        results.push({ snapshotId: bd.snapshotId, returnCode: 'client-error' });
        continue;
      }
      const existed = deleteSnapshotRecord(ctx, bd.snapshotId);
      results.push({ snapshotId: bd.snapshotId, returnCode: existed ? 'success' : 'client-error' });
    }
  }
  ctx.save();
  return { return: true, deleteSnapshotResultSet: deleteSnapshots ? results : undefined };
};

function snapshotUsers(ctx: SimContext, snapshotId: string): string[] {
  return Object.values(ctx.state.images)
    .filter((img) => img.blockDevices.some((bd) => bd.snapshotId === snapshotId))
    .map((img) => img.id);
}

function deleteSnapshotRecord(ctx: SimContext, id: string): boolean {
  if (!ctx.state.snapshots[id]) return false;
  delete ctx.state.snapshots[id];
  ctx.disks.remove(id);
  forgetPending(ctx, id);
  for (const [token, t] of Object.entries(ctx.state.ebsTokens)) {
    if (t.snapshotId === id) delete ctx.state.ebsTokens[token];
  }
  return true;
}

function findSnapshot(ctx: SimContext, id: string): SnapshotRec {
  assertWellFormed('snap', id, 'InvalidSnapshotID.Malformed');
  const snap = ctx.state.snapshots[id];
  if (!snap) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
  return snap;
}

export const describeSnapshots: Handler = (ctx, params) => {
  const ids = qStrList(params, 'SnapshotId');
  const snaps = ids.map((id) => findSnapshot(ctx, id));
  const owners = qStrList(params, 'Owner');
  const filters = qFilters(params, 'Filter');
  const selected = ids.length ? snaps : Object.values(ctx.state.snapshots);
  return {
    snapshotSet: (ownedBySelf(ctx, owners) ? selected : [])
      .filter((s) =>
        matchesFilters(
          filters,
          {
            'snapshot-id': [s.id],
            status: [snapshotState(s)],
            description: [s.description],
            'volume-size': [String(s.volumeSize)],
            'owner-id': [ctx.accountId],
            'volume-id': [s.volumeId ?? NO_VOLUME],
            encrypted: ['false'],
          },
          s.tags,
        ),
      )
      .map((s) => snapshotXml(ctx, s)),
  };
};

export const deleteSnapshot: Handler = (ctx, params) => {
  const snap = findSnapshot(ctx, requireStr(params, 'SnapshotId'));
  const users = snapshotUsers(ctx, snap.id);
  if (users.length) {
    throw new Ec2Error('InvalidSnapshot.InUse', `The snapshot ${snap.id} is currently in use by ${users[0]}`);
  }
  deleteSnapshotRecord(ctx, snap.id);
  ctx.save();
  return { return: true };
};

/** CreateTags over every resource kind the simulator has. */
export const createTags: Handler = (ctx, params) => {
  const ids = qStrList(params, 'ResourceId');
  if (ids.length === 0)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter ResourceId');
  const tags = qTags(params, 'Tag');
  if (tags.length === 0) throw new Ec2Error('MissingParameter', 'The request must contain the parameter Tag');
  validateTags(tags);
  const targets: { tags: { key: string; value: string }[] }[] = ids.map((id) => {
    const table = id.startsWith('i-')
      ? ctx.state.instances
      : id.startsWith('ami-')
        ? ctx.state.images
        : id.startsWith('snap-')
          ? ctx.state.snapshots
          : id.startsWith('import-ami-')
            ? ctx.state.importTasks
            : id.startsWith('export-i-')
              ? ctx.state.exportTasks
              : undefined;
    const rec = table?.[id];
    if (!rec) {
      if (id.startsWith('i-'))
        throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
      if (id.startsWith('ami-')) throw notFoundList('InvalidAMIID.NotFound', 'image id', [id]);
      if (id.startsWith('snap-'))
        throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
      throw new Ec2Error('InvalidID', `The ID '${id}' is not valid`);
    }
    return rec;
  });
  for (const t of targets) {
    const merged = mergeTags(t.tags, tags);
    validateTags(merged);
    t.tags = merged;
  }
  ctx.save();
  return { return: true };
};
