import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { functionEntries } from '../../../infra/synth-template';
import { ENV } from '../../../shared/runtime/deps';
import { ROOT, fileExists, resourcesOfType, synthesized } from '../../helpers/synth';

const STREAMING_STEPS = [
  'lambdas/steps/inspect.ts',
  'lambdas/steps/publish-image.ts',
  'lambdas/steps/azure-upload-range.ts',
  'lambdas/steps/azure-publish-delta.ts',
  'lambdas/steps/aws-publish-changed-blocks.ts',
  // AWS direct: the disk map, the blocks of a range, the merged block manifest
  'lambdas/steps/aws-prepare-snapshot.ts',
  'lambdas/steps/aws-put-blocks.ts',
  'lambdas/steps/aws-finish-snapshot.ts',
];
/** Steps that wait for Azure long-running operations: 256 MB, 10 minutes. */
const WAITING_STEPS = [
  'lambdas/steps/azure-prepare-upload.ts',
  'lambdas/steps/azure-finish-upload.ts',
  'lambdas/steps/azure-create-vm.ts',
  'lambdas/steps/azure-compensate.ts',
  'lambdas/steps/azure-snapshot.ts',
  'lambdas/steps/azure-cleanup.ts',
  // the cancel workflow's step waits for the clouds' deletes (an Azure VM's takes minutes)
  'lambdas/steps/cancel-job.ts',
];

function entryFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${dir}/${f}`)
    .sort();
}

describe('Lambda functions', () => {
  it('exist once per entry file under lambdas/api and lambdas/steps, each tagged with its entry', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const entries = functionEntries(template.toJSON());

    // Assess
    const expected = [...entryFiles('lambdas/api'), ...entryFiles('lambdas/steps')].sort();
    expect(Object.values(entries).sort()).toEqual(expected);
    expect(expected).toHaveLength(66);
    for (const [logicalId, entry] of Object.entries(entries)) {
      expect(fileExists(entry), `${logicalId}: ${entry}`).toBe(true);
      expect(logicalId).toMatch(/^Fn(Api|Steps)[A-Z][A-Za-z]+$/);
    }
  });

  it('run Node.js 22 on arm64 with the ESM bundle handler, a one-month log group and no managed policy', () => {
    // Prepare
    const { template } = synthesized();
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    const logGroups = resourcesOfType(template, 'AWS::Logs::LogGroup');
    const roles = resourcesOfType(template, 'AWS::IAM::Role');

    // Act / Assess
    expect(Object.keys(functions)).toHaveLength(66);
    for (const [id, fn] of Object.entries(functions)) {
      const p = fn.Properties;
      expect(p.Runtime, id).toBe('nodejs22.x');
      expect(p.Architectures, id).toEqual(['arm64']);
      expect(p.Handler, id).toBe('index.handler');
      expect(p.Role, id).toEqual({ 'Fn::GetAtt': [`${id}Role`, 'Arn'] });
      expect(roles[`${id}Role`]?.Properties.ManagedPolicyArns, id).toBeUndefined();
      const logGroupRef = (p.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logGroups[logGroupRef]?.Properties.RetentionInDays, id).toBe(30);
    }
  });

  it('get memory and timeouts by kind: API 256 MB/29 s, steps 256 MB/60 s, Azure LRO steps 256 MB/10 min, streaming steps 1024 MB/15 min', () => {
    // Prepare
    const { template } = synthesized();
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');

    // Act
    const sizing = Object.fromEntries(
      Object.values(functions).map((fn) => [
        fn.Metadata?.['burstgate:entry'] as string,
        [fn.Properties.MemorySize, fn.Properties.Timeout],
      ]),
    );

    // Assess
    for (const [entry, [memory, timeout]] of Object.entries(sizing)) {
      if (entry === 'lambdas/api/authorizer.ts') expect([memory, timeout], entry).toEqual([256, 10]);
      else if (entry.startsWith('lambdas/api/')) expect([memory, timeout], entry).toEqual([256, 29]);
      else if (STREAMING_STEPS.includes(entry)) expect([memory, timeout], entry).toEqual([1024, 900]);
      else if (WAITING_STEPS.includes(entry)) expect([memory, timeout], entry).toEqual([256, 600]);
      else expect([memory, timeout], entry).toEqual([256, 60]);
    }
  });

  it('all get the gateway environment, with names equal to those the handlers read', () => {
    // Prepare
    const { template } = synthesized();
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');

    // Act
    const envs = Object.entries(functions).map(
      ([id, fn]) =>
        [id, (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables] as const,
    );

    // Assess
    for (const [id, vars] of envs) {
      expect(vars[ENV.jobsTable], id).toEqual({ Ref: 'JobsTable' });
      expect(vars[ENV.stagingBucket], id).toEqual({ Ref: 'StagingBucket' });
      expect(vars[ENV.eventBusName], id).toEqual({ Ref: 'EventBus' });
      expect(vars[ENV.vmImportRoleName], id).toBe('vmimport');
      expect(JSON.stringify(vars[ENV.offloadStateMachineArn]), id).toContain(
        ':stateMachine:burstgate-offload',
      );
      expect(JSON.stringify(vars[ENV.returnStateMachineArn]), id).toContain(':stateMachine:burstgate-return');
      expect(vars.POWERTOOLS_SERVICE_NAME, id).toBe('burstgate');
      expect(vars.NODE_OPTIONS, id).toBe('--enable-source-maps');
    }
  });

  it('build the state machine ARNs from the same fixed names the state machines have', () => {
    // Prepare
    const { template } = synthesized();
    const machines = resourcesOfType(template, 'AWS::StepFunctions::StateMachine');
    const anyFunction = Object.values(resourcesOfType(template, 'AWS::Lambda::Function'))[0];
    const vars = (anyFunction?.Properties.Environment as { Variables: Record<string, unknown> }).Variables;

    // Act
    const names = Object.values(machines).map((m) => m.Properties.StateMachineName);

    // Assess
    expect(names.sort()).toEqual([
      'burstgate-cancel',
      'burstgate-offload',
      'burstgate-return',
      'burstgate-timer',
      'burstgate-webhook',
    ]);
    expect(vars[ENV.offloadStateMachineArn]).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':states:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          ':stateMachine:burstgate-offload',
        ],
      ],
    });
  });
});
