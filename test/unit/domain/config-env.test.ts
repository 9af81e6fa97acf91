/** configFromEnv's operator settings: callback allowances, target limits and quotas, and their refusals. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUOTA } from '../../../shared/domain/quota-config';
import { DEFAULT_TARGET_LIMITS } from '../../../shared/domain/target-limits';
import { ENV, configFromEnv, createDeps } from '../../../shared/runtime/deps';

const BASE: NodeJS.ProcessEnv = {
  [ENV.jobsTable]: 'jobs',
  [ENV.stagingBucket]: 'staging',
  [ENV.offloadStateMachineArn]: 'arn:aws:states:us-east-1:000000000000:stateMachine:offload',
  [ENV.returnStateMachineArn]: 'arn:aws:states:us-east-1:000000000000:stateMachine:return',
  [ENV.webhookStateMachineArn]: 'arn:aws:states:us-east-1:000000000000:stateMachine:webhook',
  [ENV.cancelStateMachineArn]: 'arn:aws:states:us-east-1:000000000000:stateMachine:cancel',
  [ENV.eventBusName]: 'burstgate',
  [ENV.scheduleGroupName]: 'burstgate',
  [ENV.schedulerRoleArn]: 'arn:aws:iam::000000000000:role/scheduler',
  [ENV.timerStateMachineArn]: 'arn:aws:states:us-east-1:000000000000:stateMachine:timer',
};

describe('configFromEnv', () => {
  it('has the default limits and no callback allowance unless the operator sets them', () => {
    // Act
    const config = configFromEnv(BASE);
    // Assess
    expect(config.targetLimits).toEqual(DEFAULT_TARGET_LIMITS);
    expect(config.callbacks).toBeUndefined();
  });

  it('reads callback CIDRs and hosts, and narrower target lists', () => {
    // Act
    const config = configFromEnv({
      ...BASE,
      [ENV.callbackAllow]: '198.51.100.0/24, hooks.corp.example ,fd12::/48',
      [ENV.awsRegions]: 'eu-west-1,eu-central-1',
      [ENV.instanceTypes]: 'm6i.*,t3.large',
      [ENV.azureVmSizes]: 'Standard_NC*',
    });
    // Assess
    expect(config.callbacks).toEqual({
      allowCidrs: ['198.51.100.0/24', 'fd12::/48'],
      allowHosts: ['hooks.corp.example'],
      httpToLoopback: false,
    });
    expect(config.targetLimits).toMatchObject({
      awsRegions: ['eu-west-1', 'eu-central-1'],
      instanceTypes: ['m6i.*', 't3.large'],
      azureVmSizes: ['Standard_NC*'],
      azureLocations: DEFAULT_TARGET_LIMITS.azureLocations,
    });
  });

  it('refuses a wrong CIDR, and AWS lists wider than the IAM conditions', () => {
    // Act / Assess
    expect(() => configFromEnv({ ...BASE, [ENV.callbackAllow]: '198.51.100.0/40' })).toThrow(
      'BURSTGATE_CALLBACK_ALLOW: "198.51.100.0/40" is not a CIDR',
    );
    expect(() => configFromEnv({ ...BASE, [ENV.instanceTypes]: 't3.*,p5.48xlarge' })).toThrow(
      /BURSTGATE_INSTANCE_TYPES may only narrow .*not in it: p5\.48xlarge/,
    );
    expect(() => configFromEnv({ ...BASE, [ENV.awsRegions]: 'us-gov-west-1' })).toThrow(
      'not in it: us-gov-west-1',
    );
  });

  it("has the default quotas, and reads the operator's defaults and per-tenant quotas", () => {
    // Act
    const plain = configFromEnv(BASE);
    const set = configFromEnv({
      ...BASE,
      [ENV.quotaConcurrentJobs]: '5',
      [ENV.quotaDeclaredGib]: '100',
      [ENV.quotaLaunchesPerHour]: '12',
      [ENV.tenantQuotas]: '{"team-a": {"concurrentJobs": 50}, "team-b": {"launchesPerHour": 1}}',
    });
    // Assess
    expect(plain.quotas).toEqual({ defaults: DEFAULT_QUOTA });
    expect(set.quotas).toEqual({
      defaults: { concurrentJobs: 5, declaredBytes: 100 * 1024 ** 3, launchesPerHour: 12 },
      tenants: { 'team-a': { concurrentJobs: 50 }, 'team-b': { launchesPerHour: 1 } },
    });
  });

  it('refuses quotas that are not positive integers, or per-tenant JSON of another shape, naming the variable', () => {
    expect(() => configFromEnv({ ...BASE, [ENV.quotaConcurrentJobs]: '0' })).toThrow(ENV.quotaConcurrentJobs);
    expect(() => configFromEnv({ ...BASE, [ENV.tenantQuotas]: '{nope' })).toThrow(
      `${ENV.tenantQuotas} is not JSON`,
    );
    expect(() => configFromEnv({ ...BASE, [ENV.tenantQuotas]: '{"Team A": {}}' })).toThrow(ENV.tenantQuotas);
    expect(() =>
      configFromEnv({ ...BASE, [ENV.tenantQuotas]: '{"team-a": {"concurrentJobs": -1}}' }),
    ).toThrow(/team-a\.concurrentJobs/);
    expect(() => configFromEnv({ ...BASE, [ENV.tenantQuotas]: '{"team-a": {"gpus": 1}}' })).toThrow(
      ENV.tenantQuotas,
    );
  });
});

describe('price sources of a deployment', () => {
  it('reads prices live unless BURSTGATE_PRICES says snapshot, and refuses another value', () => {
    expect(configFromEnv(BASE).priceSource).toBeUndefined();
    expect(configFromEnv({ ...BASE, [ENV.priceSource]: 'snapshot' }).priceSource).toBe('snapshot');
    expect(() => configFromEnv({ ...BASE, [ENV.priceSource]: 'cheap' })).toThrow(
      /BURSTGATE_PRICES must be live or snapshot/,
    );
  });

  it("gives a deployed Azure configuration Azure's public retail prices, and local deps no public Price List client", () => {
    // Act
    const config = configFromEnv({ ...BASE, [ENV.azureResourceGroup]: 'rg' });
    const local = createDeps({ config, endpoints: { s3: 'http://127.0.0.1:1' } });
    const none = createDeps({ config });
    const simulated = createDeps({ config, endpoints: { pricing: 'http://127.0.0.1:1' } });

    // Assess: only a deployed gateway (depsFromEnv: publicPriceList) or a named endpoint gets a client
    expect(config.azure?.retailPricesEndpoint).toBe('https://prices.azure.com');
    expect(local.pricing).toBeUndefined();
    expect(none.pricing).toBeUndefined();
    expect(simulated.pricing).toBeDefined();
    simulated.pricing?.destroy();
  });
});
