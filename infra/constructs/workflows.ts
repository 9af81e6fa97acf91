import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { StepFunctionName } from './functions';
import type { GatewayFunction } from './gateway-function';
import { acknowledgeWildcard, fixLogicalId, getAttFinding } from './nag';
import { RETRY, awaitTaskToken, failurePath, invoke, rangeMap, wait } from './workflow-tasks';
import {
  CANCEL_STATE_MACHINE_NAME,
  OFFLOAD_STATE_MACHINE_NAME,
  RETURN_STATE_MACHINE_NAME,
  TIMER_STATE_MACHINE_NAME,
  WEBHOOK_STATE_MACHINE_NAME,
} from './names';

/** Parallel upload Lambdas of one Azure offload (the Map state's MaxConcurrency) unless configured. */
export const DEFAULT_AZURE_UPLOAD_CONCURRENCY = 8;

/** Parallel PutBlocks Lambdas of one AWS direct offload (the Map state's MaxConcurrency) unless configured. */
export const DEFAULT_EBS_UPLOAD_CONCURRENCY = 8;

export interface WorkflowsProps {
  readonly steps: Record<StepFunctionName, GatewayFunction>;
  /** MaxConcurrency of the Azure upload Map state (default DEFAULT_AZURE_UPLOAD_CONCURRENCY). */
  readonly azureUploadConcurrency?: number;
  /** MaxConcurrency of the AWS direct PutBlocks Map state (default DEFAULT_EBS_UPLOAD_CONCURRENCY). */
  readonly ebsUploadConcurrency?: number;
}

/** The execution input carries the job's cloud (`{ jobId, target: { cloud } }`); older inputs have none: AWS. */
const targetsAzure = sfn.Condition.and(
  sfn.Condition.isPresent('$.target.cloud'),
  sfn.Condition.stringEquals('$.target.cloud', 'azure'),
);

/** An AWS job whose disk went by the EBS direct APIs comes back as changed blocks (absent mode: import). */
const directMode = sfn.Condition.and(
  sfn.Condition.isPresent('$.target.mode'),
  sfn.Condition.stringEquals('$.target.mode', 'direct'),
);

/**
 * The offload and return workflows: STANDARD state machines in JSONPath (no JSONata, so
 * aws-local-stepfunctions can run the same definitions). Every Task invokes its function by ARN
 * (`payloadResponseOnly`), passes `{ jobId }` (plus a few fixed fields), retries transient errors,
 * and on any other error hands over to the compensation step.
 */
export class Workflows extends Construct {
  readonly offload: sfn.StateMachine;
  readonly return: sfn.StateMachine;
  readonly timer: sfn.StateMachine;
  readonly webhook: sfn.StateMachine;
  readonly cancel: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    this.offload = this.buildOffload(
      props.steps,
      props.azureUploadConcurrency ?? DEFAULT_AZURE_UPLOAD_CONCURRENCY,
      props.ebsUploadConcurrency ?? DEFAULT_EBS_UPLOAD_CONCURRENCY,
    );
    this.return = this.buildReturn(props.steps);
    this.timer = this.buildTimer(props.steps);
    this.webhook = this.buildWebhook(props.steps);
    this.cancel = this.buildCancel(props.steps);
  }

  /**
   * The cancel workflow (shared/domain/cancel.ts starts one execution per attempt): CancelJob
   * removes what the job created and marks it cancelled. What the cloud would not remove yet (a
   * snapshot still in use by an AMI being deregistered, a resource a stopped step recorded meanwhile)
   * is tried again for about ten minutes; then CancelFailed records on the job what is left.
   */
  private buildCancel(steps: Record<StepFunctionName, GatewayFunction>): sfn.StateMachine {
    const scope = new Construct(this, 'CancelStates');
    const { guarded } = failurePath(scope, 'CancelFailed', steps.cancelFailed, {
      stateName: 'CancelIncomplete',
      error: 'CancelIncomplete',
      cause:
        'The cancel could not remove everything the job created (see the job record); DELETE again to retry.',
    });
    const remove = invoke(scope, 'CancelJob', steps.cancelJob, '$.cancelled');
    remove.addRetry({
      errors: ['CleanupIncomplete'],
      interval: Duration.seconds(20),
      maxAttempts: 5,
      backoffRate: 2,
      jitterStrategy: sfn.JitterType.FULL,
    });
    guarded(remove).next(new sfn.Succeed(scope, 'Cancelled'));
    return this.stateMachine('Cancel', CANCEL_STATE_MACHINE_NAME, remove, [
      steps.cancelJob,
      steps.cancelFailed,
    ]);
  }

  /**
   * The webhook delivery workflow (shared/domain/webhooks/): one execution per delivery, named
   * after it. DeliverWebhook makes one attempt and answers whether to stop or how long to wait; the
   * Wait state holds the retry schedule (5 s … 10 h), so no function runs while a receiver is down.
   */
  private buildWebhook(steps: Record<StepFunctionName, GatewayFunction>): sfn.StateMachine {
    const scope = new Construct(this, 'WebhookStates');
    const deliver = new tasks.LambdaInvoke(scope, 'DeliverWebhook', {
      lambdaFunction: steps.deliverWebhook.fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        subject: sfn.JsonPath.objectAt('$.subject'),
        deliveryId: sfn.JsonPath.stringAt('$.deliveryId'),
      }),
      resultPath: '$.next',
    });
    deliver.addRetry(RETRY);
    const wait = new sfn.Wait(scope, 'UntilNextAttempt', {
      time: sfn.WaitTime.secondsPath('$.next.waitSeconds'),
    });
    wait.next(deliver);
    deliver.next(
      new sfn.Choice(scope, 'Delivered?')
        .when(sfn.Condition.booleanEquals('$.next.done', true), new sfn.Succeed(scope, 'Done'))
        .otherwise(wait),
    );
    return this.stateMachine('Webhook', WEBHOOK_STATE_MACHINE_NAME, deliver, [steps.deliverWebhook]);
  }

  /**
   * The timer workflow: EventBridge Scheduler starts it when one of the gateway's one-time timers
   * comes due (shared/timers/job-timers.ts); its one step carries the timer out. No Wait state
   * and no polling: the waiting is Scheduler's.
   */
  private buildTimer(steps: Record<StepFunctionName, GatewayFunction>): sfn.StateMachine {
    const scope = new Construct(this, 'TimerStates');
    // A job's timer carries a jobId, a schedule's a scheduleId: the step gets the payload as set
    // (no Parameters: the state's input is the payload), checked against its schema (step-inputs.ts).
    const fire = new tasks.LambdaInvoke(scope, 'FireTimer', {
      lambdaFunction: steps.fireTimer.fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.fired',
    });
    fire.addRetry(RETRY);
    fire.next(new sfn.Succeed(scope, 'Fired'));
    return this.stateMachine('Timer', TIMER_STATE_MACHINE_NAME, fire, [steps.fireTimer]);
  }

  private buildOffload(
    steps: Record<StepFunctionName, GatewayFunction>,
    azureUploadConcurrency: number,
    ebsUploadConcurrency: number,
  ): sfn.StateMachine {
    const scope = new Construct(this, 'OffloadStates');

    const { guarded } = failurePath(scope, 'Compensate', steps.compensate, {
      stateName: 'OffloadFailed',
      error: 'OffloadFailed',
      cause: 'The offload failed; compensation removed what the job had created (see the job record).',
    });

    const awaitUpload = guarded(
      awaitTaskToken(scope, 'AwaitUpload', steps.awaitUpload, '$.upload', Duration.days(1)),
    );
    // A held or timed launch (`$.launch` in the input) waits here once the image is staged. The
    // lease ends the wait long before the timeout (a lease is at most 366 days).
    const awaitLaunch = (id: string) =>
      awaitTaskToken(scope, id, steps.awaitLaunch, '$.launched', Duration.days(367));
    const launchWaits = sfn.Condition.isPresent('$.launch');

    const inspect = guarded(invoke(scope, 'Inspect', steps.inspect, '$.inspect'));
    const startImport = guarded(invoke(scope, 'StartImport', steps.startImport, '$.import'));
    const waitForImport = wait(scope, 'WaitForImport');
    const checkImport = guarded(invoke(scope, 'CheckImport', steps.checkImport, '$.importStatus'));
    const importDone = new sfn.Choice(scope, 'ImportDone');
    const launchInstance = guarded(invoke(scope, 'LaunchInstance', steps.launchInstance, '$.instance'));
    const awsAwaitLaunch = guarded(awaitLaunch('AwaitLaunch'));
    const launchGate = new sfn.Choice(scope, 'LaunchWhen')
      .when(launchWaits, awsAwaitLaunch)
      .otherwise(launchInstance);
    awsAwaitLaunch.next(launchInstance);
    const waitForInstance = wait(scope, 'WaitForInstance');
    const checkInstance = guarded(
      invoke(scope, 'CheckInstance', steps.checkInstance, '$.instanceStatus', { desired: 'running' }),
    );
    const instanceRunning = new sfn.Choice(scope, 'InstanceRunning');
    const markRunning = guarded(invoke(scope, 'MarkRunning', steps.markRunning, sfn.JsonPath.DISCARD));

    // ---- Azure: upload the disk in parallel ranges, base snapshot, NIC and VM
    const { guarded: azureGuarded } = failurePath(scope, 'AzureCompensate', steps.azureCompensate, {
      stateName: 'AzureOffloadFailed',
      error: 'OffloadFailed',
      cause: 'The Azure offload failed; compensation removed what the job had created (see the job record).',
    });
    const prepareUpload = azureGuarded(
      invoke(scope, 'AzurePrepareUpload', steps.azurePrepareUpload, '$.azureUpload'),
    );
    // One Lambda per range of the fixed VHD; each asks for its own write SAS (no secret in the state).
    const uploadRanges = azureGuarded(
      rangeMap(scope, 'AzureUploadRanges', {
        itemsPath: '$.azureUpload.ranges',
        maxConcurrency: azureUploadConcurrency,
        resultPath: '$.azureUploaded',
        itemState: 'AzureUploadRange',
        fn: steps.azureUploadRange,
      }),
    );
    const finishUpload = azureGuarded(
      invoke(scope, 'AzureFinishUpload', steps.azureFinishUpload, '$.azureFinished', {
        uploaded: sfn.JsonPath.listAt('$.azureUploaded'),
      }),
    );
    const createVm = azureGuarded(invoke(scope, 'AzureCreateVm', steps.azureCreateVm, '$.azureVm'));
    const azureAwaitLaunch = azureGuarded(awaitLaunch('AzureAwaitLaunch'));
    const azureLaunchGate = new sfn.Choice(scope, 'AzureLaunchWhen')
      .when(launchWaits, azureAwaitLaunch)
      .otherwise(createVm);
    azureAwaitLaunch.next(createVm);
    const waitForAzureVm = wait(scope, 'WaitForAzureVm');
    const checkAzureVm = azureGuarded(
      invoke(scope, 'AzureCheckVm', steps.azureCheckVm, '$.vmStatus', { desired: 'running' }),
    );
    const azureVmRunning = new sfn.Choice(scope, 'AzureVmRunning');
    const azureMarkRunning = azureGuarded(
      invoke(scope, 'AzureMarkRunning', steps.markRunning, sfn.JsonPath.DISCARD),
    );
    const running = new sfn.Succeed(scope, 'Running');

    // ---- AWS direct: the disk's blocks into an EBS snapshot (Map of ranges), an AMI from it, then
    // the same launch as after VM Import. An identical cached image goes straight to RegisterImage.
    const prepareSnapshot = guarded(
      invoke(scope, 'AwsPrepareSnapshot', steps.awsPrepareSnapshot, '$.ebsUpload'),
    );
    const uploadNeeded = new sfn.Choice(scope, 'EbsUploadNeeded');
    const putBlocks = guarded(
      rangeMap(scope, 'AwsPutBlocks', {
        itemsPath: '$.ebsUpload.ranges',
        maxConcurrency: ebsUploadConcurrency,
        resultPath: '$.ebsUploaded',
        itemState: 'AwsPutRangeBlocks',
        fn: steps.awsPutBlocks,
      }),
    );
    const finishSnapshot = guarded(
      invoke(scope, 'AwsFinishSnapshot', steps.awsFinishSnapshot, '$.ebsFinished', {
        uploaded: sfn.JsonPath.listAt('$.ebsUploaded'),
      }),
    );
    const waitForSnapshot = wait(scope, 'WaitForSnapshot');
    const checkSnapshot = guarded(
      invoke(scope, 'AwsCheckSnapshot', steps.awsCheckSnapshot, '$.snapshotStatus'),
    );
    const snapshotDone = new sfn.Choice(scope, 'SnapshotCompleted');
    const registerImage = guarded(invoke(scope, 'AwsRegisterImage', steps.awsRegisterImage, '$.image'));
    prepareSnapshot.next(uploadNeeded);
    uploadNeeded
      .when(sfn.Condition.booleanEquals('$.ebsUpload.upload', true), putBlocks)
      .otherwise(registerImage);
    putBlocks.next(finishSnapshot);
    finishSnapshot.next(waitForSnapshot);
    waitForSnapshot.next(checkSnapshot);
    checkSnapshot.next(snapshotDone);
    snapshotDone
      .when(sfn.Condition.booleanEquals('$.snapshotStatus.done', true), registerImage)
      .otherwise(waitForSnapshot);
    registerImage.next(launchGate);

    // Inspect resolves the AWS mode (the request's, or the guest's: shared/domain/aws-mode.ts).
    const offloadCloud = new sfn.Choice(scope, 'OffloadCloud')
      .when(targetsAzure, prepareUpload)
      .when(
        sfn.Condition.and(
          sfn.Condition.isPresent('$.inspect.mode'),
          sfn.Condition.stringEquals('$.inspect.mode', 'direct'),
        ),
        prepareSnapshot,
      )
      .otherwise(startImport);
    prepareUpload.next(uploadRanges);
    uploadRanges.next(finishUpload);
    finishUpload.next(azureLaunchGate);
    createVm.next(waitForAzureVm);
    waitForAzureVm.next(checkAzureVm);
    checkAzureVm.next(azureVmRunning);
    azureVmRunning
      .when(sfn.Condition.booleanEquals('$.vmStatus.done', true), azureMarkRunning)
      .otherwise(waitForAzureVm);
    azureMarkRunning.next(running);

    awaitUpload.next(inspect);
    inspect.next(offloadCloud);
    startImport.next(waitForImport);
    waitForImport.next(checkImport);
    checkImport.next(importDone);
    importDone
      .when(sfn.Condition.booleanEquals('$.importStatus.done', true), launchGate)
      .otherwise(waitForImport);
    launchInstance.next(waitForInstance);
    waitForInstance.next(checkInstance);
    checkInstance.next(instanceRunning);
    instanceRunning
      .when(sfn.Condition.booleanEquals('$.instanceStatus.done', true), markRunning)
      .otherwise(waitForInstance);
    markRunning.next(running);

    return this.stateMachine('Offload', OFFLOAD_STATE_MACHINE_NAME, awaitUpload, [
      steps.awaitUpload,
      steps.awaitLaunch,
      steps.inspect,
      steps.startImport,
      steps.checkImport,
      steps.launchInstance,
      steps.checkInstance,
      steps.markRunning,
      steps.compensate,
      steps.azurePrepareUpload,
      steps.azureUploadRange,
      steps.azureFinishUpload,
      steps.azureCreateVm,
      steps.azureCheckVm,
      steps.azureCompensate,
      steps.awsPrepareSnapshot,
      steps.awsPutBlocks,
      steps.awsFinishSnapshot,
      steps.awsCheckSnapshot,
      steps.awsRegisterImage,
    ]);
  }

  private buildReturn(steps: Record<StepFunctionName, GatewayFunction>): sfn.StateMachine {
    const scope = new Construct(this, 'ReturnStates');

    const { guarded } = failurePath(scope, 'ReturnFailed', steps.returnFailed, {
      stateName: 'ReturnFailedState',
      error: 'ReturnFailed',
      cause: 'The return failed; the instance and its disk were kept (see the job record).',
    });

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
    // Stopped: a direct-mode job is read back as changed blocks, an imported one is exported.
    const returnMode = new sfn.Choice(scope, 'ReturnMode');
    instanceStopped
      .when(sfn.Condition.booleanEquals('$.instanceStatus.done', true), returnMode)
      .otherwise(waitForStop);
    startExport.next(waitForExport);
    waitForExport.next(checkExport);
    checkExport.next(exportDone);
    exportDone
      .when(sfn.Condition.booleanEquals('$.exportStatus.done', true), publishImage)
      .otherwise(waitForExport);
    const returned = new sfn.Succeed(scope, 'Returned');
    publishImage.next(cleanup);
    cleanup.next(returned);

    // ---- AWS direct mode: snapshot the root volume, publish the changed EBS blocks as a delta
    const snapshotForReturn = guarded(
      invoke(scope, 'AwsSnapshotForReturn', steps.awsSnapshotForReturn, '$.snapshot'),
    );
    const waitForReturnSnapshot = wait(scope, 'WaitForReturnSnapshot');
    const checkReturnSnapshot = guarded(
      invoke(scope, 'AwsCheckReturnSnapshot', steps.awsCheckReturnSnapshot, '$.snapshotStatus'),
    );
    const returnSnapshotDone = new sfn.Choice(scope, 'ReturnSnapshotDone');
    const publishChangedBlocks = guarded(
      invoke(scope, 'AwsPublishChangedBlocks', steps.awsPublishChangedBlocks, '$.publish'),
    );
    returnMode.when(directMode, snapshotForReturn).otherwise(startExport);
    snapshotForReturn.next(waitForReturnSnapshot);
    waitForReturnSnapshot.next(checkReturnSnapshot);
    checkReturnSnapshot.next(returnSnapshotDone);
    returnSnapshotDone
      .when(sfn.Condition.booleanEquals('$.snapshotStatus.done', true), publishChangedBlocks)
      .otherwise(waitForReturnSnapshot);
    publishChangedBlocks.next(cleanup);

    // ---- Azure: deallocate, snapshot, publish the changed pages as a delta, clean up
    const deallocate = guarded(invoke(scope, 'AzureDeallocate', steps.azureDeallocate, '$.stop'));
    const waitForAzureStop = wait(scope, 'WaitForAzureStop');
    const checkDeallocated = guarded(
      invoke(scope, 'AzureCheckDeallocated', steps.azureCheckVm, '$.vmStatus', { desired: 'deallocated' }),
    );
    const azureVmDeallocated = new sfn.Choice(scope, 'AzureVmDeallocated');
    const snapshot = guarded(invoke(scope, 'AzureSnapshotForReturn', steps.azureSnapshot, '$.snapshot'));
    const publishDelta = guarded(invoke(scope, 'AzurePublishDelta', steps.azurePublishDelta, '$.publish'));
    const azureCleanup = guarded(invoke(scope, 'AzureCleanup', steps.azureCleanup, '$.cleanup'));
    deallocate.next(waitForAzureStop);
    waitForAzureStop.next(checkDeallocated);
    checkDeallocated.next(azureVmDeallocated);
    azureVmDeallocated
      .when(sfn.Condition.booleanEquals('$.vmStatus.done', true), snapshot)
      .otherwise(waitForAzureStop);
    snapshot.next(publishDelta);
    publishDelta.next(azureCleanup);
    azureCleanup.next(returned);

    const returnCloud = new sfn.Choice(scope, 'ReturnCloud')
      .when(targetsAzure, deallocate)
      .otherwise(stopInstance);

    return this.stateMachine('Return', RETURN_STATE_MACHINE_NAME, returnCloud, [
      steps.azureDeallocate,
      steps.azureCheckVm,
      steps.azureSnapshot,
      steps.azurePublishDelta,
      steps.azureCleanup,
      steps.stopInstance,
      steps.checkInstance,
      steps.startExport,
      steps.checkExport,
      steps.publishImage,
      steps.awsSnapshotForReturn,
      steps.awsCheckReturnSnapshot,
      steps.awsPublishChangedBlocks,
      steps.cleanup,
      steps.returnFailed,
    ]);
  }

  private stateMachine(
    id: 'Offload' | 'Return' | 'Timer' | 'Webhook' | 'Cancel',
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
