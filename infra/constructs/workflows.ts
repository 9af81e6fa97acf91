import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { StepFunctionName } from './functions';
import type { GatewayFunction } from './gateway-function';
import { acknowledgeWildcard, fixLogicalId, getAttFinding } from './nag';
import { OFFLOAD_STATE_MACHINE_NAME, RETURN_STATE_MACHINE_NAME } from './names';

/** Errors every Task retries: our handlers' transient cloud errors and Lambda's own. */
export const RETRY_ERRORS = [
  'CloudThrottled',
  'CloudUnavailable',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

const RETRY: sfn.RetryProps = {
  errors: [...RETRY_ERRORS],
  interval: Duration.seconds(2),
  maxAttempts: 6,
  backoffRate: 2,
  jitterStrategy: sfn.JitterType.FULL,
};

/** Wait durations; tests and the embedded runner override them by state name. */
export const WAIT_SECONDS = {
  WaitForImport: 30,
  WaitForInstance: 10,
  WaitForStop: 10,
  WaitForExport: 30,
} as const;

export interface WorkflowsProps {
  readonly steps: Record<StepFunctionName, GatewayFunction>;
}

/**
 * The offload and return workflows: STANDARD state machines in JSONPath (no JSONata, so
 * aws-local-stepfunctions can run the same definitions). Every Task invokes its function by ARN
 * (`payloadResponseOnly`), passes `{ jobId }` (plus a few fixed fields), retries transient errors,
 * and on any other error hands over to the compensation step.
 */
export class Workflows extends Construct {
  readonly offload: sfn.StateMachine;
  readonly return: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    this.offload = this.buildOffload(props.steps);
    this.return = this.buildReturn(props.steps);
  }

  private buildOffload(steps: Record<StepFunctionName, GatewayFunction>): sfn.StateMachine {
    const scope = new Construct(this, 'OffloadStates');

    const compensate = invoke(scope, 'Compensate', steps.compensate, sfn.JsonPath.DISCARD, {
      error: sfn.JsonPath.objectAt('$.error'),
    }).next(
      new sfn.Fail(scope, 'OffloadFailed', {
        error: 'OffloadFailed',
        cause: 'The offload failed; compensation removed what the job had created (see the job record).',
      }),
    );
    const guarded = <T extends sfn.TaskStateBase>(task: T): T => {
      task.addCatch(compensate, { errors: ['States.ALL'], resultPath: '$.error' });
      return task;
    };

    const awaitUpload = new tasks.LambdaInvoke(scope, 'AwaitUpload', {
      lambdaFunction: steps.awaitUpload.fn,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({
        jobId: sfn.JsonPath.stringAt('$.jobId'),
        taskToken: sfn.JsonPath.taskToken,
      }),
      resultPath: '$.upload',
      taskTimeout: sfn.Timeout.duration(Duration.days(1)),
      retryOnServiceExceptions: false,
    });
    awaitUpload.addRetry(RETRY);
    guarded(awaitUpload);

    const inspect = guarded(invoke(scope, 'Inspect', steps.inspect, '$.inspect'));
    const startImport = guarded(invoke(scope, 'StartImport', steps.startImport, '$.import'));
    const waitForImport = wait(scope, 'WaitForImport');
    const checkImport = guarded(invoke(scope, 'CheckImport', steps.checkImport, '$.importStatus'));
    const importDone = new sfn.Choice(scope, 'ImportDone');
    const launchInstance = guarded(invoke(scope, 'LaunchInstance', steps.launchInstance, '$.launch'));
    const waitForInstance = wait(scope, 'WaitForInstance');
    const checkInstance = guarded(
      invoke(scope, 'CheckInstance', steps.checkInstance, '$.instanceStatus', { desired: 'running' }),
    );
    const instanceRunning = new sfn.Choice(scope, 'InstanceRunning');
    const markRunning = guarded(invoke(scope, 'MarkRunning', steps.markRunning, sfn.JsonPath.DISCARD));

    awaitUpload.next(inspect);
    inspect.next(startImport);
    startImport.next(waitForImport);
    waitForImport.next(checkImport);
    checkImport.next(importDone);
    importDone
      .when(sfn.Condition.booleanEquals('$.importStatus.done', true), launchInstance)
      .otherwise(waitForImport);
    launchInstance.next(waitForInstance);
    waitForInstance.next(checkInstance);
    checkInstance.next(instanceRunning);
    instanceRunning
      .when(sfn.Condition.booleanEquals('$.instanceStatus.done', true), markRunning)
      .otherwise(waitForInstance);
    markRunning.next(new sfn.Succeed(scope, 'Running'));

    return this.stateMachine('Offload', OFFLOAD_STATE_MACHINE_NAME, awaitUpload, [
      steps.awaitUpload,
      steps.inspect,
      steps.startImport,
      steps.checkImport,
      steps.launchInstance,
      steps.checkInstance,
      steps.markRunning,
      steps.compensate,
    ]);
  }

  private buildReturn(steps: Record<StepFunctionName, GatewayFunction>): sfn.StateMachine {
    const scope = new Construct(this, 'ReturnStates');

    const returnFailed = invoke(scope, 'ReturnFailed', steps.returnFailed, sfn.JsonPath.DISCARD, {
      error: sfn.JsonPath.objectAt('$.error'),
    }).next(
      new sfn.Fail(scope, 'ReturnFailedState', {
        error: 'ReturnFailed',
        cause: 'The return failed; the instance and its disk were kept (see the job record).',
      }),
    );
    const guarded = <T extends sfn.TaskStateBase>(task: T): T => {
      task.addCatch(returnFailed, { errors: ['States.ALL'], resultPath: '$.error' });
      return task;
    };

    const stopInstance = guarded(invoke(scope, 'StopInstance', steps.stopInstance, '$.stop'));
    const waitForStop = wait(scope, 'WaitForStop');
    const checkStopped = guarded(
      invoke(scope, 'CheckStopped', steps.checkInstance, '$.instanceStatus', { desired: 'stopped' }),
    );
    const instanceStopped = new sfn.Choice(scope, 'InstanceStopped');
    const startExport = guarded(invoke(scope, 'StartExport', steps.startExport, '$.export'));
    const waitForExport = wait(scope, 'WaitForExport');
    const checkExport = guarded(invoke(scope, 'CheckExport', steps.checkExport, '$.exportStatus'));
    const exportDone = new sfn.Choice(scope, 'ExportDone');
    const publishImage = guarded(invoke(scope, 'PublishImage', steps.publishImage, '$.publish'));
    const cleanup = guarded(invoke(scope, 'Cleanup', steps.cleanup, '$.cleanup'));

    stopInstance.next(waitForStop);
    waitForStop.next(checkStopped);
    checkStopped.next(instanceStopped);
    instanceStopped
      .when(sfn.Condition.booleanEquals('$.instanceStatus.done', true), startExport)
      .otherwise(waitForStop);
    startExport.next(waitForExport);
    waitForExport.next(checkExport);
    checkExport.next(exportDone);
    exportDone
      .when(sfn.Condition.booleanEquals('$.exportStatus.done', true), publishImage)
      .otherwise(waitForExport);
    publishImage.next(cleanup);
    cleanup.next(new sfn.Succeed(scope, 'Returned'));

    return this.stateMachine('Return', RETURN_STATE_MACHINE_NAME, stopInstance, [
      steps.stopInstance,
      steps.checkInstance,
      steps.startExport,
      steps.checkExport,
      steps.publishImage,
      steps.cleanup,
      steps.returnFailed,
    ]);
  }

  private stateMachine(
    id: 'Offload' | 'Return',
    stateMachineName: string,
    start: sfn.IChainable,
    invoked: GatewayFunction[],
  ): sfn.StateMachine {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: logs.RetentionDays.ONE_MONTH });
    const machine = new sfn.StateMachine(this, id, {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      comment: `burstgate ${id.toLowerCase()} workflow`,
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
    });
    fixLogicalId(machine, `${id}StateMachine`);
    fixLogicalId(machine.role, `${id}StateMachineRole`);

    for (const fn of new Set(invoked)) {
      acknowledgeWildcard(
        machine,
        `Resource::${getAttFinding(fn.fn)}:*`,
        `LambdaInvoke grants ${fn.entry} and its qualified ARNs (versions/aliases of that one function).`,
      );
    }
    acknowledgeWildcard(
      machine,
      'Resource::*',
      'X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs vended delivery (logs:*LogDelivery*, PutResourcePolicy, Describe*) do not support resource-level permissions.',
    );
    return machine;
  }
}

/** A Task calling one step function by ARN with `{ jobId, ...extra }`, with the standard Retry. */
function invoke(
  scope: Construct,
  stateName: string,
  fn: GatewayFunction,
  resultPath: string,
  extra: Record<string, unknown> = {},
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, stateName, {
    lambdaFunction: fn.fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    payload: sfn.TaskInput.fromObject({ jobId: sfn.JsonPath.stringAt('$.jobId'), ...extra }),
    resultPath,
  });
  task.addRetry(RETRY);
  return task;
}

function wait(scope: Construct, stateName: keyof typeof WAIT_SECONDS): sfn.Wait {
  return new sfn.Wait(scope, stateName, {
    time: sfn.WaitTime.duration(Duration.seconds(WAIT_SECONDS[stateName])),
  });
}
