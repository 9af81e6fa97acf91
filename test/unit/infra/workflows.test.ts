import { describe, expect, it } from 'vitest';
import { stateMachineDefinition } from '../../../infra/synth-template';
import { synthesized } from '../../helpers/synth';

type State = Record<string, unknown> & { Type: string };
interface Definition {
  StartAt: string;
  States: Record<string, State>;
  QueryLanguage?: string;
}

const fnArn = (logicalId: string) => `arn:aws:lambda:us-east-1:000000000000:function:${logicalId}`;

const RETRY = [
  {
    ErrorEquals: [
      'CloudThrottled',
      'CloudUnavailable',
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.TooManyRequestsException',
    ],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    JitterStrategy: 'FULL',
  },
];

/** The Choice on the execution input's cloud: Azure when `$.target.cloud` is "azure", else AWS. */
const CLOUD_CHOICE = (azure: string, aws: string) => ({
  Type: 'Choice',
  Choices: [
    {
      And: [
        { Variable: '$.target.cloud', IsPresent: true },
        { Variable: '$.target.cloud', StringEquals: 'azure' },
      ],
      Next: azure,
    },
  ],
  Default: aws,
});

function definition(logicalId: string): Definition {
  const { template } = synthesized();
  return stateMachineDefinition(template.toJSON(), logicalId) as unknown as Definition;
}

/** A Task calling a function by ARN (payloadResponseOnly) with `{ jobId.$, ...extra }`. */
function expectTask(state: State | undefined, fn: string, resultPath: string | null, extra: object = {}) {
  expect(state).toMatchObject({
    Type: 'Task',
    Resource: fnArn(fn),
    Parameters: { 'jobId.$': '$.jobId', ...extra },
    ResultPath: resultPath,
    Retry: RETRY,
  });
  expect(Object.keys(state?.Parameters as object).sort()).toEqual(['jobId.$', ...Object.keys(extra)].sort());
}

function expectChoice(state: State | undefined, variable: string, whenDone: string, otherwise: string) {
  expect(state).toEqual({
    Type: 'Choice',
    Choices: [{ Variable: variable, BooleanEquals: true, Next: whenDone }],
    Default: otherwise,
  });
}

describe('offload state machine', () => {
  it('is a STANDARD JSONPath machine named burstgate-offload, logging ALL without execution data, traced', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const machine = template.toJSON().Resources.OffloadStateMachine;

    // Assess
    expect(machine.Properties).toMatchObject({
      StateMachineName: 'burstgate-offload',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    expect(definition('OffloadStateMachine').QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  it('has exactly the specified states, wired in order', () => {
    // Prepare
    const def = definition('OffloadStateMachine');
    const s = def.States;

    // Act
    const names = Object.keys(s).sort();

    // Assess
    expect(names).toEqual(
      [
        'AwaitUpload',
        'Inspect',
        'StartImport',
        'WaitForImport',
        'CheckImport',
        'ImportDone',
        'LaunchWhen',
        'AwaitLaunch',
        'LaunchInstance',
        'WaitForInstance',
        'CheckInstance',
        'InstanceRunning',
        'MarkRunning',
        'Running',
        'Compensate',
        'OffloadFailed',
        'OffloadCloud',
        'AzurePrepareUpload',
        'AzureUploadRanges',
        'AzureFinishUpload',
        'AzureLaunchWhen',
        'AzureAwaitLaunch',
        'AzureCreateVm',
        'WaitForAzureVm',
        'AzureCheckVm',
        'AzureVmRunning',
        'AzureMarkRunning',
        'AzureCompensate',
        'AzureOffloadFailed',
        'AwsPrepareSnapshot',
        'EbsUploadNeeded',
        'AwsPutBlocks',
        'AwsFinishSnapshot',
        'WaitForSnapshot',
        'AwsCheckSnapshot',
        'SnapshotCompleted',
        'AwsRegisterImage',
      ].sort(),
    );
    expect(def.StartAt).toBe('AwaitUpload');
    expect(s.AwaitUpload?.Next).toBe('Inspect');
    expect(s.Inspect?.Next).toBe('OffloadCloud');
    // Azure by the execution input's cloud; then AWS direct when inspect resolved the mode to it
    const cloudChoice = CLOUD_CHOICE('AzurePrepareUpload', 'StartImport');
    expect(s.OffloadCloud).toEqual({
      ...cloudChoice,
      Choices: [
        ...cloudChoice.Choices,
        {
          And: [
            { Variable: '$.inspect.mode', IsPresent: true },
            { Variable: '$.inspect.mode', StringEquals: 'direct' },
          ],
          Next: 'AwsPrepareSnapshot',
        },
      ],
    });
    expect(s.AwsPrepareSnapshot?.Next).toBe('EbsUploadNeeded');
    expectChoice(s.EbsUploadNeeded, '$.ebsUpload.upload', 'AwsPutBlocks', 'AwsRegisterImage');
    expect(s.AwsPutBlocks?.Next).toBe('AwsFinishSnapshot');
    expect(s.AwsFinishSnapshot?.Next).toBe('WaitForSnapshot');
    expect(s.WaitForSnapshot).toEqual({ Type: 'Wait', Seconds: 15, Next: 'AwsCheckSnapshot' });
    expect(s.AwsCheckSnapshot?.Next).toBe('SnapshotCompleted');
    expectChoice(s.SnapshotCompleted, '$.snapshotStatus.done', 'AwsRegisterImage', 'WaitForSnapshot');
    expect(s.AwsRegisterImage?.Next).toBe('LaunchWhen');
    // A held or timed launch (`launch` in the execution input) waits in AwaitLaunch once staged
    expect(s.LaunchWhen).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.launch', IsPresent: true, Next: 'AwaitLaunch' }],
      Default: 'LaunchInstance',
    });
    expect(s.AwaitLaunch?.Next).toBe('LaunchInstance');
    expect(s.AzureLaunchWhen).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.launch', IsPresent: true, Next: 'AzureAwaitLaunch' }],
      Default: 'AzureCreateVm',
    });
    expect(s.AzureAwaitLaunch?.Next).toBe('AzureCreateVm');
    expect(s.AzurePrepareUpload?.Next).toBe('AzureUploadRanges');
    expect(s.AzureUploadRanges?.Next).toBe('AzureFinishUpload');
    expect(s.AzureFinishUpload?.Next).toBe('AzureLaunchWhen');
    expect(s.AzureCreateVm?.Next).toBe('WaitForAzureVm');
    expect(s.WaitForAzureVm).toEqual({ Type: 'Wait', Seconds: 15, Next: 'AzureCheckVm' });
    expect(s.AzureCheckVm?.Next).toBe('AzureVmRunning');
    expectChoice(s.AzureVmRunning, '$.vmStatus.done', 'AzureMarkRunning', 'WaitForAzureVm');
    expect(s.AzureMarkRunning?.Next).toBe('Running');
    expect(s.AzureCompensate?.Next).toBe('AzureOffloadFailed');
    expect(s.AzureOffloadFailed).toMatchObject({ Type: 'Fail', Error: 'OffloadFailed' });
    expect(s.StartImport?.Next).toBe('WaitForImport');
    expect(s.WaitForImport).toEqual({ Type: 'Wait', Seconds: 30, Next: 'CheckImport' });
    expect(s.CheckImport?.Next).toBe('ImportDone');
    expectChoice(s.ImportDone, '$.importStatus.done', 'LaunchWhen', 'WaitForImport');
    expect(s.LaunchInstance?.Next).toBe('WaitForInstance');
    expect(s.WaitForInstance).toEqual({ Type: 'Wait', Seconds: 10, Next: 'CheckInstance' });
    expect(s.CheckInstance?.Next).toBe('InstanceRunning');
    expectChoice(s.InstanceRunning, '$.instanceStatus.done', 'MarkRunning', 'WaitForInstance');
    expect(s.MarkRunning?.Next).toBe('Running');
    expect(s.Running).toEqual({ Type: 'Succeed' });
    expect(s.Compensate?.Next).toBe('OffloadFailed');
    expect(s.OffloadFailed).toMatchObject({ Type: 'Fail', Error: 'OffloadFailed' });
  });

  it('waits for the upload with a task token for at most a day', () => {
    // Prepare
    const s = definition('OffloadStateMachine').States;

    // Act
    const awaitUpload = s.AwaitUpload;

    // Assess
    expect(awaitUpload).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: fnArn('FnStepsAwaitUpload'),
        Payload: { 'jobId.$': '$.jobId', 'taskToken.$': '$$.Task.Token' },
      },
      ResultPath: '$.upload',
      TimeoutSeconds: 86400,
      Retry: RETRY,
    });
  });

  it('waits for a held or timed launch with a task token, bounded only by the longest lease', () => {
    // Prepare
    const s = definition('OffloadStateMachine').States;

    // Act / Assess
    for (const name of ['AwaitLaunch', 'AzureAwaitLaunch']) {
      expect(s[name], name).toMatchObject({
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
        Parameters: {
          FunctionName: fnArn('FnStepsAwaitLaunch'),
          Payload: { 'jobId.$': '$.jobId', 'taskToken.$': '$$.Task.Token' },
        },
        ResultPath: '$.launched',
        TimeoutSeconds: 367 * 86400,
        Retry: RETRY,
      });
    }
  });

  it('invokes each step function by ARN with the jobId and the specified result paths', () => {
    // Prepare
    const s = definition('OffloadStateMachine').States;

    // Act / Assess
    expectTask(s.Inspect, 'FnStepsInspect', '$.inspect');
    expectTask(s.StartImport, 'FnStepsStartImport', '$.import');
    expectTask(s.CheckImport, 'FnStepsCheckImport', '$.importStatus');
    expectTask(s.LaunchInstance, 'FnStepsLaunchInstance', '$.instance');
    expectTask(s.CheckInstance, 'FnStepsCheckInstance', '$.instanceStatus', { desired: 'running' });
    expectTask(s.MarkRunning, 'FnStepsMarkRunning', null);
    expectTask(s.Compensate, 'FnStepsCompensate', null, { 'error.$': '$.error' });
    expectTask(s.AzurePrepareUpload, 'FnStepsAzurePrepareUpload', '$.azureUpload');
    expectTask(s.AzureFinishUpload, 'FnStepsAzureFinishUpload', '$.azureFinished', {
      'uploaded.$': '$.azureUploaded',
    });
    expectTask(s.AzureCreateVm, 'FnStepsAzureCreateVm', '$.azureVm');
    expectTask(s.AzureCheckVm, 'FnStepsAzureCheckVm', '$.vmStatus', { desired: 'running' });
    expectTask(s.AzureMarkRunning, 'FnStepsMarkRunning', null);
    expectTask(s.AzureCompensate, 'FnStepsAzureCompensate', null, { 'error.$': '$.error' });
    expectTask(s.AwsPrepareSnapshot, 'FnStepsAwsPrepareSnapshot', '$.ebsUpload');
    expectTask(s.AwsFinishSnapshot, 'FnStepsAwsFinishSnapshot', '$.ebsFinished', {
      'uploaded.$': '$.ebsUploaded',
    });
    expectTask(s.AwsCheckSnapshot, 'FnStepsAwsCheckSnapshot', '$.snapshotStatus');
    expectTask(s.AwsRegisterImage, 'FnStepsAwsRegisterImage', '$.image');
  });

  it('puts the AWS direct blocks with a Map state: one Lambda per planned range, bounded concurrency, failures compensated', () => {
    // Prepare
    const s = definition('OffloadStateMachine').States;

    // Act
    const map = s.AwsPutBlocks as State & {
      ItemProcessor: { StartAt: string; States: Record<string, State> };
    };
    const item = map.ItemProcessor.States.AwsPutRangeBlocks;

    // Assess
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.ebsUpload.ranges',
      ItemSelector: { 'jobId.$': '$.jobId', 'range.$': '$$.Map.Item.Value' },
      MaxConcurrency: 8,
      ResultPath: '$.ebsUploaded',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Compensate' }],
    });
    expect(Object.keys(map.ItemProcessor.States)).toEqual(['AwsPutRangeBlocks']);
    expect(item).toMatchObject({
      Type: 'Task',
      Resource: fnArn('FnStepsAwsPutBlocks'),
      Parameters: { 'jobId.$': '$.jobId', 'range.$': '$.range' },
      Retry: RETRY,
      End: true,
    });
    expect(item?.ResultPath).toBeUndefined();
  });

  it('uploads the Azure ranges with a Map state: one Lambda per planned range, bounded concurrency, no SAS in the state', () => {
    // Prepare
    const s = definition('OffloadStateMachine').States;

    // Act
    const map = s.AzureUploadRanges as State & {
      ItemProcessor: { StartAt: string; States: Record<string, State> };
    };
    const item = map.ItemProcessor.States.AzureUploadRange;

    // Assess: items from the plan, each item only the job id and its range
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.azureUpload.ranges',
      ItemSelector: { 'jobId.$': '$.jobId', 'range.$': '$$.Map.Item.Value' },
      MaxConcurrency: 8,
      ResultPath: '$.azureUploaded',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'AzureCompensate' }],
    });
    expect(map.ItemProcessor.StartAt).toBe('AzureUploadRange');
    expect(Object.keys(map.ItemProcessor.States)).toEqual(['AzureUploadRange']);
    expect(item).toMatchObject({
      Type: 'Task',
      Resource: fnArn('FnStepsAzureUploadRange'),
      Parameters: { 'jobId.$': '$.jobId', 'range.$': '$.range' },
      Retry: RETRY,
      End: true,
    });
    // the item's result is the function's own (no ResultPath), so the Map collects them
    expect(item?.ResultPath).toBeUndefined();
  });

  it('retries every Task and sends any other error to Compensate, which has no Catch of its own', () => {
    // Prepare
    const s = definition('OffloadStateMachine').States;

    // Act
    const tasks = Object.entries(s).filter(([, state]) => state.Type === 'Task');

    // Assess
    expect(tasks).toHaveLength(20);
    for (const [name, state] of tasks) {
      expect(state.Retry, name).toEqual(RETRY);
      if (name === 'Compensate' || name === 'AzureCompensate') expect(state.Catch, name).toBeUndefined();
      else
        expect(state.Catch, name).toEqual([
          {
            ErrorEquals: ['States.ALL'],
            ResultPath: '$.error',
            Next: name.startsWith('Azure') ? 'AzureCompensate' : 'Compensate',
          },
        ]);
    }
  });
});

describe('return state machine', () => {
  it('is a STANDARD JSONPath machine named burstgate-return, logging ALL without execution data, traced', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const machine = template.toJSON().Resources.ReturnStateMachine;

    // Assess
    expect(machine.Properties).toMatchObject({
      StateMachineName: 'burstgate-return',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    expect(definition('ReturnStateMachine').QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });

  it('has exactly the specified states, wired in order', () => {
    // Prepare
    const def = definition('ReturnStateMachine');
    const s = def.States;

    // Act
    const names = Object.keys(s).sort();

    // Assess
    expect(names).toEqual(
      [
        'StopInstance',
        'WaitForStop',
        'CheckStopped',
        'InstanceStopped',
        'StartExport',
        'WaitForExport',
        'CheckExport',
        'ExportDone',
        'PublishImage',
        'Cleanup',
        'Returned',
        'ReturnFailed',
        'ReturnFailedState',
        'ReturnCloud',
        'AzureDeallocate',
        'WaitForAzureStop',
        'AzureCheckDeallocated',
        'AzureVmDeallocated',
        'AzureSnapshotForReturn',
        'AzurePublishDelta',
        'AzureCleanup',
        'ReturnMode',
        'AwsSnapshotForReturn',
        'WaitForReturnSnapshot',
        'AwsCheckReturnSnapshot',
        'ReturnSnapshotDone',
        'AwsPublishChangedBlocks',
      ].sort(),
    );
    expect(def.StartAt).toBe('ReturnCloud');
    expect(s.ReturnCloud).toEqual(CLOUD_CHOICE('AzureDeallocate', 'StopInstance'));
    expect(s.AzureDeallocate?.Next).toBe('WaitForAzureStop');
    expect(s.WaitForAzureStop).toEqual({ Type: 'Wait', Seconds: 10, Next: 'AzureCheckDeallocated' });
    expect(s.AzureCheckDeallocated?.Next).toBe('AzureVmDeallocated');
    expectChoice(s.AzureVmDeallocated, '$.vmStatus.done', 'AzureSnapshotForReturn', 'WaitForAzureStop');
    expect(s.AzureSnapshotForReturn?.Next).toBe('AzurePublishDelta');
    expect(s.AzurePublishDelta?.Next).toBe('AzureCleanup');
    expect(s.AzureCleanup?.Next).toBe('Returned');
    expect(s.StopInstance?.Next).toBe('WaitForStop');
    expect(s.WaitForStop).toEqual({ Type: 'Wait', Seconds: 10, Next: 'CheckStopped' });
    expect(s.CheckStopped?.Next).toBe('InstanceStopped');
    expectChoice(s.InstanceStopped, '$.instanceStatus.done', 'ReturnMode', 'WaitForStop');
    // Direct mode (the disk went by the EBS direct APIs) comes back as changed blocks; else by export.
    expect(s.ReturnMode).toEqual({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.target.mode', IsPresent: true },
            { Variable: '$.target.mode', StringEquals: 'direct' },
          ],
          Next: 'AwsSnapshotForReturn',
        },
      ],
      Default: 'StartExport',
    });
    expect(s.AwsSnapshotForReturn?.Next).toBe('WaitForReturnSnapshot');
    expect(s.WaitForReturnSnapshot).toEqual({ Type: 'Wait', Seconds: 15, Next: 'AwsCheckReturnSnapshot' });
    expect(s.AwsCheckReturnSnapshot?.Next).toBe('ReturnSnapshotDone');
    expectChoice(
      s.ReturnSnapshotDone,
      '$.snapshotStatus.done',
      'AwsPublishChangedBlocks',
      'WaitForReturnSnapshot',
    );
    expect(s.AwsPublishChangedBlocks?.Next).toBe('Cleanup');
    expect(s.StartExport?.Next).toBe('WaitForExport');
    expect(s.WaitForExport).toEqual({ Type: 'Wait', Seconds: 30, Next: 'CheckExport' });
    expect(s.CheckExport?.Next).toBe('ExportDone');
    expectChoice(s.ExportDone, '$.exportStatus.done', 'PublishImage', 'WaitForExport');
    expect(s.PublishImage?.Next).toBe('Cleanup');
    expect(s.Cleanup?.Next).toBe('Returned');
    expect(s.Returned).toEqual({ Type: 'Succeed' });
    expect(s.ReturnFailed?.Next).toBe('ReturnFailedState');
    expect(s.ReturnFailedState).toMatchObject({ Type: 'Fail', Error: 'ReturnFailed' });
  });

  it('invokes each step function by ARN with the jobId and the specified result paths', () => {
    // Prepare
    const s = definition('ReturnStateMachine').States;

    // Act / Assess
    expectTask(s.StopInstance, 'FnStepsStopInstance', '$.stop');
    expectTask(s.CheckStopped, 'FnStepsCheckInstance', '$.instanceStatus', { desired: 'stopped' });
    expectTask(s.StartExport, 'FnStepsStartExport', '$.export');
    expectTask(s.CheckExport, 'FnStepsCheckExport', '$.exportStatus');
    expectTask(s.PublishImage, 'FnStepsPublishImage', '$.publish');
    expectTask(s.Cleanup, 'FnStepsCleanup', '$.cleanup');
    expectTask(s.ReturnFailed, 'FnStepsReturnFailed', null, { 'error.$': '$.error' });
    expectTask(s.AzureDeallocate, 'FnStepsAzureDeallocate', '$.stop');
    expectTask(s.AzureCheckDeallocated, 'FnStepsAzureCheckVm', '$.vmStatus', { desired: 'deallocated' });
    expectTask(s.AzureSnapshotForReturn, 'FnStepsAzureSnapshot', '$.snapshot');
    expectTask(s.AzurePublishDelta, 'FnStepsAzurePublishDelta', '$.publish');
    expectTask(s.AzureCleanup, 'FnStepsAzureCleanup', '$.cleanup');
    expectTask(s.AwsSnapshotForReturn, 'FnStepsAwsSnapshotForReturn', '$.snapshot');
    expectTask(s.AwsCheckReturnSnapshot, 'FnStepsAwsCheckReturnSnapshot', '$.snapshotStatus');
    expectTask(s.AwsPublishChangedBlocks, 'FnStepsAwsPublishChangedBlocks', '$.publish');
  });

  it('retries every Task and sends any other error to ReturnFailed, which has no Catch of its own', () => {
    // Prepare
    const s = definition('ReturnStateMachine').States;

    // Act
    const tasks = Object.entries(s).filter(([, state]) => state.Type === 'Task');

    // Assess
    expect(tasks).toHaveLength(15);
    for (const [name, state] of tasks) {
      expect(state.Retry, name).toEqual(RETRY);
      if (name === 'ReturnFailed') expect(state.Catch, name).toBeUndefined();
      else
        expect(state.Catch, name).toEqual([
          { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'ReturnFailed' },
        ]);
    }
  });
});

describe('state machine roles', () => {
  it('may invoke exactly the functions their definitions call', () => {
    // Prepare
    const { template } = synthesized();
    const policies = template.findResources('AWS::IAM::Policy');
    const invoked = (role: string) =>
      Object.values(policies)
        .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .filter((st: { Action: unknown }) => st.Action === 'lambda:InvokeFunction')
        .flatMap((st: { Resource: unknown[] }) => st.Resource)
        .flatMap((r: unknown) => JSON.stringify(r).match(/Fn(Steps|Api)[A-Za-z]+/g) ?? []);

    // Act
    const offload = [...new Set(invoked('OffloadStateMachineRole'))].sort();
    const ret = [...new Set(invoked('ReturnStateMachineRole'))].sort();

    // Assess
    expect(offload).toEqual(
      [
        'FnStepsAwaitUpload',
        'FnStepsAwaitLaunch',
        'FnStepsInspect',
        'FnStepsStartImport',
        'FnStepsCheckImport',
        'FnStepsLaunchInstance',
        'FnStepsCheckInstance',
        'FnStepsMarkRunning',
        'FnStepsCompensate',
        'FnStepsAzurePrepareUpload',
        'FnStepsAzureUploadRange',
        'FnStepsAzureFinishUpload',
        'FnStepsAzureCreateVm',
        'FnStepsAzureCheckVm',
        'FnStepsAzureCompensate',
        'FnStepsAwsPrepareSnapshot',
        'FnStepsAwsPutBlocks',
        'FnStepsAwsFinishSnapshot',
        'FnStepsAwsCheckSnapshot',
        'FnStepsAwsRegisterImage',
      ].sort(),
    );
    expect(ret).toEqual(
      [
        'FnStepsStopInstance',
        'FnStepsCheckInstance',
        'FnStepsStartExport',
        'FnStepsCheckExport',
        'FnStepsPublishImage',
        'FnStepsCleanup',
        'FnStepsReturnFailed',
        'FnStepsAzureDeallocate',
        'FnStepsAzureCheckVm',
        'FnStepsAzureSnapshot',
        'FnStepsAzurePublishDelta',
        'FnStepsAzureCleanup',
        'FnStepsAwsSnapshotForReturn',
        'FnStepsAwsCheckReturnSnapshot',
        'FnStepsAwsPublishChangedBlocks',
      ].sort(),
    );
  });
});
