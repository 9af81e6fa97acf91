/**
 * The EC2 side of EBS snapshots: CreateSnapshot of an instance volume and RegisterImage from
 * snapshots, plus the volume bookkeeping that keeps lineage true across them.
 *
 * A volume starts with the block map of the snapshot it was created from; blocks the guest writes
 * are marked as written since the last snapshot. CreateSnapshot attributes those blocks to the new
 * snapshot, which becomes the volume's base, so the snapshot is incremental to the one the volume
 * came from (AWS: a snapshot of a volume created from snapshot A is an incremental of A) and
 * ListChangedBlocks between them lists exactly the blocks the guest wrote.
 */
import { parseTagSpecifications, type Handler, type SimContext } from './context';
import {
  attribute,
  loadBlockMap,
  markWritten,
  saveBlockMap,
  snapshotBlockMap,
  UNSNAPSHOTTED,
} from './ebs-blocks';
import { snapshotState } from './ebs-snapshots';
import { assertWellFormed, newId } from './ids';
import { snapshotXml } from './images';
import type { ImageRec, InstanceRec, SnapshotRec } from './model';
import { Ec2Error, qBool, qInt, qList, qStr, requireStr, type QueryNode } from './protocol';

const GiB = 1024 ** 3;

/** Gives a new volume the block map of the snapshot it is created from (called by RunInstances). */
export function initVolumeBlocks(ctx: SimContext, volumeId: string, snapshotId: string): void {
  const snap = ctx.state.snapshots[snapshotId];
  if (!snap) return;
  saveBlockMap(ctx.disks, volumeId, snapshotBlockMap(ctx.disks, snap));
}

function volumeBlockMap(ctx: SimContext, volumeId: string) {
  // a volume launched before block maps existed: everything on it counts as unsnapshotted
  return loadBlockMap(ctx.disks, volumeId, { lineage: volumeId, writer: UNSNAPSHOTTED });
}

function findVolume(
  ctx: SimContext,
  volumeId: string,
): { inst: InstanceRec; vol: InstanceRec['volumes'][number] } | undefined {
  for (const inst of Object.values(ctx.state.instances)) {
    if (inst.state === 'terminated') continue;
    const vol = inst.volumes.find((v) => v.volumeId === volumeId);
    if (vol) return { inst, vol };
  }
  return undefined;
}

/**
 * Stands in for the guest writing to its root volume: `data` lands at `offset` and the 512 KiB blocks
 * it touches count as changed since the volume's last snapshot.
 */
export async function writeInstanceDisk(
  ctx: SimContext,
  instanceId: string,
  offset: number,
  data: Buffer,
): Promise<void> {
  const inst = ctx.state.instances[instanceId];
  const root = inst?.volumes[0];
  if (!inst || !root || inst.state === 'terminated' || inst.state === 'shutting-down') {
    throw new Error(`aws-sim: no live instance ${instanceId}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > root.capacity) {
    throw new Error(
      `aws-sim: a write of ${data.length} bytes at ${offset} does not fit the ${root.capacity}-byte volume of ${instanceId}`,
    );
  }
  await ctx.disks.writeData(root.volumeId, offset, data);
  const map = volumeBlockMap(ctx, root.volumeId);
  markWritten(map, offset, data.length);
  saveBlockMap(ctx.disks, root.volumeId, map);
}

export const createSnapshot: Handler = async (ctx, params) => {
  const volumeId = requireStr(params, 'VolumeId');
  assertWellFormed('vol', volumeId, 'InvalidVolumeID.Malformed');
  const found = findVolume(ctx, volumeId);
  if (!found) throw new Ec2Error('InvalidVolume.NotFound', `The volume '${volumeId}' does not exist.`);
  const description = qStr(params, 'Description') ?? '';
  if (description.length > 255) {
    throw new Ec2Error('InvalidParameterValue', 'The description must be at most 255 characters long.');
  }
  const tags = parseTagSpecifications(params, ['snapshot']).get('snapshot') ?? [];
  const id = newId('snap');
  const now = ctx.now();
  // point in time: the bytes are copied now, the snapshot turns completed after snapshotMs
  const meta = await ctx.disks.copy(volumeId, id);
  const volMap = volumeBlockMap(ctx, volumeId);
  saveBlockMap(ctx.disks, id, attribute(volMap, id));
  saveBlockMap(ctx.disks, volumeId, attribute(volMap, id));
  const rec: SnapshotRec = {
    id,
    createdAt: now,
    volumeSize: Math.ceil(meta.capacity / GiB),
    capacity: meta.capacity,
    description,
    tags,
    state: 'pending',
    sealAt: now + ctx.timing.snapshotMs,
    sealOutcome: 'completed',
    origin: 'volume',
    volumeId,
    parentSnapshotId: found.vol.baseSnapshotId,
    lineage: volMap.lineage,
  };
  found.vol.baseSnapshotId = id;
  ctx.state.snapshots[id] = rec;
  ctx.save();
  return snapshotXml(ctx, rec);
};

const AMI_NAME = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;
const ARCHITECTURES: ReadonlySet<string> = new Set(['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac']);

interface Mapping {
  deviceName: string;
  snapshotId: string;
  volumeSize: number;
}

function parseMappings(ctx: SimContext, params: QueryNode): Mapping[] {
  return qList(params, 'BlockDeviceMapping').map((m) => {
    const deviceName = qStr(m, 'DeviceName');
    if (!deviceName)
      throw new Ec2Error('MissingParameter', 'The request must contain the parameter DeviceName');
    if (qStr(m, 'VirtualName') !== undefined || qStr(m, 'NoDevice') !== undefined) {
      throw new Ec2Error(
        'InvalidBlockDeviceMapping',
        'The simulator supports only EBS block device mappings.',
      );
    }
    const snapshotId = qStr(m, 'Ebs.SnapshotId');
    if (!snapshotId) {
      throw new Ec2Error(
        'InvalidBlockDeviceMapping',
        `The block device mapping for ${deviceName} needs Ebs.SnapshotId.`,
      );
    }
    assertWellFormed('snap', snapshotId, 'InvalidSnapshotID.Malformed');
    const snap = ctx.state.snapshots[snapshotId];
    if (!snap) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${snapshotId}' does not exist.`);
    if (snapshotState(snap) !== 'completed') {
      throw new Ec2Error(
        'IncorrectState',
        `Snapshot '${snapshotId}' is ${snapshotState(snap)}; only a completed snapshot can back an image.`,
      );
    }
    if (qBool(m, 'Ebs.Encrypted') === true || qStr(m, 'Ebs.KmsKeyId') !== undefined) {
      throw new Ec2Error(
        'InvalidParameterValue',
        'Encrypted volumes are not supported by the simulator (no KMS).',
      );
    }
    const size = qInt(m, 'Ebs.VolumeSize') ?? snap.volumeSize;
    if (size < snap.volumeSize) {
      throw new Ec2Error(
        'InvalidBlockDeviceMapping',
        `Volume of size ${size}GB is smaller than snapshot '${snapshotId}', expect size >= ${snap.volumeSize}GB`,
      );
    }
    return { deviceName, snapshotId, volumeSize: size };
  });
}

export const registerImage: Handler = (ctx, params) => {
  const name = requireStr(params, 'Name');
  if (!AMI_NAME.test(name)) {
    throw new Ec2Error(
      'InvalidAMIName.Malformed',
      `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`,
    );
  }
  if (Object.values(ctx.state.images).some((i) => i.name === name)) {
    throw new Ec2Error(
      'InvalidAMIName.Duplicate',
      `AMI name ${name} is already in use by AMI ${
        Object.values(ctx.state.images).find((i) => i.name === name)?.id
      }`,
    );
  }
  if (qStr(params, 'ImageLocation') !== undefined) {
    throw new Ec2Error(
      'InvalidParameterValue',
      'Instance store-backed AMIs (ImageLocation) are not supported by the simulator.',
    );
  }
  const architecture = qStr(params, 'Architecture') ?? 'i386';
  if (!ARCHITECTURES.has(architecture)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${architecture}) for parameter architecture is invalid.`,
    );
  }
  const virtualizationType = qStr(params, 'VirtualizationType') ?? 'paravirtual';
  if (virtualizationType !== 'hvm' && virtualizationType !== 'paravirtual') {
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${virtualizationType}) for parameter virtualizationType is invalid.`,
    );
  }
  const bootModeRaw = qStr(params, 'BootMode') ?? 'legacy-bios';
  if (bootModeRaw !== 'legacy-bios' && bootModeRaw !== 'uefi' && bootModeRaw !== 'uefi-preferred') {
    throw new Ec2Error('InvalidParameterValue', `Value (${bootModeRaw}) for parameter bootMode is invalid.`);
  }
  const mappings = parseMappings(ctx, params);
  const rootDeviceName = qStr(params, 'RootDeviceName');
  if (mappings.length === 0) {
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter BlockDeviceMapping');
  }
  if (!rootDeviceName)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter RootDeviceName');
  const root = mappings.find((m) => m.deviceName === rootDeviceName);
  if (!root) {
    throw new Ec2Error(
      'InvalidBlockDeviceMapping',
      `The root device name ${rootDeviceName} has no block device mapping with a snapshot.`,
    );
  }
  const description = qStr(params, 'Description') ?? '';
  const tagSpecs = parseTagSpecifications(params, ['image', 'snapshot']);
  const img: ImageRec = {
    id: newId('ami'),
    createdAt: ctx.now(),
    name,
    description,
    architecture,
    // uefi-preferred boots UEFI on the instance types the simulator runs
    bootMode: bootModeRaw === 'legacy-bios' ? 'legacy-bios' : 'uefi',
    rootDeviceName,
    // the root device first: RunInstances boots the first mapping
    blockDevices: [root, ...mappings.filter((m) => m !== root)],
    tags: tagSpecs.get('image') ?? [],
    virtualizationType,
    enaSupport: qBool(params, 'EnaSupport') ?? false,
  };
  const snapTags = tagSpecs.get('snapshot');
  if (snapTags) {
    for (const m of mappings) {
      const s = ctx.state.snapshots[m.snapshotId] as SnapshotRec;
      s.tags = [...s.tags.filter((t) => !snapTags.some((n) => n.key === t.key)), ...snapTags];
    }
  }
  ctx.state.images[img.id] = img;
  ctx.save();
  return { imageId: img.id };
};
