import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { formatManifest, parseManifest } from '../../../shared/images/manifest';
import { buildOvf } from '../../../shared/images/ovf-build';
import { parseAllocationUnits, parseOvf } from '../../../shared/images/ovf-parse';

describe('manifest', () => {
  it('parses both the "SHA256(name)= hex" and the "SHA1 (name) = hex" forms', () => {
    const text = [
      'SHA256(vm.ovf)= 4AACC96F73BC1E0912414B80A576F62FA8D22386A2C34C489E88EE42EC71DE9B',
      'SHA1 (vm-disk1.vmdk) = 648e20a1e1625b1bb963b08c926bc18e62f15dfc',
      '',
      'SHA512(x y.iso)=' + 'ab'.repeat(64),
    ].join('\r\n');
    expect(parseManifest(text)).toEqual([
      {
        algorithm: 'SHA256',
        file: 'vm.ovf',
        digest: '4aacc96f73bc1e0912414b80a576f62fa8d22386a2c34c489e88ee42ec71de9b',
      },
      { algorithm: 'SHA1', file: 'vm-disk1.vmdk', digest: '648e20a1e1625b1bb963b08c926bc18e62f15dfc' },
      { algorithm: 'SHA512', file: 'x y.iso', digest: 'ab'.repeat(64) },
    ]);
  });

  it('formats entries that parse back to themselves', () => {
    const entries = [{ algorithm: 'SHA256' as const, file: 'a.ovf', digest: 'cd'.repeat(32) }];
    expect(formatManifest(entries)).toBe(`SHA256(a.ovf)= ${'cd'.repeat(32)}\n`);
    expect(parseManifest(formatManifest(entries))).toEqual(entries);
  });

  it('rejects malformed lines and wrong digest lengths, naming the line', () => {
    expect(() => parseManifest('SHA256(a)= 12\n')).toThrow(/line 1/);
    expect(() => parseManifest('ok\n')).toThrowError(
      expect.objectContaining({ code: 'BG_OVA_MANIFEST_INVALID' }),
    );
    expect(() => parseManifest(`MD5(a)= ${'0'.repeat(32)}`)).toThrowError(
      expect.objectContaining({ code: 'BG_OVA_MANIFEST_INVALID' }),
    );
  });
});

describe('parseAllocationUnits', () => {
  it.each([
    ['byte * 2^20', 2 ** 20],
    ['byte*2^30', 2 ** 30],
    ['MegaBytes', 2 ** 20],
    ['GigaBytes', 2 ** 30],
    ['byte', 1],
    ['byte * 1024', 1024],
    ['byte * 10^6', 1e6],
    [undefined, 7],
  ])('%s', (u, m) => {
    expect(parseAllocationUnits(u, 7)).toBe(m);
  });
  it('returns undefined for units it does not know', () => {
    expect(parseAllocationUnits('hertz * 10^6', 1)).toBeUndefined();
  });
});

const vboxEfi = `<?xml version="1.0"?>
<Envelope ovf:version="1.0" xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:vbox="http://www.virtualbox.org/ovf/machine">
  <References><File ovf:id="file1" ovf:href="efi-disk001.vmdk"/></References>
  <DiskSection><Info>x</Info><Disk ovf:capacity="2" ovf:capacityAllocationUnits="GigaBytes" ovf:diskId="vmdisk1" ovf:fileRef="file1"/></DiskSection>
  <VirtualSystem ovf:id="efi-vm">
    <Info>x</Info>
    <UnknownSection><Whatever a="b"/></UnknownSection>
    <VirtualHardwareSection>
      <Info>x</Info>
      <Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>GigaBytes</rasd:AllocationUnits><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>3</rasd:VirtualQuantity></Item>
      <Item><rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
    <vbox:Machine ovf:required="false" name="efi-vm"><Hardware><Firmware type="EFI"/></Hardware></vbox:Machine>
  </VirtualSystem>
</Envelope>`;

describe('parseOvf', () => {
  it('reads units in GigaBytes, VirtualBox EFI markers, unprefixed elements and unknown sections', () => {
    const h = parseOvf(vboxEfi);
    expect(h).toMatchObject({
      vmName: 'efi-vm',
      vcpus: 2,
      memoryMiB: 3072,
      firmware: 'efi',
      disks: [{ diskId: 'vmdisk1', fileRef: 'file1', href: 'efi-disk001.vmdk', capacityBytes: 2 * 2 ** 30 }],
      nics: [{ name: 'nic0' }],
    });
  });

  it('rejects broken XML, DOCTYPE declarations and files without Envelope/VirtualSystem as BG_OVF_INVALID', () => {
    const bad = [
      '<Envelope><VirtualSystem></Envelope>',
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Envelope/>',
      '<Other/>',
      '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"><References/></Envelope>',
    ];
    for (const xml of bad)
      expect(() => parseOvf(xml), xml).toThrowError(expect.objectContaining({ code: 'BG_OVF_INVALID' }));
  });

  it('selects a named deployment option and rejects an unknown one', () => {
    const xml = `<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="r">
      <DeploymentOptionSection><Configuration ovf:id="small"/><Configuration ovf:id="big" ovf:default="true"/></DeploymentOptionSection>
      <VirtualSystem ovf:id="d"><VirtualHardwareSection>
        <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
        <Item ovf:configuration="big"><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>8</rasd:VirtualQuantity></Item>
      </VirtualHardwareSection></VirtualSystem></Envelope>`;
    expect(parseOvf(xml).vcpus).toBe(8);
    expect(parseOvf(xml, { configuration: 'small' }).vcpus).toBe(1);
    expect(() => parseOvf(xml, { configuration: 'huge' })).toThrowError(
      expect.objectContaining({ code: 'BG_OVF_INVALID' }),
    );
  });
});

describe('buildOvf', () => {
  it('builds a well-formed OVF 1.x envelope that parses back to the same hardware', () => {
    // Act
    const xml = buildOvf({
      vmName: 'web & db <1>',
      vcpus: 4,
      memoryMiB: 8192,
      firmware: 'efi',
      disks: [
        { fileName: 'disk1.vmdk', fileSize: 1000, capacityBytes: 10 * 2 ** 30 },
        { fileName: 'disk2.vmdk', fileSize: 2000, capacityBytes: 2 ** 30 },
      ],
      nics: 2,
    });
    const h = parseOvf(xml);
    // Assess
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain('http://schemas.dmtf.org/ovf/envelope/1');
    expect(xml).toContain('vmdk.html#streamOptimized');
    expect(h).toMatchObject({
      vmName: 'web & db <1>',
      vcpus: 4,
      memoryMiB: 8192,
      firmware: 'efi',
      disks: [
        { diskId: 'vmdisk1', href: 'disk1.vmdk', capacityBytes: 10 * 2 ** 30 },
        { diskId: 'vmdisk2', href: 'disk2.vmdk', capacityBytes: 2 ** 30 },
      ],
      nics: [
        { name: 'Network adapter 1', network: 'VM Network', adapterType: 'VmxNet3' },
        { name: 'Network adapter 2', network: 'VM Network', adapterType: 'VmxNet3' },
      ],
    });
    expect(h.files).toEqual([
      { id: 'file1', href: 'disk1.vmdk', size: 1000 },
      { id: 'file2', href: 'disk2.vmdk', size: 2000 },
    ]);
  });
});
