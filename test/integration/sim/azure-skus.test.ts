/**
 * Resource SKUs on the ARM simulator through the real @azure/arm-compute client: the VM sizes of a
 * location read into right-sizing facts (the client follows nextLink), the one filter Azure
 * documents, and right-sizing over what it lists.
 */
import { describe, expect, it } from 'vitest';
import { listVmSizeFacts } from '../../../shared/clouds/azure/size-facts';
import { likePattern } from '../../../shared/domain/target-limits';
import { rightSize } from '../../../shared/pricing/right-size';
import { VM_SIZE_FACTS } from '../../../infra/local/sim/azure/skus';
import { FAST_TIMING, useAzureSim } from '../../helpers/azure-sim';

const env = useAzureSim({ timing: FAST_TIMING });
const GiB = 1024 ** 3;
const like =
  (...patterns: string[]) =>
  (name: string) =>
    patterns.some((p) => likePattern(p, name));

describe('ARM simulator: Resource SKUs', () => {
  it("lists a location's VM sizes across pages, read into right-sizing facts", async () => {
    // Act
    const all = await listVmSizeFacts(env.compute, 'eastus');
    const dsv5 = await listVmSizeFacts(env.compute, 'eastus', like('Standard_D?s_v5'));

    // Assess
    expect(all.map((f) => f.name).sort()).toEqual(Object.keys(VM_SIZE_FACTS).sort());
    expect(dsv5).toEqual([
      {
        cloud: 'azure',
        name: 'Standard_D2s_v5',
        family: 'DSv5',
        vCPUs: 2,
        memoryMiB: 8192,
        architectures: ['x86_64'],
        firmware: ['bios', 'efi'],
      },
      expect.objectContaining({ name: 'Standard_D4s_v5', vCPUs: 4, memoryMiB: 16384 }),
      expect.objectContaining({ name: 'Standard_D8s_v5', vCPUs: 8, memoryMiB: 32768 }),
    ]);
    expect(all.find((f) => f.name === 'Standard_D2ps_v5')).toMatchObject({
      architectures: ['arm64'],
      firmware: ['efi'],
    });
  });

  it('lists nothing for a location it does not offer, and refuses a filter Azure does not take', async () => {
    // Act
    const none = await listVmSizeFacts(env.compute, 'antarcticanorth');
    const items: unknown[] = [];
    const refused = await (async () => {
      for await (const s of env.compute.resourceSkus.list({ filter: "name eq 'Standard_B2s'" }))
        items.push(s);
    })().catch((e: unknown) => e);

    // Assess
    expect(none).toEqual([]);
    expect(items).toEqual([]);
    expect(refused).toMatchObject({ code: 'InvalidFilter', statusCode: 400 });
  });

  it('right-sizes a UEFI VM onto a generation 2 size, passing over a generation 1 one', async () => {
    // Prepare
    const catalog = await listVmSizeFacts(env.compute, 'westeurope', like('Standard_A*', 'Standard_D*'));
    const vm = { vCPUs: 2, memoryBytes: 4 * GiB, architecture: 'x86_64', firmware: 'efi' } as const;

    // Act
    const bios = rightSize({ ...vm, firmware: 'bios' }, catalog);
    const efi = rightSize(vm, catalog, { hourlyPrice: (n) => (n === 'Standard_A2_v2' ? 0.076 : 0.1) });

    // Assess
    expect(bios.chosen.name).toBe('Standard_A2_v2');
    expect(efi.chosen.name).toBe('Standard_D2s_v3');
    expect(efi.rejected[0]).toEqual({
      name: 'Standard_A2_v2',
      hourlyPrice: 0.076,
      reasons: ['no Hyper-V generation 2 (efi boot)'],
    });
  });
});
