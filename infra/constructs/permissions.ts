import { Aws } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { GatewayFunction } from './gateway-function';
import { AZURE_CREDENTIAL_STEPS, type GatewayFunctions } from './functions';
import { acknowledgeWildcard, getAttFinding } from './nag';
import type { AwsLaunchLimits } from '../../shared/domain/target-limits';
import {
  MANAGED_TAG_KEY,
  MANAGED_TAG_VALUE,
  MANIFESTS_PREFIX,
  OFFLOAD_STATE_MACHINE_NAME,
  RETURN_STATE_MACHINE_NAME,
  RETURNS_PREFIX,
  STAGING_PREFIX,
} from './names';

export interface GatewayPermissionsProps {
  readonly functions: GatewayFunctions;
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  readonly bus: events.IEventBus;
  readonly vmImportRole: iam.IRole;
  /** ARNs built from the fixed state machine names (no reference, no cycle). */
  readonly offloadStateMachineArn: string;
  readonly returnStateMachineArn: string;
  /** Every writer starts the webhook delivery workflow for an event with a callback (webhooks/outbox.ts). */
  readonly webhookStateMachineArn: string;
  readonly cancelStateMachineArn: string;
  /** The regions and instance types RunInstances is allowed for (shared/domain/target-limits.ts). */
  readonly awsLaunchLimits: AwsLaunchLimits;
  /** `arn:…:execution:<state machine name>:*` for each state machine. */
  readonly offloadExecutionsArn: string;
  readonly returnExecutionsArn: string;
  /** The Secrets Manager secret with the Azure service principal. */
  readonly azureCredentialsSecretArn: string;
}

/** How cdk-nag prints ARNs built from pseudo parameters. */
const NAG_PARTITION = '<AWS::Partition>';
const NAG_ACCOUNT = '<AWS::AccountId>';
const NAG_REGION = '<AWS::Region>';

const REASON_NO_RESOURCE_LEVEL =
  'EC2 import/export and Describe* actions do not support resource-level permissions (and the image, snapshots and tasks they act on are created at run time in whatever Region the job targets).';
const REASON_SEND_TASK =
  'states:SendTaskSuccess and states:SendTaskFailure do not support resource-level permissions (they act on a task token, not an ARN); AWS requires Resource "*".';
const REASON_TABLE_INDEX =
  'Grant on the jobs table includes its indexes (GSI byState), whose ARNs are <table>/index/<name>.';
const REASON_STAGING = `Image uploads live under ${STAGING_PREFIX}<jobId>/…; the job id is only known at run time, so the grant covers the prefix.`;
const REASON_RETURNS = `Returned images live under ${RETURNS_PREFIX}<jobId>/…; the job id is only known at run time, so the grant covers the prefix.`;
const REASON_MANIFESTS = `Block manifests of direct offloads live under ${MANIFESTS_PREFIX}<jobId>/…; the job id is only known at run time, so the grant covers the prefix.`;
const REASON_SNAPSHOTS =
  'EBS snapshots and AMIs of a direct offload do not exist before the call that creates them, in whatever Region the job targets; the statements are limited by the managed tag (set in the creating request, required by the condition) wherever IAM evaluates it.';

/**
 * Least-privilege IAM for every function: each role gets only what its handler does. Wildcards that
 * remain are acknowledged (cdk-nag AwsSolutions-IAM5) on that one function, finding by finding.
 */
export function grantGatewayPermissions(props: GatewayPermissionsProps): void {
  const { functions, table, bucket, bus } = props;
  const { api, steps } = functions;
  const stagingObjects = bucket.arnForObjects(`${STAGING_PREFIX}*`);
  const returnsObjects = bucket.arnForObjects(`${RETURNS_PREFIX}*`);
  const bucketFinding = getAttFinding(bucket);
  const tableIndexFinding = `Resource::${getAttFinding(table)}/index/*`;
  const partition = Aws.PARTITION;
  const account = Aws.ACCOUNT_ID;
  const instancesArn = `arn:${partition}:ec2:*:${account}:instance/*`;
  const instancesFinding = `Resource::arn:${NAG_PARTITION}:ec2:*:${NAG_ACCOUNT}:instance/*`;
  const managedOnly = { StringEquals: { [`ec2:ResourceTag/${MANAGED_TAG_KEY}`]: MANAGED_TAG_VALUE } };
  const manifestObjects = bucket.arnForObjects(`${MANIFESTS_PREFIX}*`);
  const snapshotsArn = `arn:${partition}:ec2:*::snapshot/*`;
  const imagesArn = `arn:${partition}:ec2:*::image/*`;
  const snapshotsFinding = `Resource::arn:${NAG_PARTITION}:ec2:*::snapshot/*`;
  const imagesFinding = `Resource::arn:${NAG_PARTITION}:ec2:*::image/*`;

  const allow = (fn: GatewayFunction, statement: iam.PolicyStatementProps): void => {
    fn.role.addToPolicy(new iam.PolicyStatement(statement));
  };

  // ---- jobs table and event bus -------------------------------------------------------------
  const readOnly = [
    api.authorizer,
    api.getOffload,
    api.listOffloads,
    api.getImageCache,
    api.listSchedules,
    api.getSchedule,
    api.previewSchedule,
    api.listDeliveries,
    api.listWebhooks,
    api.listWebhookDeliveries,
    api.getBudget,
    api.getOwnBudget,
  ];
  // GET /openapi.json serves the document in its bundle: no table, no events.
  const noData = [api.getOpenApi];
  for (const fn of functions.all()) {
    if (noData.includes(fn)) continue;
    if (readOnly.includes(fn)) table.grantReadData(fn.role);
    else {
      table.grantReadWriteData(fn.role);
      bus.grantPutEventsTo(fn.role);
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'StartWebhookDelivery',
          actions: ['states:StartExecution'],
          resources: [props.webhookStateMachineArn],
        }),
      );
    }
    acknowledgeWildcard(fn, tableIndexFinding, REASON_TABLE_INDEX);
  }

  // ---- statement builders shared by several functions ----------------------------------------
  const stagingStatement = (sid: string, actions: string[]): iam.PolicyStatementProps => ({
    sid,
    actions,
    resources: [stagingObjects],
  });
  const ackStaging = (fn: GatewayFunction) =>
    acknowledgeWildcard(fn, `Resource::${bucketFinding}/${STAGING_PREFIX}*`, REASON_STAGING);
  const ackReturns = (fn: GatewayFunction) =>
    acknowledgeWildcard(fn, `Resource::${bucketFinding}/${RETURNS_PREFIX}*`, REASON_RETURNS);
  const ackManifests = (fn: GatewayFunction) =>
    acknowledgeWildcard(fn, `Resource::${bucketFinding}/${MANIFESTS_PREFIX}*`, REASON_MANIFESTS);

  /** What removing a job's cloud and staging resources takes (compensate, cleanup, cancel, return-failed). */
  const grantCleanup = (fn: GatewayFunction): void => {
    allow(fn, {
      sid: 'TerminateManagedInstances',
      actions: ['ec2:TerminateInstances'],
      resources: [instancesArn],
      conditions: managedOnly,
    });
    allow(fn, {
      sid: 'RemoveImportArtifacts',
      actions: ['ec2:CancelImportTask', 'ec2:DeregisterImage', 'ec2:DeleteSnapshot'],
      resources: ['*'],
    });
    allow(fn, { sid: 'DescribeEc2', actions: ['ec2:Describe*'], resources: ['*'] });
    allow(fn, stagingStatement('RemoveStagedUploads', ['s3:AbortMultipartUpload', 's3:DeleteObject']));
    // AWS direct: the block manifest of a snapshot the image cache did not take.
    allow(fn, { sid: 'RemoveBlockManifests', actions: ['s3:DeleteObject'], resources: [manifestObjects] });
    ackManifests(fn);
    acknowledgeWildcard(
      fn,
      instancesFinding,
      `Instances are only known at run time, in any Region a job targets; the statement is limited to instances tagged ${MANAGED_TAG_KEY}=${MANAGED_TAG_VALUE}, which the gateway sets on every instance it launches.`,
    );
    acknowledgeWildcard(
      fn,
      'Resource::*',
      `${REASON_NO_RESOURCE_LEVEL} The AMI and snapshots come from the VM Import service, not from a call of ours that could tag them, so a tag condition cannot be relied on.`,
    );
    acknowledgeWildcard(
      fn,
      'Action::ec2:Describe*',
      'Read-only EC2 Describe* to find what is left of a job before removing it.',
    );
    ackStaging(fn);
  };

  // ---- API -----------------------------------------------------------------------------------
  // createOffload starts the multipart upload and presigns its UploadPart URLs (both s3:PutObject),
  // aborts the upload if the job cannot be placed, and starts the offload workflow. A window's jobs
  // are placed the same way: by POST …/prestage (upload VMs) and by the prestage timer (image-cache VMs).
  for (const fn of [api.createOffload, api.prestageSchedule, steps.fireTimer]) {
    allow(fn, stagingStatement('StartMultipartUpload', ['s3:PutObject', 's3:AbortMultipartUpload']));
    allow(fn, {
      sid: 'StartOffload',
      actions: ['states:StartExecution'],
      resources: [props.offloadStateMachineArn],
    });
    ackStaging(fn);
  }

  // completeUpload checks the client's part list against S3's (ListParts), completes the multipart
  // upload (s3:PutObject) and resumes AwaitUpload. The prestage timer does the same for the empty
  // delta it writes for an image-cache VM.
  for (const fn of [api.completeUpload, steps.fireTimer]) {
    allow(fn, stagingStatement('CompleteMultipartUpload', ['s3:ListMultipartUploadParts', 's3:PutObject']));
    allow(fn, {
      sid: 'ResumeAwaitUpload',
      actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      resources: ['*'],
    });
    acknowledgeWildcard(fn, 'Resource::*', REASON_SEND_TASK);
    ackStaging(fn);
  }

  // get/list presign downloads of returned images.
  for (const fn of [api.getOffload, api.listOffloads]) {
    allow(fn, {
      sid: 'PresignReturnedImageDownload',
      actions: ['s3:GetObject'],
      resources: [returnsObjects],
    });
    ackReturns(fn);
  }

  // getImageCache reads the image cache entry (table) and presigns a download of its block manifest.
  allow(api.getImageCache, {
    sid: 'PresignBlockManifestDownload',
    actions: ['s3:GetObject'],
    resources: [manifestObjects],
  });
  ackManifests(api.getImageCache);

  // A lease's timer (steps.fireTimer) starts the return or cancels, as the API would.
  for (const fn of [api.startReturn, steps.fireTimer]) {
    allow(fn, {
      sid: 'StartReturn',
      actions: ['states:StartExecution'],
      resources: [props.returnStateMachineArn],
    });
  }

  // A cancel stops the job's workflow and starts the cancel workflow, which removes what the job
  // created: by a DELETE, a lease's end, or a deleted schedule (the jobs of its unopened window).
  for (const fn of [api.cancelOffload, api.deleteSchedule, steps.fireTimer]) {
    allow(fn, {
      sid: 'StopWorkflows',
      actions: ['states:StopExecution'],
      resources: [props.offloadExecutionsArn, props.returnExecutionsArn],
    });
    allow(fn, {
      sid: 'StartCancel',
      actions: ['states:StartExecution'],
      resources: [props.cancelStateMachineArn],
    });
    for (const name of [OFFLOAD_STATE_MACHINE_NAME, RETURN_STATE_MACHINE_NAME]) {
      acknowledgeWildcard(
        fn,
        `Resource::arn:${NAG_PARTITION}:states:${NAG_REGION}:${NAG_ACCOUNT}:execution:${name}:*`,
        `Cancelling stops the job's running execution; execution names are only known at run time, so the grant covers the executions of the ${name} state machine only.`,
      );
    }
  }
  grantCleanup(steps.cancelJob);
  // The cancel also removes the returned image, which the return path keeps on purpose.
  allow(steps.cancelJob, {
    sid: 'RemoveReturnedImage',
    actions: ['s3:DeleteObject'],
    resources: [returnsObjects],
  });
  ackReturns(steps.cancelJob);

  // ---- offload steps -------------------------------------------------------------------------
  // awaitUpload and awaitLaunch store their task token; if the release came first, they release
  // themselves. The launch is released by POST …/launch or by the launch timer (fireTimer).
  for (const fn of [steps.awaitUpload, steps.awaitLaunch, api.launchOffload, steps.fireTimer]) {
    allow(fn, {
      sid: 'ReleaseWait',
      actions: ['states:SendTaskSuccess'],
      resources: ['*'],
    });
    acknowledgeWildcard(fn, 'Resource::*', REASON_SEND_TASK);
  }

  allow(steps.inspect, stagingStatement('ReadUploadedImage', ['s3:GetObject']));
  ackStaging(steps.inspect);

  allow(steps.startImport, { sid: 'ImportImage', actions: ['ec2:ImportImage'], resources: ['*'] });
  allow(steps.startImport, tagOnCreate('ImportImage'));
  // VM Import assumes the vmimport role on our behalf; the role's trust policy already limits it
  // to vmie.amazonaws.com with the vmimport external id.
  allow(steps.startImport, {
    sid: 'PassVmImportRole',
    actions: ['iam:PassRole'],
    resources: [props.vmImportRole.roleArn],
  });
  allow(steps.startImport, stagingStatement('ReadUploadedImage', ['s3:GetObject']));
  ackStaging(steps.startImport);
  acknowledgeWildcard(steps.startImport, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  allow(steps.checkImport, {
    sid: 'PollImport',
    actions: ['ec2:DescribeImportImageTasks', 'ec2:DescribeImages', 'ec2:DescribeSnapshots'],
    resources: ['*'],
  });
  acknowledgeWildcard(steps.checkImport, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  // Instances must be launched with the managed tag: the statement on instance/* requires it in the
  // request, so every instance can later be stopped and terminated under the tag condition. Every
  // other resource RunInstances touches (image, subnet, security group, volume, interface, …) is
  // allowed by the NotResource statement.
  // ...and only of the instance types, in the regions, the gateway allows its callers
  // (shared/domain/target-limits.ts): the request schema's limits again, where IAM enforces them.
  allow(steps.launchInstance, {
    sid: 'LaunchTaggedInstances',
    actions: ['ec2:RunInstances'],
    resources: [instancesArn],
    conditions: {
      StringEquals: {
        [`aws:RequestTag/${MANAGED_TAG_KEY}`]: MANAGED_TAG_VALUE,
        'aws:RequestedRegion': [...props.awsLaunchLimits.awsRegions],
      },
      StringLike: { 'ec2:InstanceType': [...props.awsLaunchLimits.instanceTypes] },
    },
  });
  allow(steps.launchInstance, {
    sid: 'LaunchUsingOtherResources',
    actions: ['ec2:RunInstances'],
    notResources: [instancesArn],
  });
  allow(steps.launchInstance, tagOnCreate('RunInstances'));
  acknowledgeWildcard(
    steps.launchInstance,
    instancesFinding,
    `Instance ids do not exist before launch; the statement requires the request to tag the instance ${MANAGED_TAG_KEY}=${MANAGED_TAG_VALUE}.`,
  );
  acknowledgeWildcard(
    steps.launchInstance,
    'Resource::*',
    'ec2:CreateTags is only allowed while creating resources (condition ec2:CreateAction = RunInstances); the resources do not exist before the call.',
  );

  allow(steps.checkInstance, { sid: 'PollInstance', actions: ['ec2:DescribeInstances'], resources: ['*'] });
  acknowledgeWildcard(steps.checkInstance, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  grantCleanup(steps.compensate);

  // ---- return steps --------------------------------------------------------------------------
  allow(steps.stopInstance, {
    sid: 'ReadInstanceState',
    actions: ['ec2:DescribeInstances'],
    resources: ['*'],
  });
  allow(steps.stopInstance, {
    sid: 'StopManagedInstances',
    actions: ['ec2:StopInstances'],
    resources: [instancesArn],
    conditions: managedOnly,
  });
  acknowledgeWildcard(
    steps.stopInstance,
    instancesFinding,
    `Instances are only known at run time, in any Region a job targets; the statement is limited to instances tagged ${MANAGED_TAG_KEY}=${MANAGED_TAG_VALUE}.`,
  );
  acknowledgeWildcard(steps.stopInstance, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  allow(steps.startExport, {
    sid: 'ExportInstance',
    actions: ['ec2:CreateInstanceExportTask'],
    resources: ['*'],
  });
  allow(steps.startExport, tagOnCreate('CreateInstanceExportTask'));
  acknowledgeWildcard(steps.startExport, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  allow(steps.checkExport, { sid: 'PollExport', actions: ['ec2:DescribeExportTasks'], resources: ['*'] });
  acknowledgeWildcard(steps.checkExport, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  allow(steps.publishImage, {
    sid: 'PublishReturnedImage',
    actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
    resources: [returnsObjects],
  });
  ackReturns(steps.publishImage);

  grantCleanup(steps.cleanup);
  // returnFailed only records the failure: the instance and its disk are kept on purpose, so it
  // gets no EC2 or S3 permissions at all.

  // ---- AWS direct mode: the changed-block return ----------------------------------------------
  const volumesArn = `arn:${partition}:ec2:*:${account}:volume/*`;
  const volumesFinding = `Resource::arn:${NAG_PARTITION}:ec2:*:${NAG_ACCOUNT}:volume/*`;
  // The snapshot step finds the root volume and a snapshot an earlier try created (Describe*), snapshots
  // only volumes the gateway launched (tagged), must tag the new snapshot as managed, and deletes it
  // again when a cancel raced its creation.
  allow(steps.awsSnapshotForReturn, {
    sid: 'FindRootVolumeAndSnapshots',
    actions: ['ec2:DescribeInstances', 'ec2:DescribeSnapshots'],
    resources: ['*'],
  });
  allow(steps.awsSnapshotForReturn, {
    sid: 'SnapshotManagedVolumes',
    actions: ['ec2:CreateSnapshot'],
    resources: [volumesArn],
    conditions: managedOnly,
  });
  allow(steps.awsSnapshotForReturn, {
    sid: 'CreateTaggedSnapshots',
    actions: ['ec2:CreateSnapshot'],
    resources: [snapshotsArn],
    conditions: { StringEquals: { [`aws:RequestTag/${MANAGED_TAG_KEY}`]: MANAGED_TAG_VALUE } },
  });
  allow(steps.awsSnapshotForReturn, tagOnCreate('CreateSnapshot'));
  allow(steps.awsSnapshotForReturn, {
    sid: 'RemoveManagedSnapshot',
    actions: ['ec2:DeleteSnapshot'],
    resources: [snapshotsArn],
    conditions: managedOnly,
  });
  acknowledgeWildcard(
    steps.awsSnapshotForReturn,
    volumesFinding,
    `Volumes are only known at run time, in any Region a job targets; the statement is limited to volumes tagged ${MANAGED_TAG_KEY}=${MANAGED_TAG_VALUE}, which the gateway sets when it launches an instance.`,
  );
  acknowledgeWildcard(
    steps.awsSnapshotForReturn,
    snapshotsFinding,
    `Snapshot ids do not exist before CreateSnapshot; creating requires the request to tag the snapshot ${MANAGED_TAG_KEY}=${MANAGED_TAG_VALUE}, deleting requires that tag on it.`,
  );
  acknowledgeWildcard(
    steps.awsSnapshotForReturn,
    'Resource::*',
    `${REASON_NO_RESOURCE_LEVEL} ec2:CreateTags is only allowed while creating the snapshot (condition ec2:CreateAction = CreateSnapshot).`,
  );

  allow(steps.awsCheckReturnSnapshot, {
    sid: 'PollReturnSnapshot',
    actions: ['ec2:DescribeSnapshots'],
    resources: ['*'],
  });
  acknowledgeWildcard(steps.awsCheckReturnSnapshot, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  // Publishing reads the blocks that changed (EBS direct APIs act on snapshot ARNs), the staged image
  // between them (the result's hash), and streams the delta into returns/ (aborted on failure).
  allow(steps.awsPublishChangedBlocks, {
    sid: 'ReadChangedBlocks',
    actions: ['ebs:ListChangedBlocks', 'ebs:ListSnapshotBlocks', 'ebs:GetSnapshotBlock'],
    resources: [snapshotsArn],
  });
  allow(steps.awsPublishChangedBlocks, {
    sid: 'CheckBaseSnapshot',
    actions: ['ec2:DescribeSnapshots'],
    resources: ['*'],
  });
  allow(steps.awsPublishChangedBlocks, stagingStatement('ReadUploadedImage', ['s3:GetObject']));
  allow(steps.awsPublishChangedBlocks, {
    sid: 'PublishDelta',
    actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
    resources: [returnsObjects],
  });
  acknowledgeWildcard(
    steps.awsPublishChangedBlocks,
    snapshotsFinding,
    'The base and return snapshots are only known at run time, in any Region a job targets; the EBS direct read APIs have no tag condition keys, and the grant is read-only.',
  );
  acknowledgeWildcard(steps.awsPublishChangedBlocks, 'Resource::*', REASON_NO_RESOURCE_LEVEL);
  ackStaging(steps.awsPublishChangedBlocks);
  ackReturns(steps.awsPublishChangedBlocks);

  // ---- AWS direct ----------------------------------------------------------------------------
  // PrepareSnapshot: the image cache's snapshot and AMI still there? StartSnapshot, tagged managed
  // in the request; the staged disk's map (ranged GETs).
  allow(steps.awsPrepareSnapshot, {
    sid: 'DescribeCachedImages',
    actions: ['ec2:DescribeSnapshots', 'ec2:DescribeImages'],
    resources: ['*'],
  });
  allow(steps.awsPrepareSnapshot, {
    sid: 'StartManagedSnapshot',
    actions: ['ebs:StartSnapshot'],
    resources: [snapshotsArn],
    conditions: { StringEquals: { [`aws:RequestTag/${MANAGED_TAG_KEY}`]: MANAGED_TAG_VALUE } },
  });
  allow(steps.awsPrepareSnapshot, tagOnCreate('StartSnapshot', [snapshotsArn]));
  allow(steps.awsPrepareSnapshot, stagingStatement('ReadUploadedImage', ['s3:GetObject']));
  acknowledgeWildcard(steps.awsPrepareSnapshot, 'Resource::*', REASON_NO_RESOURCE_LEVEL);
  acknowledgeWildcard(steps.awsPrepareSnapshot, snapshotsFinding, REASON_SNAPSHOTS);
  ackStaging(steps.awsPrepareSnapshot);

  // PutBlocks: blocks into the job's (managed) snapshot; reads the staged disk and the parent's
  // manifest, writes its range's part of the new manifest (under staging/, expiring if orphaned).
  allow(steps.awsPutBlocks, {
    sid: 'PutBlocksIntoManagedSnapshots',
    actions: ['ebs:PutSnapshotBlock'],
    resources: [snapshotsArn],
    conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG_KEY}`]: MANAGED_TAG_VALUE } },
  });
  allow(steps.awsPutBlocks, stagingStatement('ReadImageWriteManifestPart', ['s3:GetObject', 's3:PutObject']));
  allow(steps.awsPutBlocks, {
    sid: 'ReadParentManifest',
    actions: ['s3:GetObject'],
    resources: [manifestObjects],
  });
  acknowledgeWildcard(steps.awsPutBlocks, snapshotsFinding, REASON_SNAPSHOTS);
  ackStaging(steps.awsPutBlocks);
  ackManifests(steps.awsPutBlocks);

  // FinishSnapshot: merges the parts (read, then deleted), stores the manifest, completes the snapshot.
  allow(steps.awsFinishSnapshot, {
    sid: 'CompleteManagedSnapshots',
    actions: ['ebs:CompleteSnapshot'],
    resources: [snapshotsArn],
    conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG_KEY}`]: MANAGED_TAG_VALUE } },
  });
  allow(steps.awsFinishSnapshot, {
    sid: 'ReadSnapshotState',
    actions: ['ec2:DescribeSnapshots'],
    resources: ['*'],
  });
  allow(steps.awsFinishSnapshot, stagingStatement('MergeManifestParts', ['s3:GetObject', 's3:DeleteObject']));
  allow(steps.awsFinishSnapshot, {
    sid: 'StoreManifest',
    actions: ['s3:PutObject'],
    resources: [manifestObjects],
  });
  acknowledgeWildcard(steps.awsFinishSnapshot, snapshotsFinding, REASON_SNAPSHOTS);
  acknowledgeWildcard(steps.awsFinishSnapshot, 'Resource::*', REASON_NO_RESOURCE_LEVEL);
  ackStaging(steps.awsFinishSnapshot);
  ackManifests(steps.awsFinishSnapshot);

  allow(steps.awsCheckSnapshot, {
    sid: 'PollSnapshot',
    actions: ['ec2:DescribeSnapshots'],
    resources: ['*'],
  });
  acknowledgeWildcard(steps.awsCheckSnapshot, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  // RegisterImage from the job's snapshot; a retry finds its AMI by name (DescribeImages).
  allow(steps.awsRegisterImage, {
    sid: 'RegisterImageFromManagedSnapshots',
    actions: ['ec2:RegisterImage'],
    resources: [imagesArn, snapshotsArn],
  });
  allow(steps.awsRegisterImage, tagOnCreate('RegisterImage', [imagesArn]));
  allow(steps.awsRegisterImage, {
    sid: 'FindImageByName',
    actions: ['ec2:DescribeImages'],
    resources: ['*'],
  });
  acknowledgeWildcard(steps.awsRegisterImage, snapshotsFinding, REASON_SNAPSHOTS);
  acknowledgeWildcard(steps.awsRegisterImage, imagesFinding, REASON_SNAPSHOTS);
  acknowledgeWildcard(steps.awsRegisterImage, 'Resource::*', REASON_NO_RESOURCE_LEVEL);

  // MarkRunning hands a direct offload's image to the image cache, which removes the images it
  // replaced (managed AMIs and snapshots only) with their manifests.
  allow(steps.markRunning, {
    sid: 'RemoveReplacedCachedImages',
    actions: ['ec2:DeregisterImage', 'ec2:DeleteSnapshot'],
    resources: [imagesArn, snapshotsArn],
    conditions: managedOnly,
  });
  allow(steps.markRunning, {
    sid: 'ReadAndRemoveManifests',
    actions: ['s3:GetObject', 's3:DeleteObject'],
    resources: [manifestObjects],
  });
  acknowledgeWildcard(steps.markRunning, snapshotsFinding, REASON_SNAPSHOTS);
  acknowledgeWildcard(steps.markRunning, imagesFinding, REASON_SNAPSHOTS);
  ackManifests(steps.markRunning);

  // ---- Azure ---------------------------------------------------------------------------------
  // Only the functions that call Azure may read the service principal (GetSecretValue on that one
  // secret; its ARN is set only in their environment). Azure itself is governed by the service
  // principal's Azure RBAC role, not by IAM.
  for (const fn of AZURE_CREDENTIAL_STEPS.map((k) => steps[k])) {
    allow(fn, {
      sid: 'ReadAzureServicePrincipal',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [props.azureCredentialsSecretArn],
    });
  }
  // The upload steps read the staged image by ranged GETs (the plan reads the disk's tables).
  for (const fn of [steps.azurePrepareUpload, steps.azureUploadRange]) {
    allow(fn, stagingStatement('ReadUploadedImage', ['s3:GetObject']));
    ackStaging(fn);
  }
  // The delta's result hash reads the staged image between the changed ranges; the delta is
  // streamed into returns/ as a multipart upload (aborted on failure).
  allow(steps.azurePublishDelta, stagingStatement('ReadUploadedImage', ['s3:GetObject']));
  allow(steps.azurePublishDelta, {
    sid: 'PublishDelta',
    actions: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
    resources: [returnsObjects],
  });
  ackStaging(steps.azurePublishDelta);
  ackReturns(steps.azurePublishDelta);
  // Compensation and cleanup remove the staged upload (Azure resources go through the service principal).
  for (const fn of [steps.azureCompensate, steps.azureCleanup]) {
    allow(fn, stagingStatement('RemoveStagedUploads', ['s3:AbortMultipartUpload', 's3:DeleteObject']));
    ackStaging(fn);
  }
}

/**
 * ec2:CreateTags only as part of the call that creates the resource (TagSpecifications), so a
 * function can never add the managed tag to an existing resource and thereby make it removable.
 */
function tagOnCreate(createAction: string, resources: string[] = ['*']): iam.PolicyStatementProps {
  return {
    sid: `TagOnCreate${createAction}`,
    actions: ['ec2:CreateTags'],
    resources,
    conditions: { StringEquals: { 'ec2:CreateAction': createAction } },
  };
}
