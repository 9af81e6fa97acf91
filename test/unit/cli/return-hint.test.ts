/** What `burstgate offload` tells the user to run to bring the VM home, by how it will come back. */
import { describe, expect, it } from 'vitest';
import { returnHint } from '../../../bin/commands/offload';

const ID = 'job-01jc0000000000000000000000';

describe('returnHint', () => {
  it('an AWS import comes back whole: an OVA, no base', () => {
    expect(
      returnHint(
        ID,
        { cloud: 'aws', region: 'eu-west-1', instanceType: 't3.medium', mode: 'import' },
        'vm.ova',
        'vm',
      ),
    ).toBe(`burstgate return ${ID} --out vm.ova`);
  });

  it('an AWS direct job comes back as a delta onto the offloaded image', () => {
    expect(
      returnHint(
        ID,
        { cloud: 'aws', region: 'eu-west-1', instanceType: 't3.medium', mode: 'direct' },
        'vm.ova',
        'vm',
      ),
    ).toBe(`burstgate return ${ID} --base vm.ova --out vm-returned.ova`);
  });

  it('an Azure job comes back as a delta; a bare disk is rebuilt as a VMDK', () => {
    expect(
      returnHint(ID, { cloud: 'azure', location: 'westeurope', vmSize: 'Standard_D2s_v3' }, 'disk.VHD', 'vm'),
    ).toBe(`burstgate return ${ID} --base disk.VHD --out vm-returned.vmdk`);
  });
});
