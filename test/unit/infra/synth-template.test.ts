import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  functionEntries,
  placeholderResolver,
  resolveIntrinsics,
  stateMachineDefinition,
  synthTemplate,
} from '../../../infra/synth-template';
import { ROOT } from '../../helpers/synth';

describe('synthTemplate', () => {
  it('returns the stack template and leaves no synth directory behind', () => {
    // Prepare: a folder of its own, so another test file synthesizing meanwhile does not count
    const root = mkdtempSync(join(tmpdir(), 'bg-synth-root-'));

    // Act
    const template = synthTemplate({ tmpRoot: root });
    const left = readdirSync(root);
    rmSync(root, { recursive: true, force: true });

    // Assess
    const resources = template.Resources as Record<string, { Type: string }>;
    expect(resources.JobsTable?.Type).toBe('AWS::DynamoDB::Table');
    expect(resources.OffloadStateMachine?.Type).toBe('AWS::StepFunctions::StateMachine');
    expect(resources.HttpApi?.Type).toBe('AWS::ApiGatewayV2::Api');
    expect(Object.keys(functionEntries(template))).toHaveLength(66);
    expect(left).toEqual([]);
  });

  it('is importable from plain tsx (the embedded deployment runs there)', () => {
    // Prepare
    const script =
      "const m = await import('./infra/synth-template.ts');" +
      'const t = m.synthTemplate();' +
      'console.log(JSON.stringify(Object.values(m.functionEntries(t)).sort()));';

    // Act
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });

    // Assess
    const entries = JSON.parse(out.trim().split('\n').at(-1) ?? '[]') as string[];
    expect(entries).toContain('lambdas/steps/start-import.ts');
    expect(entries).toHaveLength(66);
  });
});

describe('template helpers', () => {
  it('resolve Ref, Fn::GetAtt and Fn::Join with placeholder values', () => {
    // Prepare
    const template = {
      Resources: { FnX: { Type: 'AWS::Lambda::Function' }, Q: { Type: 'AWS::SQS::Queue' } },
    };
    const value = {
      a: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':states:', { Ref: 'AWS::Region' }]] },
      b: [{ 'Fn::GetAtt': ['FnX', 'Arn'] }, { Ref: 'Q' }],
    };

    // Act
    const resolved = resolveIntrinsics(value, placeholderResolver(template, { region: 'eu-west-1' }));

    // Assess
    expect(resolved).toEqual({
      a: 'arn:aws:states:eu-west-1',
      b: ['arn:aws:lambda:eu-west-1:000000000000:function:FnX', 'Q'],
    });
  });

  it('refuse intrinsics they cannot resolve', () => {
    // Prepare
    const value = { 'Fn::If': ['Cond', 'a', 'b'] };

    // Act
    const resolve = () => resolveIntrinsics(value, placeholderResolver({ Resources: {} }));

    // Assess
    expect(resolve).toThrow(/Fn::If/);
  });

  it('read a state machine definition and reject anything else', () => {
    // Prepare
    const template = synthTemplate();

    // Act
    const definition = stateMachineDefinition(template, 'ReturnStateMachine');
    const notAMachine = () => stateMachineDefinition(template, 'JobsTable');

    // Assess
    expect(definition.StartAt).toBe('ReturnCloud');
    expect(notAMachine).toThrow(/not a state machine/);
  });
});
