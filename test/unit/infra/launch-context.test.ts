/**
 * The launch allow-lists from CDK context: RunInstances' IAM conditions and the functions' request
 * check take the same lists, so a region or instance type the context adds is allowed end to end,
 * and one the context leaves out is refused before anything is uploaded.
 */
import { describe, expect, it } from 'vitest';
import { LAUNCH_CONTEXT } from '../../../infra/gateway-stack';
import { configFromEnv } from '../../../shared/runtime/deps';
import { ENV } from '../../../shared/runtime/env-names';
import { checkTargetLimits, DEFAULT_TARGET_LIMITS } from '../../../shared/domain/target-limits';
import { functionEnv, statementsOfRole, synthesized, synthesizedWith } from '../../helpers/synth';

const launchCondition = (template: ReturnType<typeof synthesizedWith>) =>
  statementsOfRole(template, 'FnStepsLaunchInstanceRole').find(
    (s) => s.Action === 'ec2:RunInstances' && s.Resource,
  )?.Condition as { StringEquals: Record<string, unknown>; StringLike: Record<string, unknown> };

describe('launch allow-lists from CDK context', () => {
  it('replace the RunInstances conditions and reach the functions, whose check then allows them', () => {
    // Act: a GPU family and a GovCloud-free region list, as `cdk deploy -c key=a,b` passes them
    const template = synthesizedWith({
      [LAUNCH_CONTEXT.awsRegions]: 'eu-central-1,eu-west-1',
      [LAUNCH_CONTEXT.instanceTypes]: ['m7i.*', 'p5.48xlarge'],
    });

    // Assess
    const condition = launchCondition(template);
    expect(condition.StringEquals['aws:RequestedRegion']).toEqual(['eu-central-1', 'eu-west-1']);
    expect(condition.StringLike['ec2:InstanceType']).toEqual(['m7i.*', 'p5.48xlarge']);
    const env = functionEnv(template, 'FnApiCreateOffload');
    expect(env[ENV.stackAwsRegions]).toBe('eu-central-1,eu-west-1');
    expect(env[ENV.stackInstanceTypes]).toBe('m7i.*,p5.48xlarge');
    const limits = configFromEnv({ ...env, [ENV.jobsTable]: 'jobs' }).targetLimits!;
    const gpu = { cloud: 'aws', region: 'eu-west-1', instanceType: 'p5.48xlarge' } as const;
    expect(() => checkTargetLimits(gpu, limits, 'target')).not.toThrow();
    expect(() => checkTargetLimits({ ...gpu, region: 'us-east-1' }, limits, 'target')).toThrow(
      /target\.region: us-east-1 is not among the AWS regions this gateway allows \(eu-central-1, eu-west-1\)/,
    );
    // the operator's environment may narrow the stack's list, never widen it
    expect(() => configFromEnv({ ...env, [ENV.instanceTypes]: 'p5.48xlarge,c7i.large' })).toThrow(
      /BURSTGATE_INSTANCE_TYPES may only narrow the stack's allow-list \(m7i\.\*, p5\.48xlarge\); not in it: c7i\.large/,
    );
  });

  it('keep the defaults without context, and set no stack list on the functions', () => {
    // Act
    const { template } = synthesized();

    // Assess
    const condition = launchCondition(template);
    expect(condition.StringEquals['aws:RequestedRegion']).toEqual([...DEFAULT_TARGET_LIMITS.awsRegions]);
    expect(condition.StringLike['ec2:InstanceType']).toEqual([...DEFAULT_TARGET_LIMITS.instanceTypes]);
    expect(functionEnv(template, 'FnApiCreateOffload')[ENV.stackInstanceTypes]).toBeUndefined();
  });

  it.each([
    [LAUNCH_CONTEXT.instanceTypes, '*', /instance types or patterns that name the family.*not one: \*/],
    [LAUNCH_CONTEXT.instanceTypes, 'm7i.*,*.large', /not one: \*\.large/],
    [LAUNCH_CONTEXT.awsRegions, 'eu-*', /AWS region names.*not one: eu-\*/],
    [LAUNCH_CONTEXT.awsRegions, ' , ', /not one: \(empty\)/],
  ])('refuse %s=%j, naming the key', (key, value, message) => {
    // Act
    const err = (() => {
      try {
        synthesizedWith({ [key]: value });
      } catch (e) {
        return e as Error;
      }
    })();
    // Assess
    expect(err?.message).toMatch(message);
    expect(err?.message).toContain(`context ${key} must be`);
  });
});
