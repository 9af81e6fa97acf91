/**
 * The VM an OVF descriptor describes, as parseOvf returns it and buildOvf takes it (ovf-parse.ts,
 * ovf-build.ts).
 */
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
