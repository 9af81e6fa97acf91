/** The deployment's target limits: which regions, instance types, locations and VM sizes pass. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../shared/domain/errors';
import { DEFAULT_TARGET_LIMITS, checkTargetLimits, likePattern } from '../../../shared/domain/target-limits';

const aws = (region: string, instanceType: string) => ({ cloud: 'aws' as const, region, instanceType });
const azure = (location: string, vmSize: string) => ({ cloud: 'azure' as const, location, vmSize });

function refusal(target: Parameters<typeof checkTargetLimits>[0]): ValidationError {
  try {
    checkTargetLimits(target, DEFAULT_TARGET_LIMITS, 'target');
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error(`${JSON.stringify(target)} was let through`);
}

describe('likePattern (IAM StringLike)', () => {
  it.each([
    ['t3.*', 't3.medium', true],
    ['t3.*', 't3a.medium', false],
    ['Standard_D*', 'Standard_D2s_v5', true],
    ['m?.large', 'm5.large', true],
    ['m?.large', 'm5a.large', false],
    ['c5.*', 'c5.', true],
  ])('%s against %s: %s', (pattern, value, expected) => {
    // Act / Assess
    expect(likePattern(pattern, value)).toBe(expected);
  });
});

describe('checkTargetLimits with the defaults', () => {
  it('lets general-purpose targets in commercial regions through', () => {
    // Act / Assess
    expect(() =>
      checkTargetLimits(aws('us-east-1', 't3.medium'), DEFAULT_TARGET_LIMITS, 'target'),
    ).not.toThrow();
    expect(() =>
      checkTargetLimits(aws('eu-central-2', 'm7i.2xlarge'), DEFAULT_TARGET_LIMITS, 'target'),
    ).not.toThrow();
    expect(() =>
      checkTargetLimits(azure('westeurope', 'Standard_D2s_v5'), DEFAULT_TARGET_LIMITS, 'target'),
    ).not.toThrow();
  });

  it.each([
    [aws('us-east-1', 'p5.48xlarge'), 'target.instanceType', 'p5.48xlarge is not among the instance types'],
    [aws('us-gov-west-1', 't3.medium'), 'target.region', 'us-gov-west-1 is not among the AWS regions'],
    [aws('cn-north-1', 't3.medium'), 'target.region', 'cn-north-1'],
    [
      azure('westeurope', 'Standard_ND96asr_v4'),
      'target.vmSize',
      'Standard_ND96asr_v4 is not among the VM sizes',
    ],
    [
      azure('chinaeast2', 'Standard_D2s_v5'),
      'target.location',
      'chinaeast2 is not among the Azure locations',
    ],
  ] as const)('refuses %j naming the member', (target, path, text) => {
    // Act
    const err = refusal(target);
    // Assess
    expect(err.errors).toEqual([{ path, message: expect.stringContaining('not an allowed') }]);
    expect(err.message).toContain(text);
    expect(err.message).toContain('ask its operator to add it');
  });

  it("takes a deployment's own lists", () => {
    // Prepare
    const limits = { ...DEFAULT_TARGET_LIMITS, awsRegions: ['eu-west-1'], instanceTypes: ['g5.*'] };
    // Act / Assess
    expect(() => checkTargetLimits(aws('eu-west-1', 'g5.xlarge'), limits, 'vms.0.target')).not.toThrow();
    expect(() => checkTargetLimits(aws('us-east-1', 'g5.xlarge'), limits, 'vms.0.target')).toThrow(
      'vms.0.target.region: us-east-1 is not among the AWS regions this gateway allows (eu-west-1)',
    );
  });
});
