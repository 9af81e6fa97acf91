import { describe, expect, it } from 'vitest';
import { azureOsType, hyperVGeneration } from '../../../shared/domain/workflow/azure';
import type { Job, VmHardware } from '../../../shared/domain/job';

/** Only the hardware matters to these mappings; the rest of the job is irrelevant to them. */
function jobWith(hardware: Partial<VmHardware> | undefined): Job {
  return {
    hardware: hardware && { vcpus: 2, memoryMiB: 2048, firmware: 'bios', disks: [], nics: [], ...hardware },
  } as unknown as Job;
}

describe('the Azure VM profile from the OVF', () => {
  it('asks for a Generation 2 VM for EFI firmware and Generation 1 for BIOS or no profile', () => {
    // Prepare
    const efi = jobWith({ firmware: 'efi' });
    const bios = jobWith({ firmware: 'bios' });
    const unknown = jobWith(undefined);
    // Act + Assess
    expect(hyperVGeneration(efi)).toBe('V2');
    expect(hyperVGeneration(bios)).toBe('V1');
    expect(hyperVGeneration(unknown)).toBe('V1');
  });

  it('takes the OS type from the guest OS the OVF names', () => {
    // Prepare
    const cases: Array<[string | undefined, 'Linux' | 'Windows']> = [
      ['windows2019srv_64Guest', 'Windows'],
      ['Microsoft Windows Server 2022 (64-bit)', 'Windows'],
      ['win10-64', 'Windows'],
      ['ubuntu64Guest', 'Linux'],
      ['Debian GNU/Linux 12 (64-bit)', 'Linux'],
      [undefined, 'Linux'],
    ];
    // Act + Assess
    for (const [osType, expected] of cases) {
      expect(azureOsType(jobWith(osType === undefined ? {} : { osType })), String(osType)).toBe(expected);
    }
  });
});
