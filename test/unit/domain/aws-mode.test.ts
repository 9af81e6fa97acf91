import { describe, expect, it } from 'vitest';
import { ebsChunkBytes } from '../../../shared/domain/workflow/aws-direct';
import { MAX_UPLOAD_RANGES } from '../../../shared/domain/workflow/step-kit';
import { resolveAwsMode } from '../../../shared/domain/aws-mode';
import { CreateOffloadRequest, parseOrThrow } from '../../../shared/domain/requests';
import { EBS_BLOCK_BYTES } from '../../../shared/clouds/aws/ebs-blocks';
import { planRanges } from '../../../shared/images/upload-plan';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('resolveAwsMode: how a disk reaches AWS when the request does not say', () => {
  it.each([
    'ubuntu64Guest',
    'debian10_64Guest',
    'debian12_64Guest',
    'rhel8_64Guest',
    'rhel9_64Guest',
    'centos8_64Guest',
    'oracleLinux9_64Guest',
    'rockylinux_64Guest',
    'almalinux_64Guest',
    'amazonlinux2_64Guest',
    'amazonlinux3_64Guest',
    'sles15_64Guest',
    'other5xLinux64Guest',
    'other6xLinux64Guest',
  ])('goes direct for %s (its stock kernel has NVMe and ENA drivers)', (osType) => {
    // Act
    const resolved = resolveAwsMode(undefined, { osType });

    // Assess
    expect(resolved.mode).toBe('direct');
    expect(resolved.reason).toContain(osType);
  });

  it.each([
    ['windows2019srv_64Guest', /Windows/],
    ['windows9_64Guest', /Windows/],
    ['otherLinux64Guest', /not one known/],
    ['other4xLinux64Guest', /not one known/],
    ['rhel7_64Guest', /not one known/],
    ['debian9_64Guest', /not one known/],
    ['ubuntuGuest', /not one known/],
    ['Ubuntu Linux (64-bit)', /not one known/],
  ])('imports %s (VM Import checks it and injects drivers)', (osType, why) => {
    // Act
    const resolved = resolveAwsMode(undefined, { osType });

    // Assess
    expect(resolved.mode).toBe('import');
    expect(resolved.reason).toMatch(why);
  });

  it('imports an image without an OVF, or an OVF that names no guest', () => {
    // Act / Assess
    expect(resolveAwsMode(undefined, undefined)).toMatchObject({ mode: 'import', reason: /no OVF/ });
    expect(resolveAwsMode(undefined, {})).toMatchObject({ mode: 'import', reason: /names no guest/ });
  });

  it("follows the caller's mode whatever the guest", () => {
    // Act / Assess
    expect(resolveAwsMode('direct', { osType: 'windows2019srv_64Guest' })).toEqual({
      mode: 'direct',
      reason: 'target.mode "direct" was requested',
    });
    expect(resolveAwsMode('import', { osType: 'ubuntu64Guest' }).mode).toBe('import');
  });

  it('the sample VM (otherLinux64Guest) is imported unless the request says direct', () => {
    // The OVF of test/fixtures/sample-vm names vmw:osType="otherLinux64Guest": no kernel version.
    expect(resolveAwsMode(undefined, { osType: 'otherLinux64Guest' }).mode).toBe('import');
  });
});

describe('target.mode in the request', () => {
  const base = { vmName: 'vm', imageFormat: 'ova', imageSizeBytes: 1024 };

  it('accepts direct, import or nothing', () => {
    // Act
    const parsed = ['direct', 'import', undefined].map(
      (mode) =>
        parseOrThrow(
          CreateOffloadRequest,
          { ...base, target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.micro', mode } },
          'the offload',
        ).target,
    );

    // Assess
    expect(parsed.map((t) => (t.cloud === 'aws' ? t.mode : 'azure'))).toEqual([
      'direct',
      'import',
      undefined,
    ]);
  });

  it('refuses another mode, naming the field', () => {
    // Act
    const err = (() => {
      try {
        parseOrThrow(
          CreateOffloadRequest,
          { ...base, target: { cloud: 'aws', region: 'us-east-1', instanceType: 't3.micro', mode: 'fast' } },
          'the offload',
        );
      } catch (e) {
        return e as { errors: Array<{ path: string }> };
      }
      return undefined;
    })();

    // Assess
    expect(err?.errors.map((e) => e.path)).toEqual(['target.mode']);
  });
});

describe('ebsChunkBytes: the disk bytes of one PutBlocks Lambda', () => {
  it('keeps the configured chunk while the plan stays within the range limit', () => {
    // Act
    const chunk = ebsChunkBytes(16 * MiB, 64 * MiB);
    const ranges = planRanges(64 * MiB, chunk, EBS_BLOCK_BYTES);

    // Assess
    expect(chunk).toBe(16 * MiB);
    expect(ranges.map((r) => [r.offset, r.length])).toEqual([
      [0, 16 * MiB],
      [16 * MiB, 16 * MiB],
      [32 * MiB, 16 * MiB],
      [48 * MiB, 16 * MiB],
    ]);
  });

  it('grows, in whole blocks, when a large disk would need more ranges than the Map may carry', () => {
    // Act
    const capacity = 16 * 1024 * GiB + 3 * EBS_BLOCK_BYTES;
    const chunk = ebsChunkBytes(16 * MiB, capacity);
    const ranges = planRanges(capacity, chunk, EBS_BLOCK_BYTES);

    // Assess
    expect(chunk % EBS_BLOCK_BYTES).toBe(0);
    expect(ranges.length).toBeLessThanOrEqual(MAX_UPLOAD_RANGES);
    expect(ranges.reduce((n, r) => n + r.length, 0)).toBe(capacity);
  });

  it('plans a disk that is not a whole number of blocks with the partial block in the last range', () => {
    // Act
    const capacity = 3 * EBS_BLOCK_BYTES + 4096;
    const ranges = planRanges(capacity, ebsChunkBytes(2 * EBS_BLOCK_BYTES, capacity), EBS_BLOCK_BYTES);

    // Assess
    expect(ranges).toEqual([
      { index: 0, offset: 0, length: 2 * EBS_BLOCK_BYTES },
      { index: 1, offset: 2 * EBS_BLOCK_BYTES, length: EBS_BLOCK_BYTES + 4096 },
    ]);
  });
});
