import { describe, expect, it } from 'vitest';
import { rightSize, type InstanceFacts, type HardwareProfile } from '../../../shared/pricing/right-size';

const GiB = 1024 ** 3;
const aws = (
  name: string,
  vCPUs: number,
  memoryGiB: number,
  more: Partial<InstanceFacts> = {},
): InstanceFacts => ({
  cloud: 'aws',
  name,
  family: name.split('.')[0]!,
  vCPUs,
  memoryMiB: memoryGiB * 1024,
  architectures: ['x86_64'],
  firmware: ['bios', 'efi'],
  nitro: true,
  ...more,
});
// A region's catalog (facts as DescribeInstanceTypes gives them) and hourly test prices.
const CATALOG = [
  aws('t3.medium', 2, 4),
  aws('c7i.large', 2, 4),
  aws('a1.large', 2, 4, { architectures: ['arm64'], firmware: ['efi'] }),
  aws('m4.large', 2, 8, { nitro: false, firmware: ['bios'] }),
  aws('m7i.large', 2, 8),
  aws('r7i.large', 2, 16),
  aws('m7i.xlarge', 4, 16),
];
const PRICES: Record<string, number> = {
  't3.medium': 0.0416,
  'a1.large': 0.051,
  'c7i.large': 0.08925,
  'm4.large': 0.1,
  'm7i.large': 0.1008,
  'r7i.large': 0.1323,
  'm7i.xlarge': 0.2016,
};
const hourlyPrice = (n: string) => PRICES[n];
const VM: HardwareProfile = { vCPUs: 2, memoryBytes: 6 * GiB, architecture: 'x86_64', firmware: 'bios' };

describe('rightSize', () => {
  it('picks the cheapest type that fits and says why each cheaper one does not', () => {
    // Act
    const choice = rightSize(VM, CATALOG, { hourlyPrice });

    // Assess
    expect(choice.chosen).toMatchObject({ name: 'm4.large', hourlyPrice: 0.1 });
    expect(choice.needs).toEqual({ vCPUs: 2, memoryMiB: 6144, architecture: 'x86_64', firmware: 'bios' });
    expect(choice.rejected).toEqual([
      { name: 't3.medium', hourlyPrice: 0.0416, reasons: ['4096 MiB < 6144 MiB'] },
      {
        name: 'a1.large',
        hourlyPrice: 0.051,
        reasons: ['4096 MiB < 6144 MiB', 'no x86_64', 'no legacy-bios boot mode'],
      },
      { name: 'c7i.large', hourlyPrice: 0.08925, reasons: ['4096 MiB < 6144 MiB'] },
    ]);
    expect(choice.reason).toBe(
      'm4.large is the cheapest (0.1/h) with at least 2 vCPUs and 6144 MiB, x86_64, bios boot',
    );
  });

  it('requires NVMe and ENA for AWS direct mode', () => {
    // Act
    const choice = rightSize(VM, CATALOG, { hourlyPrice, direct: true });

    // Assess
    expect(choice.chosen.name).toBe('m7i.large');
    expect(choice.rejected.at(-1)).toEqual({
      name: 'm4.large',
      hourlyPrice: 0.1,
      reasons: ['no NVMe/ENA (direct mode)'],
    });
  });

  it('applies the headroom to vCPUs and memory, rounding up, and keeps to a pinned family', () => {
    // Act
    const roomy = rightSize({ ...VM, memoryBytes: 4 * GiB }, CATALOG, { hourlyPrice, headroom: 1.5 });
    const pinned = rightSize({ ...VM, memoryBytes: 1 * GiB }, CATALOG, { hourlyPrice, family: 'm7i' });

    // Assess
    expect(roomy.needs).toMatchObject({ vCPUs: 3, memoryMiB: 6144 });
    expect(roomy.chosen.name).toBe('m7i.xlarge');
    expect(roomy.reason).toContain('(headroom ×1.5)');
    expect(pinned.chosen.name).toBe('m7i.large');
    expect(pinned.rejected.map((r) => r.reasons)).toEqual([
      ['not family m7i'],
      ['not family m7i', 'no x86_64', 'no legacy-bios boot mode'],
      ['not family m7i'],
      ['not family m7i'],
    ]);
  });

  it('matches Azure sizes by Hyper-V generation: generation 2 for a UEFI VM', () => {
    // Prepare
    const sizes: InstanceFacts[] = [
      { ...aws('Standard_B2ms', 2, 8), cloud: 'azure', family: 'BS', firmware: ['bios'] },
      { ...aws('Standard_D2s_v5', 2, 8), cloud: 'azure', family: 'DSv5', firmware: ['bios', 'efi'] },
    ];
    const prices: Record<string, number> = { Standard_B2ms: 0.0832, Standard_D2s_v5: 0.096 };

    // Act
    const choice = rightSize({ ...VM, firmware: 'efi' }, sizes, { hourlyPrice: (n) => prices[n] });

    // Assess
    expect(choice.chosen.name).toBe('Standard_D2s_v5');
    expect(choice.rejected).toEqual([
      { name: 'Standard_B2ms', hourlyPrice: 0.0832, reasons: ['no Hyper-V generation 2 (efi boot)'] },
    ]);
  });

  it('takes the smallest without prices, and puts an unpriced type after every priced one', () => {
    // Act
    const unpriced = rightSize({ ...VM, memoryBytes: 2 * GiB }, CATALOG);
    const partly = rightSize({ ...VM, memoryBytes: 2 * GiB }, CATALOG, {
      hourlyPrice: (n) => (n === 'm7i.large' ? 0.1008 : undefined),
    });

    // Assess
    expect(unpriced.chosen.name).toBe('c7i.large'); // 2 vCPUs, 4 GiB, first by name of the two
    expect(unpriced.reason).toContain('is the smallest');
    expect(partly.chosen.name).toBe('m7i.large');
  });

  it('names the largest type when nothing fits, and refuses a profile it cannot match', () => {
    // Act
    const big = (() => {
      try {
        return rightSize({ ...VM, vCPUs: 8, memoryBytes: 64 * GiB }, CATALOG, { hourlyPrice });
      } catch (e) {
        return e;
      }
    })();

    // Assess
    expect(big).toMatchObject({
      name: 'RightSizeError',
      code: 'RIGHTSIZE_NOTHING_FITS',
      largest: 'm7i.xlarge',
      message: expect.stringContaining(
        'no instance type of the 7 offered fits 8 vCPUs, 65536 MiB, x86_64, bios; the largest is m7i.xlarge (4 vCPUs, 16384 MiB)',
      ),
    });
    for (const [vm, opts] of [
      [{ ...VM, vCPUs: 0 }, {}],
      [{ ...VM, memoryBytes: 1.5 }, {}],
      [VM, { headroom: 0.5 }],
      [VM, { headroom: Number.NaN }],
    ] as const) {
      expect(() => rightSize(vm, CATALOG, opts)).toThrow(
        expect.objectContaining({ code: 'RIGHTSIZE_BAD_PROFILE' }),
      );
    }
  });
});
