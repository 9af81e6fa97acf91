import { Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { GatewayFunction } from './gateway-function';
import { acknowledge } from './nag';
import { ENV_NAMES, SERVICE_NAME } from './names';
import type { AwsLaunchLimits } from '../../shared/domain/target-limits';

interface FunctionSpec {
  /** Entry module relative to the project root. */
  readonly entry: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
}

const API_MEMORY = 256;
const API_TIMEOUT = Duration.seconds(29); // the HTTP API integration timeout
const STEP_MEMORY = 256;
const STREAMING_STEP_MEMORY = 1024; // steps that stream whole images through the function
const STEP_TIMEOUT = Duration.seconds(60);
const STREAMING_STEP_TIMEOUT = Duration.minutes(15);

function api(name: string, description: string, timeout = API_TIMEOUT): FunctionSpec {
  return { entry: `lambdas/api/${name}.ts`, description, memorySize: API_MEMORY, timeout };
}
function step(name: string, description: string, streaming = false): FunctionSpec {
  return {
    entry: `lambdas/steps/${name}.ts`,
    description,
    memorySize: streaming ? STREAMING_STEP_MEMORY : STEP_MEMORY,
    timeout: streaming ? STREAMING_STEP_TIMEOUT : STEP_TIMEOUT,
  };
}
/** Steps that wait for Azure long-running operations (revoke, snapshot): little memory, more time. */
function waitingStep(name: string, description: string): FunctionSpec {
  return {
    entry: `lambdas/steps/${name}.ts`,
    description,
    memorySize: STEP_MEMORY,
    timeout: Duration.minutes(10),
  };
}

/** HTTP handlers (lambdas/api). */
export const API_FUNCTIONS = {
  // API Gateway gives a Lambda authorizer at most 10 s; a longer function timeout buys nothing.
  authorizer: api('authorizer', 'HTTP API Lambda authorizer: hashed API key lookup', Duration.seconds(10)),
  createOffload: api('create-offload', 'POST /offloads'),
  completeUpload: api('complete-upload', 'POST /offloads/{id}/upload-complete'),
  getOffload: api('get-offload', 'GET /offloads/{id}'),
  listOffloads: api('list-offloads', 'GET /offloads'),
  startReturn: api('start-return', 'POST /offloads/{id}/return'),
  cancelOffload: api('cancel-offload', 'DELETE /offloads/{id}'),
  updateOffload: api('update-offload', 'PATCH /offloads/{id} (the lease)'),
  launchOffload: api('launch-offload', 'POST /offloads/{id}/launch (a held or timed launch)'),
  getImageCache: api('get-image-cache', 'GET /image-cache/{region}/{vmName}'),
  createSchedule: api('create-schedule', 'POST /schedules (burst windows)'),
  listSchedules: api('list-schedules', 'GET /schedules'),
  getSchedule: api('get-schedule', 'GET /schedules/{id}'),
  updateSchedule: api('update-schedule', 'PATCH /schedules/{id} (pause, resume, change)'),
  deleteSchedule: api('delete-schedule', 'DELETE /schedules/{id}'),
  previewSchedule: api('preview-schedule', 'GET /schedules/preview (the next windows of a cron)'),
  prestageSchedule: api('prestage-schedule', "POST /schedules/{id}/prestage (an upload VM's window job)"),
  listDeliveries: api('list-deliveries', "GET /offloads/{id}/deliveries (the job's webhook deliveries)"),
  createWebhook: api('create-webhook', 'POST /webhooks'),
  listWebhooks: api('list-webhooks', 'GET /webhooks'),
  deleteWebhook: api('delete-webhook', 'DELETE /webhooks/{id}'),
  rotateWebhookSecret: api('rotate-webhook-secret', 'POST /webhooks/{id}/rotate-secret'),
  listWebhookDeliveries: api('list-webhook-deliveries', 'GET /webhooks/{id}/deliveries'),
  replayWebhookDelivery: api('replay-webhook-delivery', 'POST /webhooks/{id}/deliveries/{deliveryId}/replay'),
  putBudget: api('put-budget', "PUT /budgets/{tenant} (a tenant's monthly budget, admin)"),
  getBudget: api('get-budget', "GET /budgets/{tenant} (a tenant's budget and committed estimates)"),
  getOwnBudget: api('get-own-budget', "GET /budget (the caller's budget)"),
  createQuote: api('create-quote', 'POST /quotes (right-sized, priced options across clouds)'),
  getOpenApi: api('get-openapi', 'GET /openapi.json (the OpenAPI 3.1 document)'),
} as const satisfies Record<string, FunctionSpec>;

/** Step Functions task handlers (lambdas/steps). */
export const STEP_FUNCTIONS = {
  awaitUpload: step('await-upload', 'Offload: store the upload task token, wait for the client'),
  awaitLaunch: step('await-launch', 'Offload: staged; store the launch task token, wait for the launch'),
  inspect: step('inspect', 'Offload: read and verify the uploaded image', true),
  startImport: step('start-import', 'Offload: start the VM Import task'),
  checkImport: step('check-import', 'Offload: poll the VM Import task'),
  launchInstance: step('launch-instance', 'Offload: launch the instance from the imported AMI'),
  checkInstance: step('check-instance', 'Offload/return: poll the instance state'),
  markRunning: step('mark-running', 'Offload: mark the job running'),
  deliverWebhook: step('deliver-webhook', 'Webhook: one signed delivery attempt (15 s at most)'),
  compensate: step('compensate', 'Offload failed: remove everything the job created'),
  stopInstance: step('stop-instance', 'Return: stop the instance'),
  startExport: step('start-export', 'Return: start the instance export task'),
  checkExport: step('check-export', 'Return: poll the export task'),
  publishImage: step('publish-image', 'Return: publish the exported image under returns/', true),
  cleanup: step('cleanup', 'Return: remove the cloud resources of the job'),
  returnFailed: step('return-failed', 'Return failed: record it, keep the instance and its disk'),
  azurePrepareUpload: waitingStep(
    'azure-prepare-upload',
    'Offload (Azure): managed disk for upload, range plan',
  ),
  azureUploadRange: step('azure-upload-range', 'Offload (Azure): page writes of one range (Map item)', true),
  azureFinishUpload: waitingStep('azure-finish-upload', 'Offload (Azure): end the upload, base snapshot'),
  azureCreateVm: waitingStep('azure-create-vm', 'Offload (Azure): network interface and VM'),
  azureCheckVm: step('azure-check-vm', 'Offload/return (Azure): poll the VM power state'),
  azureCompensate: waitingStep(
    'azure-compensate',
    'Offload (Azure) failed: remove everything the job created',
  ),
  azureDeallocate: step('azure-deallocate', 'Return (Azure): deallocate the VM'),
  azureSnapshot: waitingStep('azure-snapshot', 'Return (Azure): incremental snapshot of the OS disk'),
  azurePublishDelta: step(
    'azure-publish-delta',
    'Return (Azure): publish the changed pages as a delta',
    true,
  ),
  azureCleanup: waitingStep('azure-cleanup', 'Return (Azure): remove the cloud resources of the job'),
  awsSnapshotForReturn: step(
    'aws-snapshot-for-return',
    'Return (AWS direct): snapshot of the stopped instance root volume',
  ),
  awsCheckReturnSnapshot: step('aws-check-return-snapshot', 'Return (AWS direct): poll the return snapshot'),
  awsPublishChangedBlocks: step(
    'aws-publish-changed-blocks',
    'Return (AWS direct): publish the changed EBS blocks as a delta',
    true,
  ),
  // AWS direct offload: the staged disk's blocks into an EBS snapshot, an AMI from it.
  awsPrepareSnapshot: step(
    'aws-prepare-snapshot',
    'Offload (AWS direct): image cache, StartSnapshot, range plan',
    true,
  ),
  awsPutBlocks: step('aws-put-blocks', 'Offload (AWS direct): snapshot blocks of one range (Map item)', true),
  awsFinishSnapshot: step(
    'aws-finish-snapshot',
    'Offload (AWS direct): block manifest, CompleteSnapshot',
    true,
  ),
  awsCheckSnapshot: step('aws-check-snapshot', 'Offload (AWS direct): poll the snapshot until completed'),
  awsRegisterImage: step('aws-register-image', 'Offload (AWS direct): register the AMI from the snapshot'),
  fireTimer: step('fire-timer', 'Timer: a lease warning, or the return (or cancel) a lease starts'),
  // Cancel: removing a job's resources waits for the clouds (an Azure VM's delete takes minutes).
  cancelJob: waitingStep('cancel-job', 'Cancel: remove everything the job created'),
  cancelFailed: step('cancel-failed', 'Cancel failed: record what is left (a DELETE retries)'),
} as const satisfies Record<string, FunctionSpec>;

/**
 * The functions that call Azure: only these get the service principal's secret (ARN and read
 * access). The workflow steps below, and one API function (AZURE_CREDENTIAL_API): the API
 * otherwise only starts workflows (a cancel too).
 */
export const AZURE_CREDENTIAL_STEPS = [
  'azurePrepareUpload',
  'azureUploadRange',
  'azureFinishUpload',
  'azureCreateVm',
  'azureCheckVm',
  'azureCompensate',
  'azureDeallocate',
  'azureSnapshot',
  'azurePublishDelta',
  'azureCleanup',
  // The cancel workflow removes whatever the job created, in Azure too.
  'cancelJob',
] as const satisfies ReadonlyArray<keyof typeof STEP_FUNCTIONS>;

/** The API functions that call Azure: quotes list a location's VM sizes (Resource SKUs). */
export const AZURE_CREDENTIAL_API = ['createQuote'] as const satisfies ReadonlyArray<
  keyof typeof API_FUNCTIONS
>;

export type ApiFunctionName = keyof typeof API_FUNCTIONS;
export type StepFunctionName = keyof typeof STEP_FUNCTIONS;

export interface GatewayFunctionsProps {
  readonly projectRoot: string;
  readonly jobsTableName: string;
  readonly stagingBucketName: string;
  readonly offloadStateMachineArn: string;
  readonly returnStateMachineArn: string;
  /** The webhook delivery workflow every writer starts for an event with a callback (ARN from its name). */
  readonly webhookStateMachineArn: string;
  /** The cancel workflow a DELETE, a lease or a schedule starts (ARN from its name). */
  readonly cancelStateMachineArn: string;
  readonly eventBusName: string;
  readonly vmImportRoleName: string;
  readonly azure: {
    /** Resource group of jobs whose target names none (every function: the API resolves it). */
    readonly defaultResourceGroup: string;
    /** The secret holding the service principal (only the functions that call Azure get it). */
    readonly credentialsSecretArn: string;
    /** Optional subnet (ARM id) for the VMs' NICs. */
    readonly subnetId?: string;
    /** Bytes per upload range (Map item). */
    readonly uploadChunkBytes: number;
  };
  /** AWS direct: disk bytes per PutBlocks range (Map item); absent: the functions' default (1 GiB). */
  readonly ebsUploadChunkBytes?: number;
  /** The launch allow-lists of CDK context (absent: the defaults the functions know). */
  readonly awsLaunchLimits?: Partial<AwsLaunchLimits>;
  /** The timers: Scheduler's group, the role it assumes, the timer state machine (ARN built from its name). */
  readonly timers: { groupName: string; roleArn: string; stateMachineArn: string };
}

/** `create-offload` → `CreateOffload`. */
function pascal(name: string): string {
  return name.replace(/(^|[-_])([a-z0-9])/g, (_m, _sep: string, c: string) => c.toUpperCase());
}

/**
 * All Lambda functions, one per entry file. Logical ids are fixed: `FnApi<Name>` and
 * `FnSteps<Name>` (e.g. `FnApiCreateOffload`, `FnStepsStartImport`), each with role `<id>Role`.
 * Permissions are granted separately (see `permissions.ts`).
 */
export class GatewayFunctions extends Construct {
  readonly api: Record<ApiFunctionName, GatewayFunction>;
  readonly steps: Record<StepFunctionName, GatewayFunction>;

  constructor(scope: Construct, id: string, props: GatewayFunctionsProps) {
    super(scope, id);
    const environment: Record<string, string> = {
      [ENV_NAMES.jobsTable]: props.jobsTableName,
      [ENV_NAMES.stagingBucket]: props.stagingBucketName,
      [ENV_NAMES.offloadStateMachineArn]: props.offloadStateMachineArn,
      [ENV_NAMES.returnStateMachineArn]: props.returnStateMachineArn,
      [ENV_NAMES.webhookStateMachineArn]: props.webhookStateMachineArn,
      [ENV_NAMES.cancelStateMachineArn]: props.cancelStateMachineArn,
      [ENV_NAMES.eventBusName]: props.eventBusName,
      [ENV_NAMES.vmImportRoleName]: props.vmImportRoleName,
      [ENV_NAMES.azureResourceGroup]: props.azure.defaultResourceGroup,
      [ENV_NAMES.azureUploadChunkBytes]: String(props.azure.uploadChunkBytes),
      ...(props.azure.subnetId ? { [ENV_NAMES.azureSubnetId]: props.azure.subnetId } : {}),
      ...(props.ebsUploadChunkBytes !== undefined
        ? { [ENV_NAMES.ebsUploadChunkBytes]: String(props.ebsUploadChunkBytes) }
        : {}),
      ...(props.awsLaunchLimits?.awsRegions
        ? { [ENV_NAMES.stackAwsRegions]: props.awsLaunchLimits.awsRegions.join(',') }
        : {}),
      ...(props.awsLaunchLimits?.instanceTypes
        ? { [ENV_NAMES.stackInstanceTypes]: props.awsLaunchLimits.instanceTypes.join(',') }
        : {}),
      [ENV_NAMES.scheduleGroupName]: props.timers.groupName,
      [ENV_NAMES.schedulerRoleArn]: props.timers.roleArn,
      [ENV_NAMES.timerStateMachineArn]: props.timers.stateMachineArn,
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      NODE_OPTIONS: '--enable-source-maps',
    };

    const build = <K extends string>(
      group: 'Api' | 'Steps',
      specs: Record<K, FunctionSpec>,
      azureUsers: readonly string[],
    ) => {
      const parent = new Construct(this, group);
      const out = {} as Record<K, GatewayFunction>;
      for (const key of Object.keys(specs) as K[]) {
        const spec = specs[key];
        const name = pascal(spec.entry.replace(/^.*\//, '').replace(/\.ts$/, ''));
        out[key] = new GatewayFunction(parent, name, {
          projectRoot: props.projectRoot,
          entry: spec.entry,
          logicalId: `Fn${group}${name}`,
          description: `burstgate: ${spec.description}`,
          memorySize: spec.memorySize,
          timeout: spec.timeout,
          environment: azureUsers.includes(key)
            ? { ...environment, [ENV_NAMES.azureCredentialsSecretArn]: props.azure.credentialsSecretArn }
            : environment,
        });
      }
      return out;
    };
    this.api = build('Api', API_FUNCTIONS, AZURE_CREDENTIAL_API);
    this.steps = build('Steps', STEP_FUNCTIONS, AZURE_CREDENTIAL_STEPS);

    acknowledge(
      this,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime the project targets and tests (esbuild target node22, Node 20/22 toolchain); moving to Node.js 24 is a deliberate upgrade, not a side effect of a CDK release.',
    );
  }

  /** Every function, API first. */
  all(): GatewayFunction[] {
    return [...Object.values<GatewayFunction>(this.api), ...Object.values<GatewayFunction>(this.steps)];
  }
}
