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
}

export interface ParseOvfOptions {
  /** Deployment option to apply (default: the one marked default, else the first). */
  configuration?: string;
  /** Largest descriptor accepted (default 16 MiB). */
  maxBytes?: number;
}

type XNode = Record<string, unknown>;

function list(node: unknown, key: string): XNode[] {
  if (node === null || typeof node !== 'object') return [];
  const v = (node as XNode)[key];
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.map((x) =>
    x !== null && typeof x === 'object' ? (x as XNode) : ({ '#text': String(x) } as XNode),
  );
}

function first(node: unknown, key: string): XNode | undefined {
  return list(node, key)[0];
}

function text(node: unknown, key?: string): string | undefined {
  const v =
    key === undefined ? node : node !== null && typeof node === 'object' ? (node as XNode)[key] : undefined;
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined || one === null) return undefined;
  if (typeof one === 'object') {
    const t = (one as XNode)['#text'];
    return t === undefined ? undefined : String(t).trim();
  }
  return String(one).trim();
}

function attr(node: XNode | undefined, name: string): string | undefined {
  const v = node?.[`@_${name}`];
  return v === undefined ? undefined : String(v);
}

/** Sections by element name (OVF 1.x/2.x) or by xsi:type "<name>_Type" (OVF 0.9). */
function sections(node: unknown, name: string): XNode[] {
  const legacy = list(node, 'Section').filter(
    (s) => (attr(s, 'type') ?? '').replace(/^.*:/, '') === `${name}_Type`,
  );
  return [...list(node, name), ...legacy];
}

/**
 * Multiplier of a CIM programmatic unit ("byte * 2^20", "MegaBytes", "GB", "byte * 1024"...).
 * Returns undefined for units it does not know.
 */
export function parseAllocationUnits(
  units: string | undefined,
  defaultMultiplier: number,
): number | undefined {
  if (units === undefined || units.trim() === '') return defaultMultiplier;
  const u = units.trim().replace(/\s+/g, ' ');
  const named: Record<string, number> = {
    byte: 1,
    bytes: 1,
    b: 1,
    kilobytes: 2 ** 10,
    kb: 2 ** 10,
    kib: 2 ** 10,
    megabytes: 2 ** 20,
    mb: 2 ** 20,
    mib: 2 ** 20,
    gigabytes: 2 ** 30,
    gb: 2 ** 30,
    gib: 2 ** 30,
    terabytes: 2 ** 40,
    tb: 2 ** 40,
    tib: 2 ** 40,
  };
  const n = named[u.toLowerCase()];
  if (n !== undefined) return n;
  const m = /^byte\s*(?:\*\s*(\d+)\s*(?:\^\s*(\d+))?)?(?:\s*\*\s*(\d+)\s*(?:\^\s*(\d+))?)?$/i.exec(u);
  if (!m) return undefined;
  let mult = 1;
  if (m[1] !== undefined) mult *= Number(m[1]) ** Number(m[2] ?? 1);
  if (m[3] !== undefined) mult *= Number(m[3]) ** Number(m[4] ?? 1);
  return Number.isFinite(mult) ? mult : undefined;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : undefined;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

/**
 * Reads what burstgate needs from an OVF descriptor: name, vCPUs, memory, firmware, OS type, disks
 * and NICs. Handles any namespace prefix (ovf:, rasd:, sasd:, epasd: or none), the OVF 0.9 legacy
 * layout (Section xsi:type=...), OVF 2.0 StorageItem/EthernetPortItem, and deployment options.
 * Unknown elements are ignored; BG_OVF_INVALID only when the XML is broken or has no Envelope /
 * VirtualSystem.
 */
export function parseOvf(xml: string, opts: ParseOvfOptions = {}): OvfHardware {
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  if (Buffer.byteLength(xml) > maxBytes) {
    throw new ImageError(
      'BG_OVF_INVALID',
      `OVF descriptor is larger than ${maxBytes} bytes (maxBytes); refusing to parse it`,
    );
  }
  const body = xml.replace(/^\uFEFF/, '');
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) {
    throw new ImageError(
      'BG_OVF_INVALID',
      'OVF descriptor contains a DOCTYPE/ENTITY declaration, which OVF never needs; refusing it (entity expansion attacks)',
    );
  }
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    throw new ImageError(
      'BG_OVF_INVALID',
      `OVF descriptor is not well-formed XML: ${valid.err.msg} at line ${valid.err.line}, column ${valid.err.col}; re-export the VM`,
    );
  }
  let doc: XNode;
  try {
    doc = parser.parse(body) as XNode;
  } catch (err) {
    throw new ImageError('BG_OVF_INVALID', `OVF descriptor cannot be parsed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const env = first(doc, 'Envelope');
  if (!env)
    throw new ImageError(
      'BG_OVF_INVALID',
      'OVF descriptor has no Envelope root element; this is not an OVF file',
    );

  const version = attr(env, 'version');
  const files = list(first(env, 'References'), 'File').map((f) => {
    const size = num(attr(f, 'size'));
    const compression = attr(f, 'compression');
    return {
      id: attr(f, 'id') ?? '',
      href: attr(f, 'href') ?? '',
      ...(size !== undefined ? { size } : {}),
      ...(compression !== undefined ? { compression } : {}),
    };
  });
  const hrefById = new Map(files.map((f) => [f.id, f.href]));

  const disks: OvfDisk[] = [];
  for (const ds of sections(env, 'DiskSection')) {
    for (const d of list(ds, 'Disk')) {
      const unit = parseAllocationUnits(attr(d, 'capacityAllocationUnits'), 1) ?? 1;
      const cap = num(attr(d, 'capacity'));
      const fileRef = attr(d, 'fileRef');
      const href = fileRef !== undefined ? hrefById.get(fileRef) : undefined;
      const format = attr(d, 'format');
      const populated = num(attr(d, 'populatedSize'));
      disks.push({
        diskId: attr(d, 'diskId') ?? '',
        ...(fileRef !== undefined ? { fileRef } : {}),
        ...(href !== undefined ? { href } : {}),
        capacityBytes: cap === undefined ? 0 : Math.round(cap * unit),
        ...(format !== undefined ? { format } : {}),
        ...(populated !== undefined ? { populatedSizeBytes: populated } : {}),
      });
    }
  }

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
  if (!vs) throw new ImageError('BG_OVF_INVALID', 'OVF descriptor has no VirtualSystem; nothing to import');

  // deployment options
  const configs = sections(env, 'DeploymentOptionSection').flatMap((s) => list(s, 'Configuration'));
  let configuration = opts.configuration;
  if (configuration === undefined && configs.length > 0) {
    configuration = attr(configs.find((c) => attr(c, 'default') === 'true') ?? configs[0], 'id');
  }
  if (opts.configuration !== undefined && !configs.some((c) => attr(c, 'id') === opts.configuration)) {
    throw new ImageError(
      'BG_OVF_INVALID',
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
  // items with the same InstanceID: the configuration-specific one wins over the generic one
  const byInstance = new Map<string, XNode>();
  const items: XNode[] = [];
  for (const it of rawItems) {
    const id = text(it, 'InstanceID') ?? text(it, 'InstanceId');
    if (id === undefined) {
      items.push(it);
      continue;
    }
    const prev = byInstance.get(id);
    if (prev === undefined || attr(it, 'configuration') !== undefined) byInstance.set(id, it);
    if (prev === undefined) items.push(it);
  }
  const effective = items.map((it) => {
    const id = text(it, 'InstanceID') ?? text(it, 'InstanceId');
    return id === undefined ? it : byInstance.get(id)!;
  });
  const ofType = (t: number) => effective.filter((it) => num(text(it, 'ResourceType')) === t);

  const cpu = ofType(3)[0];
  const vcpus = num(text(cpu, 'VirtualQuantity')) ?? 1;
  const mem = ofType(4)[0];
  const memQ = num(text(mem, 'VirtualQuantity'));
  const memUnit = parseAllocationUnits(text(mem, 'AllocationUnits'), 2 ** 20) ?? 2 ** 20;
  const memoryMiB = memQ === undefined ? 0 : Math.round((memQ * memUnit) / 2 ** 20);

  const nics: OvfNic[] = ofType(10).map((n, i) => {
    const network = text(n, 'Connection');
    const adapterType = text(n, 'ResourceSubType');
    return {
      name: text(n, 'ElementName') ?? text(n, 'Caption') ?? `nic${i}`,
      ...(network ? { network } : {}),
      ...(adapterType ? { adapterType } : {}),
    };
  });

  // firmware: vmw:Config key="firmware", VirtualSystemType, VirtualBox's <Firmware type="EFI"/>
  let firmware: 'bios' | 'efi' = 'bios';
  const configsInHw = [...list(hw, 'Config'), ...list(hw, 'ExtraConfig')];
  const fwConfig = configsInHw.find((c) => (attr(c, 'key') ?? '').toLowerCase() === 'firmware');
  const system = first(hw, 'System');
  const virtualSystemType = text(system, 'VirtualSystemType');
  if (fwConfig) firmware = /efi/i.test(attr(fwConfig, 'value') ?? '') ? 'efi' : 'bios';
  else if (/efi|uefi/i.test(virtualSystemType ?? '')) firmware = 'efi';
  else {
    const machine = first(vs, 'Machine');
    const fw = first(first(machine, 'Hardware'), 'Firmware');
    if (/efi/i.test(attr(fw, 'type') ?? '')) firmware = 'efi';
  }

  const os = sections(vs, 'OperatingSystemSection')[0];
  const osType = attr(os, 'osType') ?? text(os, 'OSType') ?? text(os, 'Description');

  const vmName =
    text(vs, 'Name') ??
    attr(vs, 'id') ??
    text(system, 'VirtualSystemIdentifier') ??
    text(system, 'ElementName') ??
    'vm';

  return {
    vmName,
    vcpus,
    memoryMiB,
    firmware,
    ...(osType ? { osType } : {}),
    disks,
    nics,
    files,
    ...(configuration !== undefined ? { configuration } : {}),
    ...(virtualSystemType !== undefined ? { virtualSystemType } : {}),
    ...(version !== undefined ? { ovfVersion: version } : {}),
  };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export const STREAM_OPTIMIZED_FORMAT_URI =
  'http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized';

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

/**
 * A valid OVF 1.x envelope for one VM: References, DiskSection (streamOptimized VMDK format URI),
 * NetworkSection, and a VirtualHardwareSection with CPU, memory, one SCSI controller (lsilogic,
 * up to 15 disks), the disks and VMXNET3 NICs. rasd elements are in schema (alphabetical) order.
 */
export function buildOvf(o: BuildOvfOptions): string {
  if (o.disks.length === 0 || o.disks.length > 15) {
    throw new ImageError(
      'BG_IMAGE_INVALID_ARGUMENT',
      `buildOvf: between 1 and 15 disks are supported, got ${o.disks.length}`,
    );
  }
  const nicCount = o.nics ?? 1;
  const network = o.network ?? 'VM Network';
  const L: string[] = [];
  L.push('<?xml version="1.0" encoding="UTF-8"?>');
  L.push(
    '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
  );
  L.push('  <References>');
  o.disks.forEach((d, i) =>
    L.push(`    <File ovf:href="${esc(d.fileName)}" ovf:id="file${i + 1}" ovf:size="${d.fileSize}"/>`),
  );
  L.push('  </References>');
  L.push('  <DiskSection>');
  L.push('    <Info>Virtual disk information</Info>');
  o.disks.forEach((d, i) =>
    L.push(
      `    <Disk ovf:capacity="${d.capacityBytes}" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk${i + 1}" ovf:fileRef="file${i + 1}" ovf:format="${STREAM_OPTIMIZED_FORMAT_URI}"/>`,
    ),
  );
  L.push('  </DiskSection>');
  L.push('  <NetworkSection>');
  L.push('    <Info>The list of logical networks</Info>');
  L.push(`    <Network ovf:name="${esc(network)}">`);
  L.push(`      <Description>The ${esc(network)} network</Description>`);
  L.push('    </Network>');
  L.push('  </NetworkSection>');
  L.push(`  <VirtualSystem ovf:id="${esc(o.vmName)}">`);
  L.push('    <Info>A virtual machine</Info>');
  L.push(`    <Name>${esc(o.vmName)}</Name>`);
  L.push(`    <OperatingSystemSection ovf:id="102" vmw:osType="${esc(o.osType ?? 'otherGuest64')}">`);
  L.push('      <Info>The kind of installed guest operating system</Info>');
  L.push('    </OperatingSystemSection>');
  L.push('    <VirtualHardwareSection>');
  L.push('      <Info>Virtual hardware requirements</Info>');
  L.push('      <System>');
  L.push('        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>');
  L.push('        <vssd:InstanceID>0</vssd:InstanceID>');
  L.push(`        <vssd:VirtualSystemIdentifier>${esc(o.vmName)}</vssd:VirtualSystemIdentifier>`);
  L.push(`        <vssd:VirtualSystemType>${esc(o.hardwareVersion ?? 'vmx-13')}</vssd:VirtualSystemType>`);
  L.push('      </System>');
  let id = 1;
  const item = (fields: Array<[string, string | number]>) => {
    L.push('      <Item>');
    for (const [k, v] of fields) L.push(`        <rasd:${k}>${esc(String(v))}</rasd:${k}>`);
    L.push('      </Item>');
  };
  item([
    ['AllocationUnits', 'hertz * 10^6'],
    ['Description', 'Number of Virtual CPUs'],
    ['ElementName', `${o.vcpus} virtual CPU(s)`],
    ['InstanceID', id++],
    ['ResourceType', 3],
    ['VirtualQuantity', o.vcpus],
  ]);
  item([
    ['AllocationUnits', 'byte * 2^20'],
    ['Description', 'Memory Size'],
    ['ElementName', `${o.memoryMiB}MB of memory`],
    ['InstanceID', id++],
    ['ResourceType', 4],
    ['VirtualQuantity', o.memoryMiB],
  ]);
  const scsi = id++;
  item([
    ['Address', 0],
    ['Description', 'SCSI Controller'],
    ['ElementName', 'SCSI Controller 0'],
    ['InstanceID', scsi],
    ['ResourceSubType', 'lsilogic'],
    ['ResourceType', 6],
  ]);
  o.disks.forEach((_d, i) =>
    item([
      ['AddressOnParent', i < 7 ? i : i + 1],
      ['ElementName', `Hard Disk ${i + 1}`],
      ['HostResource', `ovf:/disk/vmdisk${i + 1}`],
      ['InstanceID', id++],
      ['Parent', scsi],
      ['ResourceType', 17],
    ]),
  );
  for (let i = 0; i < nicCount; i++) {
    item([
      ['AddressOnParent', 7 + i],
      ['AutomaticAllocation', 'true'],
      ['Connection', network],
      ['Description', `VmxNet3 ethernet adapter on "${network}"`],
      ['ElementName', `Network adapter ${i + 1}`],
      ['InstanceID', id++],
      ['ResourceSubType', 'VmxNet3'],
      ['ResourceType', 10],
    ]);
  }
  L.push(`      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="${o.firmware}"/>`);
  L.push('    </VirtualHardwareSection>');
  L.push('  </VirtualSystem>');
  L.push('</Envelope>');
  return L.join('\n') + '\n';
}
