/**
 * Reading an OVF descriptor (0.9, 1.x, 2.0; VMware's and VirtualBox's extensions) into the VM
 * profile burstgate needs. The XML itself is read by ovf-xml.ts.
 */
import type {
  OvfController,
  OvfControllerType,
  OvfHardware,
  OvfNic,
  OvfOsType,
  OvfProfile,
  OvfProfileDisk,
} from './ovf-profile';
import {
  attr,
  count,
  first,
  invalidOvf,
  list,
  num,
  parseOvfXml,
  sections,
  text,
  type XNode,
} from './ovf-xml';

export interface ParseOvfOptions {
  /** Deployment option to apply (default: the one marked default, else the first). */
  configuration?: string;
  /** Largest descriptor accepted (default 16 MiB). */
  maxBytes?: number;
}

const NAMED_UNITS: Record<string, number> = {
  byte: 1,
  bytes: 1,
  b: 1,
  kilobytes: 2 ** 10,
  kilobyte: 2 ** 10,
  kb: 2 ** 10,
  kib: 2 ** 10,
  megabytes: 2 ** 20,
  megabyte: 2 ** 20,
  mb: 2 ** 20,
  mib: 2 ** 20,
  gigabytes: 2 ** 30,
  gigabyte: 2 ** 30,
  gb: 2 ** 30,
  gib: 2 ** 30,
  terabytes: 2 ** 40,
  terabyte: 2 ** 40,
  tb: 2 ** 40,
  tib: 2 ** 40,
};

/**
 * Multiplier of a CIM programmatic unit ("byte * 2^20", "byte * 1024", "byte * 10^6"...) or of the
 * names VirtualBox and others write instead ("MegaBytes", "GigaBytes", "KiloBytes", "GB", "MiB").
 * Returns undefined for units it does not know (e.g. "hertz * 10^6").
 */
export function parseAllocationUnits(
  units: string | undefined,
  defaultMultiplier: number,
): number | undefined {
  if (units === undefined || units.trim() === '') return defaultMultiplier;
  const u = units.trim().replace(/\s+/g, ' ');
  const key = u.toLowerCase();
  if (Object.prototype.hasOwnProperty.call(NAMED_UNITS, key)) return NAMED_UNITS[key];
  const m =
    /^bytes?\s*(?:\*\s*(\d{1,6})\s*(?:\^\s*(\d{1,4}))?)?(?:\s*\*\s*(\d{1,6})\s*(?:\^\s*(\d{1,4}))?)?$/i.exec(
      u,
    );
  if (!m) return undefined;
  let mult = 1;
  if (m[1] !== undefined) mult *= Number(m[1]) ** Number(m[2] ?? 1);
  if (m[3] !== undefined) mult *= Number(m[3]) ** Number(m[4] ?? 1);
  return Number.isFinite(mult) && mult > 0 ? mult : undefined;
}

/** quantity × unit as a whole byte count; BG_OVF_INVALID when the unit is unknown or the result absurd. */
function bytesOf(quantity: number, units: string | undefined, defaultUnit: number, what: string): number {
  const unit = parseAllocationUnits(units, defaultUnit);
  if (unit === undefined) {
    throw invalidOvf(
      `OVF descriptor: ${what} has allocation units "${String(units).slice(0, 80)}", which are not a byte unit (expected e.g. "byte * 2^20" or "MegaBytes")`,
    );
  }
  const v = Math.round(quantity * unit);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw invalidOvf(`OVF descriptor: ${what} of ${quantity} × ${unit} bytes is not a usable size`);
  }
  return v;
}

function controllerOf(item: XNode): Omit<OvfController, 'unit'> | undefined {
  const rt = count(text(item, 'ResourceType'));
  const subtype = text(item, 'ResourceSubType') || undefined;
  const busNumber = count(text(item, 'BusNumber')) ?? count(text(item, 'Address'));
  let type: OvfControllerType;
  if (rt === 5) type = 'ide';
  else if (rt === 6) type = 'scsi';
  else if (rt === 20) {
    // "Other storage device": SATA (VMware vmware.sata.ahci, VirtualBox AHCI) or NVMe
    const hint = [subtype, text(item, 'Description'), text(item, 'ElementName'), text(item, 'Caption')]
      .filter((x) => x !== undefined)
      .join(' ');
    type = /nvme/i.test(hint) ? 'nvme' : /sata|ahci/i.test(hint) ? 'sata' : 'other';
  } else return undefined;
  return {
    type,
    ...(subtype !== undefined ? { subtype } : {}),
    ...(busNumber !== undefined ? { busNumber } : {}),
  };
}

function firmwareOf(hw: XNode | undefined, vs: XNode, virtualSystemType: string | undefined): 'bios' | 'efi' {
  // VMware: <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/> (or ExtraConfig)
  const fwConfig = [...list(hw, 'Config'), ...list(hw, 'ExtraConfig')].find(
    (c) => (attr(c, 'key') ?? '').toLowerCase() === 'firmware',
  );
  if (fwConfig) return /efi/i.test(attr(fwConfig, 'value') ?? '') ? 'efi' : 'bios';
  if (/efi|uefi/i.test(virtualSystemType ?? '')) return 'efi';
  // VirtualBox: <vbox:Machine><Hardware><Firmware type="EFI"/> (settings < 1.20) or
  // <vbox:Machine><Hardware><Platform><Firmware type="EFI64"/> (VirtualBox 7.1+)
  for (const machine of list(vs, 'Machine')) {
    for (const hardware of list(machine, 'Hardware')) {
      const fws = [...list(hardware, 'Firmware'), ...list(first(hardware, 'Platform'), 'Firmware')];
      for (const fw of fws) if (/efi/i.test(attr(fw, 'type') ?? '')) return 'efi';
    }
  }
  return 'bios';
}

/**
 * Reads what burstgate needs from an OVF descriptor: name, vCPUs, memory, firmware, OS type, disks
 * (with their controllers) and NICs, both in the historic `OvfHardware` shape and as `profile`.
 * Handles any namespace prefix (ovf:, rasd:, sasd:, epasd: or none), the OVF 0.9 legacy layout
 * (Section xsi:type=...), OVF 2.0 StorageItem/EthernetPortItem, deployment options and
 * `${property}` disk capacities. Unknown elements are ignored. BG_OVF_INVALID when the XML is
 * broken, too large, declares a DOCTYPE, has no Envelope / VirtualSystem, or gives a disk or memory
 * size in units that are not bytes.
 */
export function parseOvf(xml: string, opts: ParseOvfOptions = {}): OvfHardware {
  const doc = parseOvfXml(xml, opts.maxBytes ?? 16 * 1024 * 1024);
  const env = first(doc, 'Envelope');
  if (!env) throw invalidOvf('OVF descriptor has no Envelope root element; this is not an OVF file');

  const version = attr(env, 'version');
  const files = list(first(env, 'References'), 'File').map((f) => {
    const size = count(attr(f, 'size'));
    const compression = attr(f, 'compression');
    return {
      id: attr(f, 'id') ?? '',
      href: attr(f, 'href') ?? '',
      ...(size !== undefined ? { size } : {}),
      ...(compression !== undefined ? { compression } : {}),
    };
  });
  const hrefById = new Map(files.map((f) => [f.id, f.href]));

  // the virtual system: OVF 1.x/2.x VirtualSystem, inside a collection, or 0.9 Content
  const collection = first(env, 'VirtualSystemCollection');
  const contents = list(env, 'Content');
  const vs =
    first(env, 'VirtualSystem') ??
    first(collection, 'VirtualSystem') ??
    contents.find((c) => /VirtualSystem_Type$/.test(attr(c, 'type') ?? '')) ??
    contents
      .flatMap((c) => list(c, 'Content'))
      .find((c) => /VirtualSystem_Type$/.test(attr(c, 'type') ?? ''));
  if (!vs) throw invalidOvf('OVF descriptor has no VirtualSystem; nothing to import');

  // ProductSection properties, for capacities given as ${key}
  const properties = new Map<string, string>();
  for (const ps of [...sections(vs, 'ProductSection'), ...sections(env, 'ProductSection')]) {
    for (const p of list(ps, 'Property')) {
      const k = attr(p, 'key');
      const v = attr(p, 'value');
      if (k !== undefined && v !== undefined && !properties.has(k)) properties.set(k, v);
    }
  }

  const disks: OvfProfileDisk[] = [];
  for (const ds of sections(env, 'DiskSection')) {
    for (const d of list(ds, 'Disk')) {
      const diskId = attr(d, 'diskId') ?? '';
      let capText = attr(d, 'capacity');
      const ref = /^\$\{(.+)\}$/.exec(capText?.trim() ?? '');
      if (ref) capText = properties.get(ref[1]!);
      const cap = num(capText);
      const fileRef = attr(d, 'fileRef');
      const href = fileRef !== undefined ? hrefById.get(fileRef) : undefined;
      const format = attr(d, 'format');
      const populatedRaw = num(attr(d, 'populatedSize'));
      const populated =
        populatedRaw !== undefined && Number.isSafeInteger(populatedRaw) && populatedRaw >= 0
          ? populatedRaw
          : undefined;
      disks.push({
        diskId,
        ...(fileRef !== undefined ? { fileRef } : {}),
        ...(href !== undefined ? { href } : {}),
        capacityBytes:
          cap === undefined
            ? 0
            : bytesOf(cap, attr(d, 'capacityAllocationUnits'), 1, `disk "${diskId.slice(0, 80)}" capacity`),
        ...(format !== undefined ? { format } : {}),
        ...(populated !== undefined ? { populatedSizeBytes: populated } : {}),
      });
    }
  }

  // deployment options
  const configs = sections(env, 'DeploymentOptionSection').flatMap((s) => list(s, 'Configuration'));
  let configuration = opts.configuration;
  if (configuration === undefined && configs.length > 0) {
    configuration = attr(configs.find((c) => attr(c, 'default') === 'true') ?? configs[0], 'id');
  }
  if (opts.configuration !== undefined && !configs.some((c) => attr(c, 'id') === opts.configuration)) {
    throw invalidOvf(
      `OVF descriptor has no deployment option "${opts.configuration}" (it has: ${configs.map((c) => attr(c, 'id')).join(', ') || 'none'})`,
    );
  }
  const applies = (item: XNode) => {
    const c = attr(item, 'configuration');
    return c === undefined || (configuration !== undefined && c.split(/\s+/).includes(configuration));
  };

  const hw = sections(vs, 'VirtualHardwareSection')[0];
  const rawItems = [...list(hw, 'Item'), ...list(hw, 'StorageItem'), ...list(hw, 'EthernetPortItem')].filter(
    applies,
  );
  const instanceOf = (it: XNode) => text(it, 'InstanceID') ?? text(it, 'InstanceId');
  // items with the same InstanceID: the configuration-specific one wins over the generic one
  const byInstance = new Map<string, XNode>();
  const items: XNode[] = [];
  for (const it of rawItems) {
    const id = instanceOf(it);
    if (id === undefined) {
      items.push(it);
      continue;
    }
    const prev = byInstance.get(id);
    if (prev === undefined || attr(it, 'configuration') !== undefined) byInstance.set(id, it);
    if (prev === undefined) items.push(it);
  }
  const effective = items.map((it) => {
    const id = instanceOf(it);
    return (id === undefined ? undefined : byInstance.get(id)) ?? it;
  });
  const ofType = (t: number) => effective.filter((it) => num(text(it, 'ResourceType')) === t);

  const cpu = ofType(3)[0];
  const cpuQ = count(text(cpu, 'VirtualQuantity'));
  const vcpus = cpuQ !== undefined && cpuQ > 0 ? cpuQ : 1;
  const mem = ofType(4)[0];
  const memQ = num(text(mem, 'VirtualQuantity'));
  const memoryBytes = memQ === undefined ? 0 : bytesOf(memQ, text(mem, 'AllocationUnits'), 2 ** 20, 'memory');
  const memoryMiB = Math.round(memoryBytes / 2 ** 20);

  const nics: OvfNic[] = ofType(10).map((n, i) => {
    const network = text(n, 'Connection');
    const adapterType = text(n, 'ResourceSubType');
    return {
      name: text(n, 'ElementName') ?? text(n, 'Caption') ?? `nic${i}`,
      ...(network ? { network } : {}),
      ...(adapterType ? { adapterType } : {}),
    };
  });

  // disk items → their controllers (rasd:Parent is the controller's InstanceID)
  const itemById = new Map<string, XNode>();
  for (const it of effective) {
    const id = instanceOf(it);
    if (id !== undefined) itemById.set(id, it);
  }
  const controllerByDisk = new Map<string, OvfController>();
  for (const it of ofType(17)) {
    const res = text(it, 'HostResource') ?? '';
    const m = /(?:^|\/)(disk|file)\/([^/]+)$/.exec(res);
    if (!m) continue;
    const disk =
      m[1] === 'disk' ? disks.find((d) => d.diskId === m[2]) : disks.find((d) => d.fileRef === m[2]);
    if (!disk || controllerByDisk.has(disk.diskId)) continue;
    const parentId = text(it, 'Parent');
    const parent = parentId !== undefined ? itemById.get(parentId) : undefined;
    const ctl = parent ? controllerOf(parent) : undefined;
    if (!ctl) continue;
    const unit = count(text(it, 'AddressOnParent'));
    controllerByDisk.set(disk.diskId, { ...ctl, ...(unit !== undefined ? { unit } : {}) });
  }
  for (const d of disks) {
    const c = controllerByDisk.get(d.diskId);
    if (c) d.controller = c;
  }

  const system = first(hw, 'System');
  const virtualSystemType = text(system, 'VirtualSystemType');
  const firmware = firmwareOf(hw, vs, virtualSystemType);

  const os = sections(vs, 'OperatingSystemSection')[0];
  const osType = attr(os, 'osType') ?? text(os, 'OSType') ?? text(os, 'Description');
  const cimId = count(attr(os, 'id'));
  const vmwOsType = attr(os, 'osType');
  const osDescription = text(os, 'Description');
  const profileOs: OvfOsType = {
    ...(cimId !== undefined ? { cimId } : {}),
    ...(vmwOsType !== undefined ? { vmwOsType } : {}),
    ...(osDescription !== undefined ? { description: osDescription } : {}),
  };

  const vmName =
    text(vs, 'Name') ??
    attr(vs, 'id') ??
    text(system, 'VirtualSystemIdentifier') ??
    text(system, 'ElementName') ??
    'vm';

  const profile: OvfProfile = {
    name: vmName,
    vcpus,
    memoryBytes,
    firmware,
    ...(Object.keys(profileOs).length > 0 ? { osType: profileOs } : {}),
    disks,
    nics,
  };

  return {
    vmName,
    vcpus,
    memoryMiB,
    firmware,
    ...(osType ? { osType } : {}),
    disks: disks.map(({ controller: _c, ...d }) => d),
    nics,
    files,
    ...(configuration !== undefined ? { configuration } : {}),
    ...(virtualSystemType !== undefined ? { virtualSystemType } : {}),
    ...(version !== undefined ? { ovfVersion: version } : {}),
    profile,
  };
}
