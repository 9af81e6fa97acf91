import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ImageError } from './errors';

export interface OvfDisk {
  diskId: string;
  fileRef?: string;
  href?: string;
  capacityBytes: number;
  format?: string;
  populatedSizeBytes?: number;
}

export interface OvfNic {
  name: string;
  network?: string;
  adapterType?: string;
}

/** Kind of storage controller a disk hangs off (CIM ResourceType 5 IDE, 6 SCSI, 20 other). */
export type OvfControllerType = 'ide' | 'scsi' | 'sata' | 'nvme' | 'other';

export interface OvfController {
  type: OvfControllerType;
  /** rasd:ResourceSubType as written (lsilogic, lsilogicsas, buslogic, VirtualSCSI, PIIX4, AHCI...). */
  subtype?: string;
  /** The controller's rasd:BusNumber, else its rasd:Address. */
  busNumber?: number;
  /** The disk's rasd:AddressOnParent (its unit on the controller). */
  unit?: number;
}

export interface OvfProfileDisk extends OvfDisk {
  controller?: OvfController;
}

export interface OvfOsType {
  /** CIM_OperatingSystem id from OperatingSystemSection ovf:id (e.g. 94 Ubuntu 64-bit, 80 RHEL 64-bit). */
  cimId?: number;
  /** VMware guest id from vmw:osType (e.g. "rhel6_64Guest"). */
  vmwOsType?: string;
  /** OperatingSystemSection Description. */
  description?: string;
}

/** What a VM needs on the other side: the VM profile an OVF describes. */
export interface OvfProfile {
  name: string;
  vcpus: number;
  memoryBytes: number;
  firmware: 'bios' | 'efi';
  osType?: OvfOsType;
  disks: OvfProfileDisk[];
  nics: OvfNic[];
}

export interface OvfHardware {
  vmName: string;
  vcpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'efi';
  osType?: string;
  disks: OvfDisk[];
  nics: OvfNic[];
  /** All files listed in References. */
  files?: Array<{ id: string; href: string; size?: number; compression?: string }>;
  /** The deployment option (configuration) whose items were used, when the OVF has several. */
  configuration?: string;
  /** VirtualSystemType, e.g. "vmx-13" or "virtualbox-2.2". */
  virtualSystemType?: string;
  /** OVF version of the envelope ("0.9", "1.x" or "2.x"), as far as it can tell. */
  ovfVersion?: string;
  /** The VM profile: memory in bytes, OS ids, disks with their controllers. */
  profile: OvfProfile;
}

export interface ParseOvfOptions {
  /** Deployment option to apply (default: the one marked default, else the first). */
  configuration?: string;
  /** Largest descriptor accepted (default 16 MiB). */
  maxBytes?: number;
}

type XNode = Record<string, unknown>;

function own(node: unknown, key: string): unknown {
  if (node === null || typeof node !== 'object') return undefined;
  return Object.prototype.hasOwnProperty.call(node, key) ? (node as XNode)[key] : undefined;
}

function list(node: unknown, key: string): XNode[] {
  const v = own(node, key);
  if (v === undefined || v === null) return [];
  const arr: unknown[] = Array.isArray(v) ? v : [v];
  return arr.map((x) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? (x as XNode)
      : ({ '#text': String(x) } as XNode),
  );
}

function first(node: unknown, key: string): XNode | undefined {
  return list(node, key)[0];
}

function text(node: unknown, key?: string): string | undefined {
  const v = key === undefined ? node : own(node, key);
  const one: unknown = Array.isArray(v) ? v[0] : v;
  if (one === undefined || one === null) return undefined;
  if (typeof one === 'object') {
    const t = own(one, '#text');
    return t === undefined || t === null || typeof t === 'object' ? undefined : String(t).trim();
  }
  return String(one).trim();
}

function attr(node: XNode | undefined, name: string): string | undefined {
  const v = own(node, `@_${name}`);
  return v === undefined || v === null || typeof v === 'object' ? undefined : String(v);
}

/** Sections by element name (OVF 1.x/2.x) or by xsi:type "<name>_Type" (OVF 0.9). */
function sections(node: unknown, name: string): XNode[] {
  const legacy = list(node, 'Section').filter(
    (s) => (attr(s, 'type') ?? '').replace(/^.*:/, '') === `${name}_Type`,
  );
  return [...list(node, name), ...legacy];
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

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** A non-negative whole number (an id, a bus or unit number), else undefined. */
function count(s: string | undefined): number | undefined {
  const n = num(s);
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

let parser: XMLParser | undefined;
/** Made on first use: every program that loads this library (a conversion) does not parse OVF. */
function ovfParser(): XMLParser {
  parser ??= new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    htmlEntities: false,
  });
  return parser;
}

function invalid(message: string, cause?: unknown): ImageError {
  return new ImageError('BG_OVF_INVALID', message, cause === undefined ? undefined : { cause });
}

/** quantity × unit as a whole byte count; BG_OVF_INVALID when the unit is unknown or the result absurd. */
function bytesOf(quantity: number, units: string | undefined, defaultUnit: number, what: string): number {
  const unit = parseAllocationUnits(units, defaultUnit);
  if (unit === undefined) {
    throw invalid(
      `OVF descriptor: ${what} has allocation units "${String(units).slice(0, 80)}", which are not a byte unit (expected e.g. "byte * 2^20" or "MegaBytes")`,
    );
  }
  const v = Math.round(quantity * unit);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw invalid(`OVF descriptor: ${what} of ${quantity} × ${unit} bytes is not a usable size`);
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
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  if (typeof xml !== 'string') throw invalid('OVF descriptor is not text');
  if (Buffer.byteLength(xml) > maxBytes) {
    throw invalid(`OVF descriptor is larger than ${maxBytes} bytes (maxBytes); refusing to parse it`);
  }
  const body = xml.replace(/^\uFEFF/, '');
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) {
    throw invalid(
      'OVF descriptor contains a DOCTYPE/ENTITY declaration, which OVF never needs; refusing it (entity expansion attacks)',
    );
  }
  let doc: XNode;
  try {
    const valid = XMLValidator.validate(body);
    if (valid !== true) {
      throw invalid(
        `OVF descriptor is not well-formed XML: ${valid.err.msg} at line ${valid.err.line}, column ${valid.err.col}; re-export the VM`,
      );
    }
    doc = ovfParser().parse(body) as XNode;
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw invalid(`OVF descriptor cannot be parsed: ${(err as Error)?.message ?? String(err)}`, err);
  }
  const env = first(doc, 'Envelope');
  if (!env) throw invalid('OVF descriptor has no Envelope root element; this is not an OVF file');

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
  if (!vs) throw invalid('OVF descriptor has no VirtualSystem; nothing to import');

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
    throw invalid(
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

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;')
    .replace(/\n/g, '&#10;')
    .replace(/\t/g, '&#9;');
}

export const STREAM_OPTIMIZED_FORMAT_URI =
  'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';

/** The historic input of buildOvf: one lsilogic SCSI controller, VMXNET3 NICs, sizes in MiB. */
export interface BuildOvfOptions {
  vmName: string;
  vcpus: number;
  memoryMiB: number;
  firmware: 'bios' | 'efi';
  disks: Array<{ fileName: string; fileSize: number; capacityBytes: number }>;
  nics?: number;
  /** vmw:osType (default "otherGuest64"). */
  osType?: string;
  /** VirtualSystemType (default "vmx-13"). */
  hardwareVersion?: string;
  /** Network name for the NICs (default "VM Network"). */
  network?: string;
}

export interface BuildOvfProfileOptions {
  /** Size of each referenced file by href, written as File ovf:size. */
  fileSizes?: Record<string, number>;
  /** VirtualSystemType (default "vmx-13"). */
  hardwareVersion?: string;
}

function isProfile(o: BuildOvfOptions | OvfProfile): o is OvfProfile {
  return 'memoryBytes' in o;
}

/** The profile the historic options describe. */
export function profileFromBuildOptions(o: BuildOvfOptions): {
  profile: OvfProfile;
  options: BuildOvfProfileOptions;
} {
  if (o.disks.length === 0 || o.disks.length > 15) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `buildOvf: between 1 and 15 disks are supported, got ${o.disks.length}`,
    );
  }
  const network = o.network ?? 'VM Network';
  return {
    profile: {
      name: o.vmName,
      vcpus: o.vcpus,
      memoryBytes: o.memoryMiB * 2 ** 20,
      firmware: o.firmware,
      osType: { cimId: 102, vmwOsType: o.osType ?? 'otherGuest64' },
      disks: o.disks.map((d, i) => ({
        diskId: `vmdisk${i + 1}`,
        fileRef: `file${i + 1}`,
        href: d.fileName,
        capacityBytes: d.capacityBytes,
        format: STREAM_OPTIMIZED_FORMAT_URI,
        controller: { type: 'scsi', subtype: 'lsilogic', busNumber: 0, unit: i < 7 ? i : i + 1 },
      })),
      nics: Array.from({ length: o.nics ?? 1 }, (_, i) => ({
        name: `Network adapter ${i + 1}`,
        network,
        adapterType: 'VmxNet3',
      })),
    },
    options: {
      fileSizes: Object.fromEntries(o.disks.map((d) => [d.fileName, d.fileSize])),
      ...(o.hardwareVersion !== undefined ? { hardwareVersion: o.hardwareVersion } : {}),
    },
  };
}

const CONTROLLER_RESOURCE: Record<OvfControllerType, { rt: number; label: string }> = {
  ide: { rt: 5, label: 'IDE Controller' },
  scsi: { rt: 6, label: 'SCSI Controller' },
  sata: { rt: 20, label: 'SATA Controller' },
  nvme: { rt: 20, label: 'NVME Controller' },
  other: { rt: 20, label: 'Storage Controller' },
};

function checkProfile(p: OvfProfile): void {
  const bad = (what: string) => {
    throw new ImageError('BG_IMAGE_INVALID_ARGUMENT', `buildOvf: ${what}`);
  };
  if (!Number.isSafeInteger(p.vcpus) || p.vcpus < 1) bad(`vcpus must be a positive integer, got ${p.vcpus}`);
  if (!Number.isSafeInteger(p.memoryBytes) || p.memoryBytes < 0) bad(`invalid memoryBytes ${p.memoryBytes}`);
  const ids = new Set<string>();
  for (const d of p.disks) {
    if (ids.has(d.diskId)) bad(`duplicate diskId "${d.diskId}"`);
    ids.add(d.diskId);
    if (!Number.isSafeInteger(d.capacityBytes) || d.capacityBytes < 0) {
      bad(`disk "${d.diskId}" has an invalid capacity ${d.capacityBytes}`);
    }
    if (d.href !== undefined && d.fileRef === undefined) bad(`disk "${d.diskId}" has an href but no fileRef`);
  }
}

/**
 * A valid OVF 1.x envelope describing one VM: References, DiskSection, NetworkSection,
 * OperatingSystemSection (CIM id, vmw:osType, description), and a VirtualHardwareSection with CPU,
 * memory, one Item per distinct controller (IDE 5, SCSI 6 with its subtype, SATA/NVMe/other 20),
 * the disks on their controllers (rasd:Parent, AddressOnParent = unit), the NICs, and the firmware
 * as vmw:Config key="firmware". rasd elements are in schema (alphabetical) order.
 * `parseOvf(buildOvf(p)).profile` equals `p`. The historic options form (one lsilogic controller,
 * VMXNET3 NICs) is still accepted.
 */
export function buildOvf(
  input: BuildOvfOptions | OvfProfile,
  buildOpts: BuildOvfProfileOptions = {},
): string {
  let p: OvfProfile;
  let o: BuildOvfProfileOptions;
  if (isProfile(input)) {
    p = input;
    o = buildOpts;
  } else {
    const conv = profileFromBuildOptions(input);
    p = conv.profile;
    o = { ...conv.options, ...buildOpts };
  }
  checkProfile(p);
  const L: string[] = [];
  L.push('<?xml version="1.0" encoding="UTF-8"?>');
  L.push(
    '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
  );
  L.push('  <References>');
  const written = new Set<string>();
  for (const d of p.disks) {
    if (d.fileRef === undefined || d.href === undefined || written.has(d.fileRef)) continue;
    written.add(d.fileRef);
    const size = o.fileSizes?.[d.href];
    L.push(
      `    <File ovf:href="${esc(d.href)}" ovf:id="${esc(d.fileRef)}"${size !== undefined ? ` ovf:size="${size}"` : ''}/>`,
    );
  }
  L.push('  </References>');
  L.push('  <DiskSection>');
  L.push('    <Info>Virtual disk information</Info>');
  for (const d of p.disks) {
    const a = [
      `ovf:capacity="${d.capacityBytes}"`,
      'ovf:capacityAllocationUnits="byte"',
      `ovf:diskId="${esc(d.diskId)}"`,
      ...(d.fileRef !== undefined ? [`ovf:fileRef="${esc(d.fileRef)}"`] : []),
      ...(d.format !== undefined ? [`ovf:format="${esc(d.format)}"`] : []),
      ...(d.populatedSizeBytes !== undefined ? [`ovf:populatedSize="${d.populatedSizeBytes}"`] : []),
    ];
    L.push(`    <Disk ${a.join(' ')}/>`);
  }
  L.push('  </DiskSection>');
  const networks = [...new Set(p.nics.flatMap((n) => (n.network !== undefined ? [n.network] : [])))];
  if (networks.length > 0) {
    L.push('  <NetworkSection>');
    L.push('    <Info>The list of logical networks</Info>');
    for (const net of networks) {
      L.push(`    <Network ovf:name="${esc(net)}">`);
      L.push(`      <Description>The ${esc(net)} network</Description>`);
      L.push('    </Network>');
    }
    L.push('  </NetworkSection>');
  }
  L.push(`  <VirtualSystem ovf:id="${esc(p.name)}">`);
  L.push('    <Info>A virtual machine</Info>');
  L.push(`    <Name>${esc(p.name)}</Name>`);
  if (p.osType !== undefined) {
    const os = p.osType;
    const a = [
      ...(os.cimId !== undefined ? [`ovf:id="${os.cimId}"`] : []),
      ...(os.vmwOsType !== undefined ? [`vmw:osType="${esc(os.vmwOsType)}"`] : []),
    ];
    L.push(`    <OperatingSystemSection${a.length > 0 ? ' ' + a.join(' ') : ''}>`);
    L.push('      <Info>The kind of installed guest operating system</Info>');
    if (os.description !== undefined) L.push(`      <Description>${esc(os.description)}</Description>`);
    L.push('    </OperatingSystemSection>');
  }
  L.push('    <VirtualHardwareSection>');
  L.push('      <Info>Virtual hardware requirements</Info>');
  L.push('      <System>');
  L.push('        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>');
  L.push('        <vssd:InstanceID>0</vssd:InstanceID>');
  L.push(`        <vssd:VirtualSystemIdentifier>${esc(p.name)}</vssd:VirtualSystemIdentifier>`);
  L.push(`        <vssd:VirtualSystemType>${esc(o.hardwareVersion ?? 'vmx-13')}</vssd:VirtualSystemType>`);
  L.push('      </System>');
  let id = 1;
  const item = (fields: Array<[string, string | number | undefined]>) => {
    L.push('      <Item>');
    for (const [k, v] of fields) {
      if (v !== undefined) L.push(`        <rasd:${k}>${esc(String(v))}</rasd:${k}>`);
    }
    L.push('      </Item>');
  };
  item([
    ['AllocationUnits', 'hertz * 10^6'],
    ['Description', 'Number of Virtual CPUs'],
    ['ElementName', `${p.vcpus} virtual CPU(s)`],
    ['InstanceID', id++],
    ['ResourceType', 3],
    ['VirtualQuantity', p.vcpus],
  ]);
  const inMiB = p.memoryBytes % 2 ** 20 === 0;
  item([
    ['AllocationUnits', inMiB ? 'byte * 2^20' : 'byte'],
    ['Description', 'Memory Size'],
    ['ElementName', inMiB ? `${p.memoryBytes / 2 ** 20}MB of memory` : `${p.memoryBytes} bytes of memory`],
    ['InstanceID', id++],
    ['ResourceType', 4],
    ['VirtualQuantity', inMiB ? p.memoryBytes / 2 ** 20 : p.memoryBytes],
  ]);
  // one Item per distinct controller (type, subtype, bus)
  const controllerIds = new Map<string, number>();
  const keyOf = (c: OvfController) => JSON.stringify([c.type, c.subtype ?? null, c.busNumber ?? null]);
  const perType = new Map<OvfControllerType, number>();
  for (const d of p.disks) {
    const c = d.controller;
    if (!c || controllerIds.has(keyOf(c))) continue;
    const cid = id++;
    controllerIds.set(keyOf(c), cid);
    const r = CONTROLLER_RESOURCE[c.type];
    const n = perType.get(c.type) ?? 0;
    perType.set(c.type, n + 1);
    item([
      ['Address', c.busNumber],
      ['Description', r.label],
      ['ElementName', `${r.label} ${c.busNumber ?? n}`],
      ['InstanceID', cid],
      ['ResourceSubType', c.subtype],
      ['ResourceType', r.rt],
    ]);
  }
  p.disks.forEach((d, i) => {
    const c = d.controller;
    item([
      ['AddressOnParent', c?.unit],
      ['ElementName', `Hard Disk ${i + 1}`],
      ['HostResource', `ovf:/disk/${d.diskId}`],
      ['InstanceID', id++],
      ['Parent', c ? controllerIds.get(keyOf(c)) : undefined],
      ['ResourceType', 17],
    ]);
  });
  p.nics.forEach((nic, i) => {
    item([
      ['AddressOnParent', 7 + i],
      ['AutomaticAllocation', 'true'],
      ['Connection', nic.network],
      [
        'Description',
        `${nic.adapterType ?? 'Ethernet'} adapter${nic.network !== undefined ? ` on "${nic.network}"` : ''}`,
      ],
      ['ElementName', nic.name],
      ['InstanceID', id++],
      ['ResourceSubType', nic.adapterType],
      ['ResourceType', 10],
    ]);
  });
  L.push(`      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="${p.firmware}"/>`);
  L.push('    </VirtualHardwareSection>');
  L.push('  </VirtualSystem>');
  L.push('</Envelope>');
  return L.join('\n') + '\n';
}
