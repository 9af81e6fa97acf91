import { describe, expect, it } from 'vitest';
import { forEachState, taskKind } from '../../../infra/local/asl';
import { readTemplate, tableCreateInput, TemplateError } from '../../../infra/local/template';
import { synthTemplate } from '../../../infra/synth-template';
import { handMadeTemplate } from './fixtures/template';

const ARN = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

describe('readTemplate on a hand-made template', () => {
  it('lists the burstgate functions with entry, resolved environment and timeout, skipping helper functions', () => {
    // Act
    const t = readTemplate(handMadeTemplate());
    // Assess
    expect([...t.functions.keys()].sort()).toEqual(['FnAuthorizer', 'FnEcho', 'FnFail']);
    const echo = t.functions.get('FnEcho')!;
    expect(echo).toMatchObject({
      entry: 'test/integration/local/fixtures/handlers/echo.ts',
      arn: ARN('FnEcho'),
      timeoutSeconds: 30,
      memoryMiB: 256,
    });
    expect(echo.env).toEqual({
      JOBS_TABLE: 'burstgate-jobs',
      STAGING_BUCKET: 'burstgate-staging',
      OFFLOAD_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-offload',
      RETURN_STATE_MACHINE_ARN: 'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-return',
      EVENT_BUS_NAME: 'burstgate',
    });
  });

  it('resolves the state machine definitions: GetAtt → local function ARN, Ref AWS::Partition → aws', () => {
    // Act
    const { offload, return: ret } = readTemplate(handMadeTemplate()).stateMachines;
    // Assess
    expect(offload.name).toBe('burstgate-offload');
    expect(offload.arn).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-offload');
    expect(offload.definition.States.AwaitUpload).toMatchObject({
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: ARN('FnEcho'), Payload: { 'taskToken.$': '$$.Task.Token' } },
    });
    expect(offload.definition.States.Inspect?.Resource).toBe(ARN('FnEcho'));
    expect(ret.name).toBe('burstgate-return');
    expect(ret.definition.States.StopInstance?.Resource).toBe(ARN('FnFail'));
  });

  it('maps routes to their function and authorizer function', () => {
    // Act
    const { routes } = readTemplate(handMadeTemplate());
    // Assess
    const byKey = Object.fromEntries(routes.map((r) => [r.routeKey, r]));
    expect(byKey['POST /offloads']).toMatchObject({
      method: 'POST',
      path: '/offloads',
      functionLogicalId: 'FnEcho',
      authorizerFunctionLogicalId: 'FnAuthorizer',
      authorizer: {
        identitySource: ['$request.header.Authorization'],
        simpleResponses: true,
        payloadFormatVersion: '2.0',
      },
    });
    expect(byKey['GET /offloads/{id}']).toMatchObject({ method: 'GET', path: '/offloads/{id}' });
    expect(byKey['GET /health']?.authorizer).toBeUndefined();
  });

  it('reads the table and turns it into a CreateTable input without cloud-only settings', () => {
    // Act
    const { table } = readTemplate(handMadeTemplate());
    const input = tableCreateInput(table, 'burstgate-jobs');
    // Assess
    expect(input).toEqual({
      TableName: 'burstgate-jobs',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: expect.arrayContaining([{ AttributeName: 'gsi1pk', AttributeType: 'S' }]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byState',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('says clearly what is missing', () => {
    // Prepare
    const noReturn = handMadeTemplate();
    delete (noReturn.Resources as Record<string, unknown>).ReturnStateMachine;
    const unknownFunction = handMadeTemplate();
    const resources = unknownFunction.Resources as Record<string, { Metadata?: Record<string, unknown> }>;
    delete resources.FnFail!.Metadata;
    // Act + Assess
    expect(() => readTemplate({})).toThrow(TemplateError);
    expect(() => readTemplate(noReturn)).toThrow(
      /no state machine named burstgate-return \(found: burstgate-offload, burstgate-timer, burstgate-webhook, burstgate-cancel\)/,
    );
    expect(() => readTemplate(unknownFunction)).toThrow(
      /StopInstance: function .*FnFail is not a burstgate function/,
    );
  });
});

describe('readTemplate on the synthesized stack', () => {
  // One synth for the whole block: it takes a few seconds.
  const t = readTemplate(synthTemplate());

  it('finds every function with an entry module that exists in the project', async () => {
    // Assess
    const { existsSync } = await import('node:fs');
    expect(t.functions.size).toBeGreaterThan(5);
    for (const f of t.functions.values()) {
      expect(f.entry).toMatch(/^lambdas\/.+\.ts$/);
      expect(existsSync(f.entry), f.entry).toBe(true);
      expect(f.env.JOBS_TABLE).toBe('burstgate-jobs');
      expect(f.env.OFFLOAD_STATE_MACHINE_ARN).toBe(
        'arn:aws:states:us-east-1:000000000000:stateMachine:burstgate-offload',
      );
    }
  });

  it('resolves both state machines to Lambda tasks of known functions, with the waits the stack names', () => {
    // Prepare
    const waits: string[] = [];
    const tokenStates: string[] = [];
    // Act
    for (const sm of [t.stateMachines.offload, t.stateMachines.return]) {
      forEachState(sm.definition, (name, state) => {
        if (state.Type === 'Wait') waits.push(name);
        if (state.Type !== 'Task') return;
        const kind = taskKind(state);
        expect(kind.kind, `${sm.name} ${name}`).not.toBe('unsupported');
        if (kind.kind === 'lambda-invoke' && kind.waitForTaskToken) tokenStates.push(name);
        if (kind.kind !== 'unsupported') {
          const fnName = /function:(.+)$/.exec(kind.functionRef ?? '')?.[1] ?? '';
          expect(t.functions.has(fnName), `${name} → ${kind.functionRef}`).toBe(true);
        }
      });
    }
    // Assess
    expect(tokenStates.sort()).toEqual(['AwaitLaunch', 'AwaitUpload', 'AzureAwaitLaunch']);
    expect(waits).toEqual(
      expect.arrayContaining(['WaitForImport', 'WaitForInstance', 'WaitForStop', 'WaitForExport']),
    );
    expect(JSON.stringify(t.stateMachines.offload.definition)).not.toMatch(/Fn::|"Ref"/);
  });

  it('has the API routes behind the API-key authorizer and the jobs table with its byState index', () => {
    // Assess
    const keys = t.routes.map((r) => r.routeKey);
    expect(keys).toEqual(
      expect.arrayContaining(['POST /offloads', 'GET /offloads/{id}', 'GET /image-cache/{region}/{vmName}']),
    );
    for (const r of t.routes) {
      expect(r.authorizer, r.routeKey).toMatchObject({
        simpleResponses: true,
        identitySource: ['$request.header.Authorization'],
      });
    }
    expect(t.table.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toContain('byState');
  });
});
