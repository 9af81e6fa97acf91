/** RunInstances, DescribeInstances, Start/Stop/TerminateInstances and the instance state machine. */
import {
  iso,
  matchesFilters,
  parseTagSpecifications,
  tagSetXml,
  type Handler,
  type SimContext,
} from './context';
import { initVolumeBlocks } from './ebs-ec2';
import { assertWellFormed, newId } from './ids';
import { INSTANCE_STATE_CODES, type InstanceRec, type InstanceStateName } from './model';
import {
  Ec2Error,
  qFilters,
  qInt,
  qStr,
  qStrList,
  requireStr,
  type QueryNode,
  type XmlObject,
} from './protocol';
import { INSTANCE_TYPE_FACTS } from './instance-types';

/** Real instance type names the simulator accepts (a small allow-list; EC2 has many more): instance-types.ts. */
export const INSTANCE_TYPES: ReadonlySet<string> = new Set(Object.keys(INSTANCE_TYPE_FACTS));

/** Nitro instance types require ENA: they boot only AMIs with ENA support. */
const enaRequired = (type: string): boolean => INSTANCE_TYPE_FACTS[type]?.ena === 'required';

const GiB = 1024 ** 3;

/** Live (non-terminated) instances the simulated account may run at once. */
export const INSTANCE_LIMIT = 20;

const USER_SHUTDOWN = {
  code: 'Client.UserInitiatedShutdown',
  message: 'Client.UserInitiatedShutdown: User initiated shutdown',
};

function userInitiated(now: number): string {
  return `User initiated (${new Date(now)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' GMT')})`;
}

/** Advances time-derived instance states; removes terminated instances after `terminatedVisibleMs`. */
export function tickInstances(ctx: SimContext): boolean {
  const now = ctx.now();
  const t = ctx.timing;
  let changed = false;
  for (const inst of Object.values(ctx.state.instances)) {
    for (;;) {
      const since = inst.stateSince;
      if (inst.state === 'pending' && now >= since + t.instanceStartMs) {
        setState(inst, 'running', since + t.instanceStartMs);
      } else if (inst.state === 'stopping' && now >= since + t.instanceStopMs) {
        setState(inst, 'stopped', since + t.instanceStopMs);
        inst.stateReason = USER_SHUTDOWN;
      } else if (inst.state === 'shutting-down' && now >= since + t.instanceTerminateMs) {
        setState(inst, 'terminated', since + t.instanceTerminateMs);
        inst.stateReason = USER_SHUTDOWN;
        for (const v of inst.volumes) ctx.disks.remove(v.volumeId); // DeleteOnTermination
      } else if (inst.state === 'terminated' && now >= since + t.terminatedVisibleMs) {
        delete ctx.state.instances[inst.id];
        changed = true;
        break;
      } else {
        break;
      }
      changed = true;
    }
  }
  return changed;
}

function setState(inst: InstanceRec, state: InstanceStateName, at: number): void {
  inst.state = state;
  inst.stateSince = at;
}

function stateXml(name: InstanceStateName): XmlObject {
  return { code: INSTANCE_STATE_CODES[name], name };
}

export function instanceXml(ctx: SimContext, inst: InstanceRec): XmlObject {
  const terminated = inst.state === 'terminated';
  const ipHost = inst.privateIp.replace(/\./g, '-');
  return {
    instanceId: inst.id,
    imageId: inst.imageId,
    instanceState: stateXml(inst.state),
    privateDnsName: terminated ? '' : `ip-${ipHost}.ec2.internal`,
    dnsName: '',
    reason: inst.transitionReason,
    keyName: inst.keyName,
    amiLaunchIndex: inst.amiLaunchIndex,
    productCodes: [],
    instanceType: inst.instanceType,
    launchTime: iso(inst.launchTime),
    placement: { availabilityZone: `${ctx.region}a`, groupName: '', tenancy: 'default' },
    monitoring: { state: 'disabled' },
    subnetId: terminated ? undefined : inst.subnetId,
    vpcId: terminated ? undefined : inst.vpcId,
    privateIpAddress: terminated ? undefined : inst.privateIp,
    sourceDestCheck: terminated ? undefined : true,
    groupSet: [],
    stateReason: inst.stateReason,
    architecture: 'x86_64',
    rootDeviceType: 'ebs',
    rootDeviceName: inst.volumes[0]?.deviceName ?? '/dev/sda1',
    blockDeviceMapping: terminated
      ? []
      : inst.volumes.map((v) => ({
          deviceName: v.deviceName,
          ebs: {
            volumeId: v.volumeId,
            status: 'attached',
            attachTime: iso(inst.launchTime),
            deleteOnTermination: true,
          },
        })),
    virtualizationType: 'hvm',
    clientToken: inst.clientToken ?? '',
    tagSet: inst.tags.length ? tagSetXml(inst.tags) : undefined,
    hypervisor: 'xen',
    networkInterfaceSet: [],
    ebsOptimized: false,
    enaSupport: true,
    bootMode: inst.bootMode,
    currentInstanceBootMode: inst.bootMode,
    platformDetails: 'Linux/UNIX',
    usageOperation: 'RunInstances',
  };
}

function reservationXml(ctx: SimContext, reservationId: string, instances: InstanceRec[]): XmlObject {
  return {
    reservationId,
    ownerId: ctx.accountId,
    groupSet: [],
    instancesSet: instances.map((i) => instanceXml(ctx, i)),
  };
}

/** Looks up instance ids with EC2's Malformed / NotFound errors. */
export function findInstances(ctx: SimContext, ids: string[]): InstanceRec[] {
  for (const id of ids) assertWellFormed('i', id, 'InvalidInstanceID.Malformed');
  const missing = ids.filter((id) => !ctx.state.instances[id]);
  if (missing.length === 1) {
    throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${missing[0]}' does not exist`);
  }
  if (missing.length > 1) {
    throw new Ec2Error('InvalidInstanceID.NotFound', `The instance IDs '${missing.join(', ')}' do not exist`);
  }
  return ids.map((id) => ctx.state.instances[id] as InstanceRec);
}

function randomPrivateIp(): string {
  const b = () => Math.floor(Math.random() * 254) + 1;
  return `10.0.${b()}.${b()}`;
}

export const runInstances: Handler = async (ctx, params) => {
  const imageId = requireStr(params, 'ImageId');
  assertWellFormed('ami', imageId, 'InvalidAMIID.Malformed');
  const minCount = qInt(params, 'MinCount');
  const maxCount = qInt(params, 'MaxCount');
  if (minCount === undefined)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter MinCount');
  if (maxCount === undefined)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter MaxCount');
  if (minCount < 1)
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${minCount}) for parameter minCount is invalid. Must be greater than 0.`,
    );
  if (maxCount < minCount)
    throw new Ec2Error(
      'InvalidParameterValue',
      `Value (${maxCount}) for parameter maxCount is invalid. Must be at least minCount.`,
    );
  const instanceType = qStr(params, 'InstanceType') ?? 'm1.small';
  if (!INSTANCE_TYPES.has(instanceType)) {
    throw new Ec2Error(
      'InvalidParameterValue',
      `The following supplied instance types do not exist: [${instanceType}]`,
    );
  }
  const keyName = qStr(params, 'KeyName');
  const clientToken = qStr(params, 'ClientToken');
  const tagSpecs = parseTagSpecifications(params, ['instance', 'volume', 'network-interface']);
  const instanceTags = tagSpecs.get('instance') ?? [];
  const fingerprint = JSON.stringify([
    imageId,
    instanceType,
    minCount,
    maxCount,
    keyName ?? null,
    [...tagSpecs],
  ]);

  if (clientToken !== undefined) {
    if (clientToken.length > 64)
      throw new Ec2Error('InvalidParameterValue', 'The client token must be 64 characters or fewer.');
    const prior = ctx.state.runTokens[clientToken];
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        throw new Ec2Error(
          'IdempotentParameterMismatch',
          'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).',
        );
      }
      const insts = prior.instanceIds
        .map((id) => ctx.state.instances[id])
        .filter((i): i is InstanceRec => i !== undefined);
      return reservationXml(ctx, prior.reservationId, insts);
    }
  }

  const image = ctx.state.images[imageId];
  if (!image) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`);
  if (image.virtualizationType === 'paravirtual') {
    throw new Ec2Error(
      'InvalidParameterCombination',
      `The instance type '${instanceType}' does not support the virtualization type 'paravirtual' of image '${imageId}'.`,
    );
  }
  if (image.enaSupport === false && enaRequired(instanceType)) {
    throw new Ec2Error(
      'InvalidParameterCombination',
      `Enhanced networking with the Elastic Network Adapter (ENA) is required for the '${instanceType}' instance type. Ensure that your AMI is enabled for ENA.`,
    );
  }

  const live = Object.values(ctx.state.instances).filter((i) => i.state !== 'terminated').length;
  const room = INSTANCE_LIMIT - live;
  if (room < minCount) {
    throw new Ec2Error(
      'InstanceLimitExceeded',
      `You have requested more instances (${minCount}) than your current instance limit of ${INSTANCE_LIMIT} allows for the specified instance type.`,
    );
  }
  const count = Math.min(maxCount, room);
  const reservationId = newId('r');
  const now = ctx.now();
  const subnetId = newId('subnet');
  const vpcId = newId('vpc');
  const created: InstanceRec[] = [];
  try {
    for (let n = 0; n < count; n++) {
      const volumes: InstanceRec['volumes'] = [];
      for (const bd of image.blockDevices) {
        const volumeId = newId('vol');
        // an instance boots from its own sparse copy of the snapshot
        let meta = await ctx.disks.copy(bd.snapshotId, volumeId);
        // a registered AMI may ask for a volume larger than its snapshot (imported ones keep the disk size)
        if (image.importTaskId === undefined) meta = await ctx.disks.grow(volumeId, bd.volumeSize * GiB);
        initVolumeBlocks(ctx, volumeId, bd.snapshotId);
        volumes.push({
          deviceName: bd.deviceName,
          volumeId,
          capacity: meta.capacity,
          baseSnapshotId: bd.snapshotId,
        });
      }
      const inst: InstanceRec = {
        id: newId('i'),
        reservationId,
        imageId,
        instanceType,
        launchTime: now,
        state: 'pending',
        stateSince: now,
        transitionReason: '',
        clientToken,
        keyName,
        amiLaunchIndex: n,
        privateIp: randomPrivateIp(),
        subnetId,
        vpcId,
        bootMode: image.bootMode,
        volumes,
        fromImport: image.importTaskId !== undefined,
        tags: instanceTags,
      };
      created.push(inst);
    }
  } catch (err) {
    for (const inst of created) for (const v of inst.volumes) ctx.disks.remove(v.volumeId);
    throw err;
  }
  for (const inst of created) ctx.state.instances[inst.id] = inst;
  if (clientToken !== undefined) {
    ctx.state.runTokens[clientToken] = { reservationId, fingerprint, instanceIds: created.map((i) => i.id) };
  }
  ctx.save();
  return reservationXml(ctx, reservationId, created);
};

export const describeInstances: Handler = (ctx, params: QueryNode) => {
  const ids = qStrList(params, 'InstanceId');
  const filters = qFilters(params, 'Filter');
  const selected = ids.length ? findInstances(ctx, ids) : Object.values(ctx.state.instances);
  const matching = selected.filter((i) =>
    matchesFilters(
      filters,
      {
        'instance-id': [i.id],
        'instance-state-name': [i.state],
        'instance-state-code': [String(INSTANCE_STATE_CODES[i.state])],
        'image-id': [i.imageId],
        'instance-type': [i.instanceType],
        'reservation-id': [i.reservationId],
        'client-token': [i.clientToken],
        'key-name': [i.keyName],
        'vpc-id': [i.vpcId],
        'subnet-id': [i.subnetId],
        'private-ip-address': [i.privateIp],
      },
      i.tags,
    ),
  );
  const byReservation = new Map<string, InstanceRec[]>();
  for (const i of matching.sort(
    (a, b) => a.launchTime - b.launchTime || a.amiLaunchIndex - b.amiLaunchIndex,
  )) {
    const list = byReservation.get(i.reservationId) ?? [];
    list.push(i);
    byReservation.set(i.reservationId, list);
  }
  return { reservationSet: [...byReservation].map(([rid, insts]) => reservationXml(ctx, rid, insts)) };
};

type Transition = (inst: InstanceRec, now: number) => void;

function changeStates(
  ctx: SimContext,
  params: QueryNode,
  check: (inst: InstanceRec) => string | undefined,
  apply: Transition,
): XmlObject {
  const ids = qStrList(params, 'InstanceId');
  if (ids.length === 0)
    throw new Ec2Error('MissingParameter', 'The request must contain the parameter InstanceId');
  const insts = findInstances(ctx, ids);
  for (const inst of insts) {
    const problem = check(inst);
    if (problem) throw new Ec2Error('IncorrectInstanceState', problem);
  }
  const now = ctx.now();
  const items = insts.map((inst) => {
    const previous = inst.state;
    apply(inst, now);
    return { instanceId: inst.id, currentState: stateXml(inst.state), previousState: stateXml(previous) };
  });
  ctx.save();
  return { instancesSet: items };
}

export const stopInstances: Handler = (ctx, params) =>
  changeStates(
    ctx,
    params,
    (i) =>
      i.state === 'running' || i.state === 'stopping' || i.state === 'stopped'
        ? undefined
        : `The instance '${i.id}' is not in a state from which it can be stopped.`,
    (i, now) => {
      if (i.state !== 'running') return;
      setState(i, 'stopping', now);
      i.transitionReason = userInitiated(now);
    },
  );

export const startInstances: Handler = (ctx, params) =>
  changeStates(
    ctx,
    params,
    (i) =>
      i.state === 'stopped' || i.state === 'pending' || i.state === 'running'
        ? undefined
        : `The instance '${i.id}' is not in a state from which it can be started.`,
    (i, now) => {
      if (i.state !== 'stopped') return;
      setState(i, 'pending', now);
      i.transitionReason = '';
      i.stateReason = undefined;
    },
  );

export const terminateInstances: Handler = (ctx, params) =>
  changeStates(
    ctx,
    params,
    () => undefined,
    (i, now) => {
      if (i.state === 'terminated' || i.state === 'shutting-down') return;
      setState(i, 'shutting-down', now);
      i.transitionReason = userInitiated(now);
    },
  );

export function isLiveInstance(i: InstanceRec): boolean {
  return i.state !== 'terminated';
}
