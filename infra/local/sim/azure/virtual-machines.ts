/**
 * Microsoft.Compute/virtualMachines: VMs on an existing managed disk (osDisk createOption Attach),
 * their power states (starting → running, deallocating → deallocated, advanced by time) and the
 * rules that tie them to their disk and NICs.
 */
import { randomUUID } from 'node:crypto';

import {
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
import { armError } from './errors';
import { key, type VmRec } from './model';
import {
  accepted,
  answerPut,
  COMPUTE_PROVIDER,
  deleteResource,
  listResources,
  newResource,
  recordToUpdate,
  requireNotDeleting,
  requireRecord,
  resourceHead,
  type ResourceKind,
} from './resources';

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

const VMS: ResourceKind<VmRec> = {
  ...COMPUTE_PROVIDER,
  type: 'virtualMachines',
  operations: 'VirtualMachines',
  label: 'VM',
  table: (state) => state.vms,
  json: (ctx, vm) => vmJson(ctx, vm),
};

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
