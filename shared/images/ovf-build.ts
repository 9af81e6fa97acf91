/**
 * Writing an OVF 1.x descriptor for one VM (the one writeOva puts in an OVA), from a profile or
 * from the historic options (one lsilogic SCSI controller, VMXNET3 NICs).
 */
import { ImageError } from './errors';
import type { OvfController, OvfControllerType, OvfProfile } from './ovf-profile';

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
