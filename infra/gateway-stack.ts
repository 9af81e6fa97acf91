import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { GatewayApi } from './constructs/api';
import { GatewayEvents } from './constructs/events';
import { GatewayFunctions } from './constructs/functions';
import {
  OFFLOAD_STATE_MACHINE_NAME,
  RETURN_STATE_MACHINE_NAME,
  SCHEDULE_GROUP_NAME,
  TIMER_STATE_MACHINE_NAME,
  WEBHOOK_STATE_MACHINE_NAME,
  CANCEL_STATE_MACHINE_NAME,
  VMIMPORT_ROLE_NAME,
} from './constructs/names';
import { grantGatewayPermissions } from './constructs/permissions';
import { grantPriceListRead, grantQuotePermissions } from './constructs/quote-permissions';
import { Storage } from './constructs/storage';
import { GatewayTimers } from './constructs/timers';
import { VmImportRole } from './constructs/vm-import-role';
import {
  DEFAULT_TARGET_LIMITS,
  parseAwsLaunchList,
  type AwsLaunchLimits,
} from '../shared/domain/target-limits';
import { DEFAULT_AZURE_UPLOAD_CONCURRENCY, Workflows } from './constructs/workflows';

/** CDK context keys of the Azure side (`cdk deploy -c burstgate:azureResourceGroup=...`). */
export const AZURE_CONTEXT = {
  /** ARN of the Secrets Manager secret with the service principal; without it, a stack parameter asks for it. */
  credentialsSecretArn: 'burstgate:azureCredentialsSecretArn',
  resourceGroup: 'burstgate:azureResourceGroup',
  subnetId: 'burstgate:azureSubnetId',
  uploadChunkBytes: 'burstgate:azureUploadChunkBytes',
  uploadConcurrency: 'burstgate:azureUploadConcurrency',
} as const;
/** CDK context keys of the AWS direct offload (`cdk deploy -c burstgate:ebsUploadChunkBytes=...`). */
export const AWS_DIRECT_CONTEXT = {
  /** Disk bytes per PutBlocks Lambda, a multiple of 512 KiB (default 1 GiB). */
  uploadChunkBytes: 'burstgate:ebsUploadChunkBytes',
  /** MaxConcurrency of the PutBlocks Map state (default 8). */
  uploadConcurrency: 'burstgate:ebsUploadConcurrency',
} as const;
/**
 * CDK context keys of the launch allow-lists (`cdk deploy -c burstgate:instanceTypes=m7i.*,p5.*`):
 * each replaces its default list, in RunInstances' IAM conditions and in the request check alike.
 */
export const LAUNCH_CONTEXT = {
  awsRegions: 'burstgate:awsRegions',
  instanceTypes: 'burstgate:instanceTypes',
} as const;
const GiB = 1024 * 1024 * 1024;

/** The project root: one level above infra/. Lambda entries and package-lock.json are found from it. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface GatewayStackProps extends StackProps {
  /** Where `lambdas/` and `package-lock.json` live. Default: the project root. */
  readonly projectRoot?: string;
}

/**
 * burstgate: HTTP API → Lambda → DynamoDB/S3, Step Functions offload/return workflows, an event
 * bus, and the VM Import/Export service role. Environment-agnostic: synthesizes offline with no
 * account or Region, every ARN is built from pseudo parameters.
 */
export class GatewayStack extends Stack {
  readonly storage: Storage;
  readonly events: GatewayEvents;
  readonly vmImport: VmImportRole;
  readonly functions: GatewayFunctions;
  readonly timers: GatewayTimers;
  readonly workflows: Workflows;
  readonly api: GatewayApi;

  constructor(scope: Construct, id: string, props: GatewayStackProps = {}) {
    super(scope, id, {
      description: 'burstgate: serverless multi-cloud VM burst gateway',
      ...props,
    });

    this.storage = new Storage(this, 'Storage');
    this.events = new GatewayEvents(this, 'Events');
    this.vmImport = new VmImportRole(this, 'VmImport', { bucket: this.storage.stagingBucket });

    // The functions need the state machine ARNs and the state machines need the functions: the
    // ARNs are built from the fixed names instead of referenced, which keeps the graph acyclic.
    const stateMachineArn = (name: string) =>
      this.formatArn({
        service: 'states',
        resource: 'stateMachine',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const executionsArn = (name: string) =>
      this.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${name}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    const offloadStateMachineArn = stateMachineArn(OFFLOAD_STATE_MACHINE_NAME);
    const returnStateMachineArn = stateMachineArn(RETURN_STATE_MACHINE_NAME);
    const timerStateMachineArn = stateMachineArn(TIMER_STATE_MACHINE_NAME);
    const webhookStateMachineArn = stateMachineArn(WEBHOOK_STATE_MACHINE_NAME);
    const cancelStateMachineArn = stateMachineArn(CANCEL_STATE_MACHINE_NAME);
    this.timers = new GatewayTimers(this, 'Timers', { timerStateMachineArn });

    const azure = this.azureSettings();
    const direct = this.awsDirectSettings();
    const launchContext = this.awsLaunchLimits();
    this.functions = new GatewayFunctions(this, 'Functions', {
      projectRoot: props.projectRoot ?? PROJECT_ROOT,
      jobsTableName: this.storage.jobsTable.tableName,
      stagingBucketName: this.storage.stagingBucket.bucketName,
      offloadStateMachineArn,
      returnStateMachineArn,
      webhookStateMachineArn,
      cancelStateMachineArn,
      eventBusName: this.events.bus.eventBusName,
      vmImportRoleName: VMIMPORT_ROLE_NAME,
      azure,
      ...(direct.uploadChunkBytes !== undefined ? { ebsUploadChunkBytes: direct.uploadChunkBytes } : {}),
      awsLaunchLimits: launchContext,
      timers: {
        groupName: SCHEDULE_GROUP_NAME,
        roleArn: this.timers.role.roleArn,
        stateMachineArn: timerStateMachineArn,
      },
    });
    // Who arms a lease (creates and replaces timers), and who only clears them.
    const { api, steps } = this.functions;
    for (const fn of [
      api.createOffload,
      api.updateOffload,
      api.launchOffload,
      api.createSchedule,
      api.updateSchedule,
      api.prestageSchedule,
      steps.markRunning,
      steps.fireTimer,
    ]) {
      this.timers.grantSet(fn);
    }
    for (const fn of [
      api.startReturn,
      steps.cancelJob,
      api.deleteSchedule,
      steps.compensate,
      steps.azureCompensate,
      steps.cleanup,
      steps.azureCleanup,
    ]) {
      this.timers.grantClear(fn);
    }

    grantGatewayPermissions({
      functions: this.functions,
      table: this.storage.jobsTable,
      bucket: this.storage.stagingBucket,
      bus: this.events.bus,
      vmImportRole: this.vmImport.role,
      offloadStateMachineArn,
      returnStateMachineArn,
      webhookStateMachineArn,
      cancelStateMachineArn,
      awsLaunchLimits: {
        awsRegions: launchContext.awsRegions ?? DEFAULT_TARGET_LIMITS.awsRegions,
        instanceTypes: launchContext.instanceTypes ?? DEFAULT_TARGET_LIMITS.instanceTypes,
      },
      offloadExecutionsArn: executionsArn(OFFLOAD_STATE_MACHINE_NAME),
      returnExecutionsArn: executionsArn(RETURN_STATE_MACHINE_NAME),
      azureCredentialsSecretArn: azure.credentialsSecretArn,
    });
    grantQuotePermissions(this.functions.api.createQuote, azure.credentialsSecretArn);
    grantPriceListRead(this.functions.api.createOffload);

    this.workflows = new Workflows(this, 'Workflows', {
      steps: this.functions.steps,
      azureUploadConcurrency: azure.uploadConcurrency,
      ...(direct.uploadConcurrency !== undefined ? { ebsUploadConcurrency: direct.uploadConcurrency } : {}),
    });
    this.api = new GatewayApi(this, 'Api', { functions: this.functions.api });

    new CfnOutput(this, 'StagingBucketName', { value: this.storage.stagingBucket.bucketName });
    new CfnOutput(this, 'JobsTableName', { value: this.storage.jobsTable.tableName });
    new CfnOutput(this, 'EventBusName', { value: this.events.bus.eventBusName });
    new CfnOutput(this, 'OffloadStateMachineArn', { value: this.workflows.offload.stateMachineArn });
    new CfnOutput(this, 'ReturnStateMachineArn', { value: this.workflows.return.stateMachineArn });
    new CfnOutput(this, 'TimerStateMachineArn', { value: this.workflows.timer.stateMachineArn });
    new CfnOutput(this, 'CancelStateMachineArn', { value: this.workflows.cancel.stateMachineArn });
  }

  /**
   * The Azure settings from CDK context; the credentials secret's ARN from context or, when absent,
   * from the `AzureCredentialsSecretArn` parameter (so `cdk synth` works offline with neither).
   */
  private azureSettings() {
    const context = (key: string): string | undefined => {
      const v: unknown = this.node.tryGetContext(key);
      return v === undefined || v === null || v === '' ? undefined : String(v);
    };
    const positive = (key: string, fallback: number): number => {
      const raw = context(key);
      const value = raw === undefined ? fallback : Number(raw);
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new Error(`context ${key} must be a positive integer, got ${raw}`);
      }
      return value;
    };
    const credentialsSecretArn =
      context(AZURE_CONTEXT.credentialsSecretArn) ??
      new CfnParameter(this, 'AzureCredentialsSecretArn', {
        type: 'String',
        description:
          'ARN of the Secrets Manager secret holding the Azure service principal as JSON {"tenantId","clientId","clientSecret","subscriptionId"}',
        allowedPattern: '^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$',
        // Only an ARN, but CloudFormation's validation takes a parameter named like this for a secret.
        noEcho: true,
      }).valueAsString;
    const uploadChunkBytes = positive(AZURE_CONTEXT.uploadChunkBytes, GiB);
    if (uploadChunkBytes % (4 * 1024 * 1024) !== 0) {
      throw new Error(
        `context ${AZURE_CONTEXT.uploadChunkBytes} must be a multiple of 4 MiB (Azure's page write)`,
      );
    }
    const subnetId = context(AZURE_CONTEXT.subnetId);
    return {
      credentialsSecretArn,
      defaultResourceGroup: context(AZURE_CONTEXT.resourceGroup) ?? 'burstgate',
      uploadChunkBytes,
      uploadConcurrency: positive(AZURE_CONTEXT.uploadConcurrency, DEFAULT_AZURE_UPLOAD_CONCURRENCY),
      ...(subnetId ? { subnetId } : {}),
    };
  }

  /** The launch allow-lists CDK context sets (each absent: its default). */
  private awsLaunchLimits(): Partial<AwsLaunchLimits> {
    const out: { -readonly [K in keyof AwsLaunchLimits]?: AwsLaunchLimits[K] } = {};
    for (const kind of ['awsRegions', 'instanceTypes'] as const) {
      const key = LAUNCH_CONTEXT[kind];
      const list = parseAwsLaunchList(kind, this.node.tryGetContext(key), key);
      if (list) out[kind] = list;
    }
    return out;
  }

  /** The AWS direct offload's settings from CDK context (absent: the defaults of deps and workflows). */
  private awsDirectSettings(): { uploadChunkBytes?: number; uploadConcurrency?: number } {
    const read = (key: string): number | undefined => {
      const raw: unknown = this.node.tryGetContext(key);
      if (raw === undefined || raw === null || raw === '') return undefined;
      const value = Number(raw);
      if (!Number.isSafeInteger(value) || value <= 0) {
        throw new Error(`context ${key} must be a positive integer, got ${String(raw)}`);
      }
      return value;
    };
    const uploadChunkBytes = read(AWS_DIRECT_CONTEXT.uploadChunkBytes);
    if (uploadChunkBytes !== undefined && uploadChunkBytes % (512 * 1024) !== 0) {
      throw new Error(
        `context ${AWS_DIRECT_CONTEXT.uploadChunkBytes} must be a multiple of 512 KiB (the EBS block)`,
      );
    }
    const uploadConcurrency = read(AWS_DIRECT_CONTEXT.uploadConcurrency);
    return {
      ...(uploadChunkBytes !== undefined ? { uploadChunkBytes } : {}),
      ...(uploadConcurrency !== undefined ? { uploadConcurrency } : {}),
    };
  }
}
