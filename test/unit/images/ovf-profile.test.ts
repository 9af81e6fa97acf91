import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { buildOvf, STREAM_OPTIMIZED_FORMAT_URI } from '../../../shared/images/ovf-build';
import { parseOvf } from '../../../shared/images/ovf-parse';
import type { OvfController, OvfProfile } from '../../../shared/images/ovf-profile';

const realWorld = join(__dirname, '../../../../shared/fixtures/real-world');
const present = existsSync(realWorld);
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const SPARSE_URI = 'http://www.vmware.com/specifications/vmdk.html#sparse';

/**
 * Every value below was read by hand from the file named in the first column (line references are
 * to the element that carries it), not produced by the parser.
 */
const expected: Array<[string, OvfProfile]> = [
  [
    // OVF 2.0 VirtualBox export: VirtualSystem ovf:id="ubuntu" (no <Name>); 1 CPU; memory 512
    // "MegaBytes"; OperatingSystemSection ovf:id="94" + <Description>Ubuntu_64; Disk capacity
    // 8589934592 (no units); StorageItem disk1 Parent 5 = SATA controller (ResourceType 20,
    // ResourceSubType AHCI, Address 0), AddressOnParent 0; EthernetPortItem Caption "Ethernet
    // adapter on 'NAT'", Connection NAT, E1000; no EFI marker in vbox:Machine.
    'cot-virtualbox/ubuntu.2.0.ovf',
    {
      name: 'ubuntu',
      vcpus: 1,
      memoryBytes: 512 * MiB,
      firmware: 'bios',
      osType: { cimId: 94, description: 'Ubuntu_64' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'ubuntu.2.0-disk1.vmdk',
          capacityBytes: 8589934592,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'sata', subtype: 'AHCI', busNumber: 0, unit: 0 },
        },
      ],
      nics: [{ name: "Ethernet adapter on 'NAT'", network: 'NAT', adapterType: 'E1000' }],
    },
  ],
  [
    // COT sample with deployment options: the default is 4CPU-4GB-3NIC (ovf:default="true"), so
    // 4 vCPUs, 4096 × "byte * 2^20", NICs GigabitEthernet1..3 on "VM Network" (VMXNET3); Disk
    // capacity 1 × "byte * 2^30"; disk Parent 3 = SCSI lsilogic Address 0, AddressOnParent 0;
    // OperatingSystemSection ovf:id="100" vmw:osType="other26xLinux64Guest", Description
    // "DEVELOPMENT IMAGE"; no firmware key.
    'cot-vmware/input.ovf',
    {
      name: 'test',
      vcpus: 4,
      memoryBytes: 4096 * MiB,
      firmware: 'bios',
      osType: { cimId: 100, vmwOsType: 'other26xLinux64Guest', description: 'DEVELOPMENT IMAGE' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'input.vmdk',
          capacityBytes: GiB,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'scsi', subtype: 'lsilogic', busNumber: 0, unit: 0 },
        },
      ],
      nics: [1, 2, 3].map((n) => ({
        name: `GigabitEthernet${n}`,
        network: 'VM Network',
        adapterType: 'VMXNET3',
      })),
    },
  ],
  [
    // VMware exporter (vmx-08): 2 vCPUs, 1536 MiB, firmware key "bios", OS id 80 rhel6_64Guest;
    // Disk 1 × 2^30 with populatedSize 293011456; SCSI controller subtype "virtio lsilogic";
    // four E1000 "Network adapter N" on lanethernet0.
    'cot-vmware/vmware.ovf',
    {
      name: 'vmw',
      vcpus: 2,
      memoryBytes: 1536 * MiB,
      firmware: 'bios',
      osType: { cimId: 80, vmwOsType: 'rhel6_64Guest', description: 'Red Hat Enterprise Linux 6 (64-bit)' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'input.vmdk',
          capacityBytes: GiB,
          populatedSizeBytes: 293011456,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'scsi', subtype: 'virtio lsilogic', busNumber: 0, unit: 0 },
        },
      ],
      nics: [1, 2, 3, 4].map((n) => ({
        name: `Network adapter ${n}`,
        network: 'lanethernet0',
        adapterType: 'E1000',
      })),
    },
  ],
  [
    // OVF 0.9: Section xsi:type=..., Content ovf:id="v0.9", rasd:InstanceId (lowercase d); memory
    // 8192 "MegaBytes"; OS Section ovf:id="107" vmw:osType other26xLinux64Guest (no Description);
    // Disk capacity 1073741824, format #sparse; disk1 Parent 4 = scsiController0 lsilogic
    // BusNumber 0; ethernet0 (Caption) PCNet32 on bridged.
    'cot-vmware/v0.9.ovf',
    {
      name: 'v0.9',
      vcpus: 1,
      memoryBytes: 8192 * MiB,
      firmware: 'bios',
      osType: { cimId: 107, vmwOsType: 'other26xLinux64Guest' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'input.vmdk',
          capacityBytes: 1073741824,
          format: SPARSE_URI,
          controller: { type: 'scsi', subtype: 'lsilogic', busNumber: 0, unit: 0 },
        },
      ],
      nics: [{ name: 'ethernet0', network: 'bridged', adapterType: 'PCNet32' }],
    },
  ],
  [
    // ovftool 4.0.0: 1 vCPU, 32 MiB, vmw:Config firmware = "efi"; OS id 36 otherLinuxGuest;
    // Disk 30 × "byte * 2^20", populatedSize 18743296; disk0 Parent 3 = ideController0 (no
    // subtype, Address 0); ethernet0 E1000 on nat.
    'govmomi-ovftool/ttylinux-pc_i486-16.1.ovf',
    {
      name: 'ttylinux-pc_i486-16.1',
      vcpus: 1,
      memoryBytes: 32 * MiB,
      firmware: 'efi',
      osType: { cimId: 36, vmwOsType: 'otherLinuxGuest' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'ttylinux-pc_i486-16.1-disk1.vmdk',
          capacityBytes: 30 * MiB,
          populatedSizeBytes: 18743296,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'ide', busNumber: 0, unit: 0 },
        },
      ],
      nics: [{ name: 'ethernet0', network: 'nat', adapterType: 'E1000' }],
    },
  ],
  [
    // vCenter 2013: 4 vCPUs, 16384 MiB (Limit 8192 is not the size), firmware "bios", OS id 70;
    // Disk 40 × 2^30, populatedSize 41861447680; Hard disk 1 Parent 3 = SCSI lsilogic Address 0.
    'govmomi-vcenter/windowsVM40g.ovf',
    {
      name: 'workload-driver-cloudmark042',
      vcpus: 4,
      memoryBytes: 16384 * MiB,
      firmware: 'bios',
      osType: {
        cimId: 70,
        vmwOsType: 'winNetEnterprise64Guest',
        description: 'Microsoft Windows Server 2003 (64-bit)',
      },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'windowsVM40g-disk1.vmdk',
          capacityBytes: 40 * GiB,
          populatedSizeBytes: 41861447680,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'scsi', subtype: 'lsilogic', busNumber: 0, unit: 0 },
        },
      ],
      nics: [{ name: 'Network adapter 1', network: '1GVM Network', adapterType: 'E1000' }],
    },
  ],
  [
    // vCenter 2011: 2 vCPUs, 256 MiB, no firmware key, OS id 67 winXPProGuest; Disk 7 × 2^30;
    // SCSI controller subtype buslogic; the disk Item comes after the NIC.
    'govmomi-vcenter/converter_winxp.ovf',
    {
      name: 'converter_winxp',
      vcpus: 2,
      memoryBytes: 256 * MiB,
      firmware: 'bios',
      osType: {
        cimId: 67,
        vmwOsType: 'winXPProGuest',
        description: 'Microsoft Windows XP Professional (32-bit)',
      },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'converter_winxp-disk1.vmdk',
          capacityBytes: 7 * GiB,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'scsi', subtype: 'buslogic', busNumber: 0, unit: 0 },
        },
      ],
      nics: [{ name: 'Network adapter 1', network: 'dvportgroup-4574', adapterType: 'PCNet32' }],
    },
  ],
  [
    // VirtualBox OVF 1.0: 192 "MegaBytes"; OS id 67 Description WindowsXP; Disk 10737418240,
    // #sparse; disk1 Parent 3 = ideController0 PIIX4 Address 1; NIC ElementName "Ethernet
    // adapter on 'NAT'" PCNet32.
    'govmomi-virtualbox/vbox1.ovf',
    {
      name: 'vbox1',
      vcpus: 1,
      memoryBytes: 192 * MiB,
      firmware: 'bios',
      osType: { cimId: 67, description: 'WindowsXP' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'vbox1.vmdk',
          capacityBytes: 10737418240,
          format: SPARSE_URI,
          controller: { type: 'ide', subtype: 'PIIX4', busNumber: 1, unit: 0 },
        },
      ],
      nics: [{ name: "Ethernet adapter on 'NAT'", network: 'NAT', adapterType: 'PCNet32' }],
    },
  ],
];

describe.runIf(present)('parseOvf profile of every real-world OVF', () => {
  it.each(expected)('%s', async (rel, profile) => {
    // Act
    const h = parseOvf(await readFile(join(realWorld, rel), 'utf8'));
    // Assess
    expect(h.profile).toEqual(profile);
    expect(h.memoryMiB).toBe(profile.memoryBytes / MiB);
    expect(h.vmName).toBe(profile.name);
  });

  it('covers every OVF in the folder', async () => {
    const { readdir } = await import('node:fs/promises');
    const all: string[] = [];
    for (const d of await readdir(realWorld, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      for (const f of await readdir(join(realWorld, d.name))) {
        if (f.endsWith('.ovf')) all.push(`${d.name}/${f}`);
      }
    }
    expect(all.sort()).toEqual(expected.map(([rel]) => rel).sort());
  });

  it('a non-default deployment option changes the profile (input.ovf, 2CPU-2GB-1NIC)', async () => {
    const h = parseOvf(await readFile(join(realWorld, 'cot-vmware/input.ovf'), 'utf8'), {
      configuration: '2CPU-2GB-1NIC',
    });
    expect(h.profile).toMatchObject({ vcpus: 2, memoryBytes: 2048 * MiB });
    expect(h.profile.nics.map((n) => n.name)).toEqual(['GigabitEthernet1']);
  });
});

function envelope(inner: { disks?: string; hw?: string; vs?: string; os?: string }): string {
  return `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References><File ovf:id="f1" ovf:href="d1.vmdk"/></References>
  <DiskSection><Info>x</Info>${inner.disks ?? ''}</DiskSection>
  <VirtualSystem ovf:id="vm"><Info>x</Info>${inner.os ?? ''}
    <VirtualHardwareSection><Info>x</Info>${inner.hw ?? ''}</VirtualHardwareSection>${inner.vs ?? ''}
  </VirtualSystem>
</Envelope>`;
}

describe('parseOvf units, firmware markers and controllers', () => {
  it.each([
    ['byte * 2^30', 3, 3 * GiB],
    ['byte * 2^20', 5, 5 * MiB],
    ['byte*2^20', 5, 5 * MiB],
    ['MegaBytes', 100, 100 * MiB],
    ['GigaBytes', 2, 2 * GiB],
    ['KiloBytes', 4, 4096],
    ['byte', 12345, 12345],
    ['byte * 10^9', 1, 1e9],
    ['byte * 1024 * 2^10', 2, 2 * MiB],
  ])('disk capacity and memory in %s', (units, q, bytes) => {
    const h = parseOvf(
      envelope({
        disks: `<Disk ovf:diskId="d" ovf:fileRef="f1" ovf:capacity="${q}" ovf:capacityAllocationUnits="${units}"/>`,
        hw: `<Item><rasd:AllocationUnits>${units}</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>${q}</rasd:VirtualQuantity></Item>`,
      }),
    );
    expect(h.profile.disks[0]!.capacityBytes).toBe(bytes);
    expect(h.profile.memoryBytes).toBe(bytes);
  });

  it('memory without AllocationUnits is MiB; a disk capacity without units is bytes', () => {
    const h = parseOvf(
      envelope({
        disks: '<Disk ovf:diskId="d" ovf:capacity="4096"/>',
        hw: '<Item><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>',
      }),
    );
    expect(h.profile.memoryBytes).toBe(64 * MiB);
    expect(h.profile.disks[0]).toEqual({ diskId: 'd', capacityBytes: 4096 });
  });

  it('a capacity given as ${property} is taken from the ProductSection', () => {
    const h = parseOvf(
      envelope({
        disks: '<Disk ovf:diskId="d" ovf:capacity="${disk.size}" ovf:capacityAllocationUnits="byte * 2^30"/>',
        vs: '<ProductSection><Info>p</Info><Property ovf:key="disk.size" ovf:type="int" ovf:value="20"/></ProductSection>',
      }),
    );
    expect(h.profile.disks[0]!.capacityBytes).toBe(20 * GiB);
  });

  it('refuses units that are not bytes and sizes beyond 2^53 (BG_OVF_INVALID, not a wrong size)', () => {
    for (const disks of [
      '<Disk ovf:diskId="d" ovf:capacity="1" ovf:capacityAllocationUnits="hertz * 10^6"/>',
      '<Disk ovf:diskId="d" ovf:capacity="1" ovf:capacityAllocationUnits="constructor"/>',
      '<Disk ovf:diskId="d" ovf:capacity="9999999" ovf:capacityAllocationUnits="byte * 2^60"/>',
      '<Disk ovf:diskId="d" ovf:capacity="-1"/>',
    ]) {
      expect(() => parseOvf(envelope({ disks })), disks).toThrowError(
        expect.objectContaining({ name: 'ImageError', code: 'BG_OVF_INVALID' }),
      );
    }
  });

  it.each([
    [
      'vmw:Config firmware=efi',
      { hw: '<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>' },
    ],
    ['vmw:ExtraConfig firmware=efi', { hw: '<vmw:ExtraConfig vmw:key="firmware" vmw:value="efi"/>' }],
    [
      'VirtualBox <Hardware><Firmware type="EFI"/>',
      { vs: '<vbox:Machine ovf:required="false"><Hardware><Firmware type="EFI"/></Hardware></vbox:Machine>' },
    ],
    [
      'VirtualBox 7.1 <Platform><Firmware type="EFI64"/>',
      {
        vs: '<vbox:Machine ovf:required="false"><Hardware><Platform><Firmware type="EFI64"/></Platform></Hardware></vbox:Machine>',
      },
    ],
  ])('firmware efi from %s', (_what, parts) => {
    expect(parseOvf(envelope(parts)).profile.firmware).toBe('efi');
  });

  it('firmware bios from vmw:Config firmware=bios and VirtualBox Firmware type="BIOS"', () => {
    expect(
      parseOvf(envelope({ hw: '<vmw:Config vmw:key="firmware" vmw:value="bios"/>' })).profile.firmware,
    ).toBe('bios');
    expect(
      parseOvf(envelope({ vs: '<vbox:Machine><Hardware><Firmware type="BIOS"/></Hardware></vbox:Machine>' }))
        .profile.firmware,
    ).toBe('bios');
  });

  it('follows rasd:Parent to IDE, SCSI (VirtualSCSI), SATA (vmware.sata.ahci) and NVMe controllers', () => {
    const ctl = (id: number, rt: number, sub: string | undefined, addr: number, desc: string) =>
      `<Item><rasd:Address>${addr}</rasd:Address><rasd:Description>${desc}</rasd:Description><rasd:InstanceID>${id}</rasd:InstanceID>${sub ? `<rasd:ResourceSubType>${sub}</rasd:ResourceSubType>` : ''}<rasd:ResourceType>${rt}</rasd:ResourceType></Item>`;
    const disk = (id: number, d: string, parent: number, unit: number) =>
      `<Item><rasd:AddressOnParent>${unit}</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/${d}</rasd:HostResource><rasd:InstanceID>${id}</rasd:InstanceID><rasd:Parent>${parent}</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>`;
    const h = parseOvf(
      envelope({
        disks: ['a', 'b', 'c', 'd', 'e'].map((d) => `<Disk ovf:diskId="${d}" ovf:capacity="1"/>`).join(''),
        hw:
          ctl(10, 5, undefined, 1, 'IDE Controller') +
          ctl(11, 6, 'VirtualSCSI', 2, 'SCSI Controller') +
          ctl(12, 20, 'vmware.sata.ahci', 0, 'SATA Controller') +
          ctl(13, 20, 'vmware.nvme.controller', 0, 'NVME Controller') +
          disk(20, 'a', 10, 1) +
          disk(21, 'b', 11, 3) +
          disk(22, 'c', 12, 0) +
          disk(23, 'd', 13, 2) +
          // e: its Parent names no item
          disk(24, 'e', 99, 0),
      }),
    );
    expect(h.profile.disks.map((d) => d.controller)).toEqual([
      { type: 'ide', busNumber: 1, unit: 1 },
      { type: 'scsi', subtype: 'VirtualSCSI', busNumber: 2, unit: 3 },
      { type: 'sata', subtype: 'vmware.sata.ahci', busNumber: 0, unit: 0 },
      { type: 'nvme', subtype: 'vmware.nvme.controller', busNumber: 0, unit: 2 },
      undefined,
    ]);
    // the historic shape has no controller
    expect(h.disks[0]).toEqual({ diskId: 'a', capacityBytes: 1 });
  });
});

describe('buildOvf(profile)', () => {
  const profile: OvfProfile = {
    name: 'db & web <1>',
    vcpus: 8,
    memoryBytes: 12 * GiB + 512,
    firmware: 'efi',
    osType: { cimId: 80, vmwOsType: 'rhel8_64Guest', description: 'Red Hat Enterprise Linux 8 (64-bit)' },
    disks: [
      {
        diskId: 'vmdisk1',
        fileRef: 'file1',
        href: 'db-disk1.vmdk',
        capacityBytes: 40 * GiB,
        populatedSizeBytes: 3 * GiB,
        format: STREAM_OPTIMIZED_FORMAT_URI,
        controller: { type: 'scsi', subtype: 'VirtualSCSI', busNumber: 0, unit: 0 },
      },
      {
        diskId: 'vmdisk2',
        fileRef: 'file2',
        href: 'db-disk2.vmdk',
        capacityBytes: 1000,
        format: STREAM_OPTIMIZED_FORMAT_URI,
        controller: { type: 'nvme', busNumber: 0, unit: 1 },
      },
      { diskId: 'blank', capacityBytes: 5 * GiB, controller: { type: 'sata', unit: 2 } },
    ],
    nics: [
      { name: 'eth0', network: 'prod', adapterType: 'VmxNet3' },
      { name: 'eth1', network: 'backup', adapterType: 'E1000e' },
      { name: 'eth2' },
    ],
  };

  it('writes well-formed XML that parses back to the same profile, sizes in References', () => {
    // Act
    const xml = buildOvf(profile, { fileSizes: { 'db-disk1.vmdk': 777 } });
    const h = parseOvf(xml);
    // Assess
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(h.profile).toEqual(profile);
    expect(h.files).toEqual([
      { id: 'file1', href: 'db-disk1.vmdk', size: 777 },
      { id: 'file2', href: 'db-disk2.vmdk' },
    ]);
    expect(xml).toContain('<rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>');
    expect(xml).toContain('vmw:key="firmware" vmw:value="efi"');
  });

  it('the historic options form still gives one lsilogic controller and VMXNET3 NICs', () => {
    const h = parseOvf(
      buildOvf({
        vmName: 'old',
        vcpus: 2,
        memoryMiB: 512,
        firmware: 'bios',
        disks: [{ fileName: 'old-disk1.vmdk', fileSize: 10, capacityBytes: MiB }],
      }),
    );
    expect(h.profile).toEqual({
      name: 'old',
      vcpus: 2,
      memoryBytes: 512 * MiB,
      firmware: 'bios',
      osType: { cimId: 102, vmwOsType: 'otherGuest64' },
      disks: [
        {
          diskId: 'vmdisk1',
          fileRef: 'file1',
          href: 'old-disk1.vmdk',
          capacityBytes: MiB,
          format: STREAM_OPTIMIZED_FORMAT_URI,
          controller: { type: 'scsi', subtype: 'lsilogic', busNumber: 0, unit: 0 },
        },
      ],
      nics: [{ name: 'Network adapter 1', network: 'VM Network', adapterType: 'VmxNet3' }],
    });
  });

  it('rejects profiles it cannot describe (BG_IMAGE_INVALID_ARGUMENT)', () => {
    for (const bad of [
      { ...profile, vcpus: 0 },
      { ...profile, memoryBytes: -1 },
      { ...profile, disks: [profile.disks[0]!, profile.disks[0]!] },
      { ...profile, disks: [{ diskId: 'x', href: 'x.vmdk', capacityBytes: 1 }] },
    ]) {
      expect(() => buildOvf(bad)).toThrowError(
        expect.objectContaining({ code: 'BG_IMAGE_INVALID_ARGUMENT' }),
      );
    }
  });

  it('round trip: parseOvf(buildOvf(p)).profile deep-equals p for generated profiles', () => {
    // printable text without leading/trailing blanks (XML trims element text)
    const word = fc
      .string({ unit: fc.constantFrom(...'abcXYZ019 _-.&<>"\'/:é€'.split('')), minLength: 1, maxLength: 12 })
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const controller: fc.Arbitrary<OvfController> = fc.oneof(
      fc.record(
        {
          type: fc.constant('scsi' as const),
          subtype: fc.constantFrom('lsilogic', 'lsilogicsas', 'buslogic', 'VirtualSCSI'),
          busNumber: fc.nat(3),
          unit: fc.nat(15),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record(
        {
          type: fc.constant('ide' as const),
          subtype: fc.constant('PIIX4'),
          busNumber: fc.nat(1),
          unit: fc.nat(1),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record(
        {
          type: fc.constant('sata' as const),
          subtype: fc.constantFrom('AHCI', 'vmware.sata.ahci'),
          busNumber: fc.nat(3),
          unit: fc.nat(29),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record(
        {
          type: fc.constant('nvme' as const),
          subtype: fc.constant('vmware.nvme.controller'),
          busNumber: fc.nat(3),
          unit: fc.nat(14),
        },
        { requiredKeys: ['type'] },
      ),
      fc.record(
        { type: fc.constant('other' as const), busNumber: fc.nat(3), unit: fc.nat(7) },
        { requiredKeys: ['type'] },
      ),
    );
    const profiles: fc.Arbitrary<OvfProfile> = fc
      .record(
        {
          name: word,
          vcpus: fc.integer({ min: 1, max: 256 }),
          memoryBytes: fc.oneof(
            fc.nat({ max: 2 ** 32 }).map((m) => m * MiB),
            fc.maxSafeNat(),
          ),
          firmware: fc.constantFrom('bios' as const, 'efi' as const),
          osType: fc.record({ cimId: fc.nat(120), vmwOsType: word, description: word }, { requiredKeys: [] }),
          disks: fc.array(
            fc.record(
              {
                withFile: fc.boolean(),
                href: word,
                capacityBytes: fc.maxSafeNat(),
                populatedSizeBytes: fc.maxSafeNat(),
                format: fc.constantFrom(STREAM_OPTIMIZED_FORMAT_URI, SPARSE_URI),
                controller: controller,
              },
              { requiredKeys: ['withFile', 'href', 'capacityBytes'] },
            ),
            { maxLength: 4 },
          ),
          nics: fc.array(
            fc.record({ name: word, network: word, adapterType: word }, { requiredKeys: ['name'] }),
            { maxLength: 3 },
          ),
        },
        { requiredKeys: ['name', 'vcpus', 'memoryBytes', 'firmware', 'disks', 'nics'] },
      )
      .map(({ disks, ...rest }) => ({
        ...rest,
        ...(rest.osType !== undefined && Object.keys(rest.osType).length === 0 ? { osType: undefined } : {}),
        disks: disks.map(({ withFile, href, ...d }, i) => ({
          diskId: `disk${i}`,
          ...(withFile ? { fileRef: `file${i}`, href } : {}),
          ...d,
        })),
      }))
      .map((p) => {
        if (p.osType === undefined) delete (p as { osType?: unknown }).osType;
        return p as OvfProfile;
      });
    fc.assert(
      fc.property(profiles, (p) => {
        expect(parseOvf(buildOvf(p)).profile).toEqual(p);
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});
