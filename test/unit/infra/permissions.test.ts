import { describe, expect, it } from 'vitest';
import { DEFAULT_TARGET_LIMITS } from '../../../shared/domain/target-limits';
import { actionsOfRole, resourcesOfType, statementsOfRole, synthesized } from '../../helpers/synth';

const TABLE_READ = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan'];
const TABLE_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];

/** Actions other than the table, the bus and the function's own logs. */
/** What a role may do beyond what every writer may: the table, the bus, its logs, the webhook outbox. */
function specificActions(role: string): string[] {
  const { template } = synthesized();
  const actions = statementsOfRole(template, role)
    .filter((s) => s.Sid !== 'StartWebhookDelivery')
    .flatMap((s) => (Array.isArray(s.Action) ? (s.Action as string[]) : [s.Action as string]));
  return [
    ...new Set(
      actions.filter((a) => !a.startsWith('dynamodb:') && a !== 'events:PutEvents' && !a.startsWith('logs:')),
    ),
  ].sort();
}

describe('function permissions', () => {
  it('let every function that writes start the webhook delivery workflow, that one only, and no reader', () => {
    // Prepare
    const { template } = synthesized();
    const roles = Object.keys(resourcesOfType(template, 'AWS::IAM::Role')).filter((r) => r.startsWith('Fn'));
    // Act
    const starters = roles.filter((r) =>
      statementsOfRole(template, r).some((s) => s.Sid === 'StartWebhookDelivery'),
    );
    const statements = starters.flatMap((r) =>
      statementsOfRole(template, r).filter((s) => s.Sid === 'StartWebhookDelivery'),
    );
    // Assess
    expect(starters).toContain('FnApiCreateOffloadRole');
    expect(starters).toContain('FnStepsMarkRunningRole');
    expect(starters).not.toContain('FnApiGetOffloadRole');
    expect(starters).not.toContain('FnApiAuthorizerRole');
    expect(starters).not.toContain('FnApiGetOpenapiRole');
    for (const s of statements) {
      expect(s.Action).toBe('states:StartExecution');
      expect(JSON.stringify(s.Resource)).toContain('stateMachine:burstgate-webhook');
    }
  });

  it('give every function write access to its own log group only', () => {
    // Prepare
    const { template } = synthesized();
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');

    // Act / Assess
    for (const [id, fn] of Object.entries(functions)) {
      const logStatements = statementsOfRole(template, `${id}Role`).filter((s) => s.Sid === 'WriteOwnLogs');
      const logGroup = (fn.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(logStatements, id).toEqual([
        {
          Sid: 'WriteOwnLogs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] },
        },
      ]);
    }
  });

  it('give GET /openapi.json (the document is in its bundle) its log group and nothing else', () => {
    // Act
    const actions = actionsOfRole(synthesized().template, 'FnApiGetOpenapiRole');

    // Assess
    expect([...new Set(actions)].sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
  });

  it('let the authorizer and the read-only API handlers read the table but not write it or publish events', () => {
    // Prepare
    const readers = [
      'FnApiAuthorizerRole',
      'FnApiGetOffloadRole',
      'FnApiListOffloadsRole',
      'FnApiGetImageCacheRole',
    ];

    // Act / Assess
    for (const role of readers) {
      const actions = actionsOfRole(synthesized().template, role);
      expect(actions, role).toEqual(expect.arrayContaining(TABLE_READ));
      for (const write of [...TABLE_WRITE, 'events:PutEvents']) expect(actions, role).not.toContain(write);
    }
    expect(specificActions('FnApiAuthorizerRole')).toEqual([]);
    expect(specificActions('FnApiGetOffloadRole')).toEqual(['s3:GetObject']);
    expect(specificActions('FnApiGetImageCacheRole')).toEqual(['s3:GetObject']);
  });

  it('let the image cache route read (presign) block manifests and no other object', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const s3 = statementsOfRole(template, 'FnApiGetImageCacheRole').filter((s) =>
      JSON.stringify(s.Action).includes('"s3:'),
    );

    // Assess
    expect(s3.map((s) => s.Action)).toEqual(['s3:GetObject']);
    expect(JSON.stringify(s3[0]?.Resource)).toMatch(/"\/manifests\/\*"/);
  });

  it('grant each handler only the cloud actions it performs', () => {
    // Prepare
    const cleanup = [
      'ec2:CancelImportTask',
      'ec2:DeleteSnapshot',
      'ec2:DeregisterImage',
      'ec2:Describe*',
      'ec2:TerminateInstances',
      's3:AbortMultipartUpload',
      's3:DeleteObject',
    ];
    // Timers are EventBridge Scheduler schedules in the gateway's group (infra/constructs/timers.ts).
    const setTimers = ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:UpdateSchedule'];
    const clearTimers = ['scheduler:DeleteSchedule'];
    const expected: Record<string, string[]> = {
      // its estimate reads the price lists (budgets.ts)
      FnApiCreateOffloadRole: [
        'iam:PassRole',
        'pricing:GetProducts',
        's3:AbortMultipartUpload',
        's3:PutObject',
        ...setTimers,
        'states:StartExecution',
      ],
      // changes the lease: sets its timers
      FnApiUpdateOffloadRole: ['iam:PassRole', ...setTimers],
      // releases a held launch (AwaitLaunch's task token); a held default lease starts then
      FnApiLaunchOffloadRole: ['iam:PassRole', ...setTimers, 'states:SendTaskSuccess'],
      FnStepsAwaitLaunchRole: ['states:SendTaskSuccess'],
      FnApiCompleteUploadRole: [
        's3:ListMultipartUploadParts',
        's3:PutObject',
        'states:SendTaskFailure',
        'states:SendTaskSuccess',
      ],
      FnApiStartReturnRole: [...clearTimers, 'states:StartExecution'],
      // presigns the block manifest's download (manifests/ only)
      FnApiGetImageCacheRole: ['s3:GetObject'],
      // quotes read price lists and instance catalogs, and the Azure secret for the VM sizes
      FnApiCreateQuoteRole: [
        'ec2:DescribeInstanceTypes',
        'pricing:GetProducts',
        'secretsmanager:GetSecretValue',
      ],
      // stops the job's workflow and starts the cancel workflow: removes nothing itself
      FnApiCancelOffloadRole: ['states:StartExecution', 'states:StopExecution'],
      // the cancel workflow: removes everything the job created, in either cloud; records a failure
      FnStepsCancelJobRole: [...cleanup, ...clearTimers, 'secretsmanager:GetSecretValue'].sort(),
      FnStepsCancelFailedRole: [],
      // a lease's timer: warns, starts the return, or cancels; a schedule's: places a window's
      // jobs (an image-cache VM's with the empty delta the gateway uploads and completes itself)
      FnStepsFireTimerRole: [
        'iam:PassRole',
        's3:AbortMultipartUpload',
        's3:ListMultipartUploadParts',
        's3:PutObject',
        ...setTimers,
        'states:SendTaskFailure',
        'states:SendTaskSuccess',
        'states:StartExecution',
        'states:StopExecution',
      ].sort(),
      // schedules: create and change set the prestage timer; delete clears it and cancels the
      // jobs of a window not yet open; prestage places an upload VM's job as POST /offloads does
      FnApiCreateScheduleRole: ['iam:PassRole', ...setTimers],
      FnApiUpdateScheduleRole: ['iam:PassRole', ...setTimers],
      FnApiDeleteScheduleRole: [...clearTimers, 'states:StartExecution', 'states:StopExecution'],
      FnApiPrestageScheduleRole: [
        'iam:PassRole',
        's3:AbortMultipartUpload',
        's3:PutObject',
        ...setTimers,
        'states:StartExecution',
      ],
      FnApiListSchedulesRole: [],
      FnApiGetScheduleRole: [],
      FnApiPreviewScheduleRole: [],
      FnApiGetOpenapiRole: [],
      FnApiListDeliveriesRole: [],
      FnApiCreateWebhookRole: [],
      FnApiListWebhooksRole: [],
      FnApiDeleteWebhookRole: [],
      FnApiRotateWebhookSecretRole: [],
      FnApiListWebhookDeliveriesRole: [],
      FnApiReplayWebhookDeliveryRole: [],
      FnStepsDeliverWebhookRole: [],
      FnStepsAwaitUploadRole: ['states:SendTaskSuccess'],
      FnStepsInspectRole: ['s3:GetObject'],
      FnStepsStartImportRole: ['ec2:CreateTags', 'ec2:ImportImage', 'iam:PassRole', 's3:GetObject'],
      FnStepsCheckImportRole: ['ec2:DescribeImages', 'ec2:DescribeImportImageTasks', 'ec2:DescribeSnapshots'],
      FnStepsLaunchInstanceRole: ['ec2:CreateTags', 'ec2:RunInstances'],
      FnStepsCheckInstanceRole: ['ec2:DescribeInstances'],
      // AWS direct: hands the image to the image cache, which removes the images it replaced
      FnStepsMarkRunningRole: [
        'ec2:DeleteSnapshot',
        'ec2:DeregisterImage',
        'iam:PassRole',
        's3:DeleteObject',
        's3:GetObject',
        ...setTimers,
      ],
      FnStepsCompensateRole: [...cleanup, ...clearTimers].sort(),
      FnStepsStopInstanceRole: ['ec2:DescribeInstances', 'ec2:StopInstances'],
      FnStepsStartExportRole: ['ec2:CreateInstanceExportTask', 'ec2:CreateTags'],
      FnStepsCheckExportRole: ['ec2:DescribeExportTasks'],
      FnStepsPublishImageRole: ['s3:DeleteObject', 's3:GetObject', 's3:PutObject'],
      FnStepsCleanupRole: [...cleanup, ...clearTimers].sort(),
      FnStepsReturnFailedRole: [],
      // AWS direct mode: snapshot of the root volume, changed blocks read through the EBS direct APIs
      FnStepsAwsSnapshotForReturnRole: [
        'ec2:CreateSnapshot',
        'ec2:CreateTags',
        'ec2:DeleteSnapshot',
        'ec2:DescribeInstances',
        'ec2:DescribeSnapshots',
      ],
      FnStepsAwsCheckReturnSnapshotRole: ['ec2:DescribeSnapshots'],
      FnStepsAwsPublishChangedBlocksRole: [
        'ebs:GetSnapshotBlock',
        'ebs:ListChangedBlocks',
        'ebs:ListSnapshotBlocks',
        'ec2:DescribeSnapshots',
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        's3:GetObject',
        's3:PutObject',
      ],
      // Azure: the service principal's secret, and only the S3 access each step needs
      FnStepsAzurePrepareUploadRole: ['s3:GetObject', 'secretsmanager:GetSecretValue'],
      FnStepsAzureUploadRangeRole: ['s3:GetObject', 'secretsmanager:GetSecretValue'],
      FnStepsAzureFinishUploadRole: ['secretsmanager:GetSecretValue'],
      FnStepsAzureCreateVmRole: ['secretsmanager:GetSecretValue'],
      FnStepsAzureCheckVmRole: ['secretsmanager:GetSecretValue'],
      FnStepsAzureCompensateRole: [
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        ...clearTimers,
        'secretsmanager:GetSecretValue',
      ],
      FnStepsAzureDeallocateRole: ['secretsmanager:GetSecretValue'],
      FnStepsAzureSnapshotRole: ['secretsmanager:GetSecretValue'],
      FnStepsAzurePublishDeltaRole: [
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        's3:GetObject',
        's3:PutObject',
        'secretsmanager:GetSecretValue',
      ],
      FnStepsAzureCleanupRole: [
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        ...clearTimers,
        'secretsmanager:GetSecretValue',
      ],
      // AWS direct: EBS direct APIs on managed snapshots, the AMI, the staged disk and the manifests
      FnStepsAwsPrepareSnapshotRole: [
        'ebs:StartSnapshot',
        'ec2:CreateTags',
        'ec2:DescribeImages',
        'ec2:DescribeSnapshots',
        's3:GetObject',
      ],
      FnStepsAwsPutBlocksRole: ['ebs:PutSnapshotBlock', 's3:GetObject', 's3:PutObject'],
      FnStepsAwsFinishSnapshotRole: [
        'ebs:CompleteSnapshot',
        'ec2:DescribeSnapshots',
        's3:DeleteObject',
        's3:GetObject',
        's3:PutObject',
      ],
      FnStepsAwsCheckSnapshotRole: ['ec2:DescribeSnapshots'],
      FnStepsAwsRegisterImageRole: ['ec2:CreateTags', 'ec2:DescribeImages', 'ec2:RegisterImage'],
    };

    // Act
    const actual = Object.fromEntries(Object.keys(expected).map((role) => [role, specificActions(role)]));

    // Assess
    expect(actual).toEqual(expected);
  });

  it('let only the functions that call Azure read the one secret holding the service principal', () => {
    // Prepare
    const { template } = synthesized();
    const roles = Object.keys(resourcesOfType(template, 'AWS::IAM::Role'));

    // Act
    const readers = roles.filter((role) =>
      statementsOfRole(template, role).some((s) => JSON.stringify(s.Action).includes('secretsmanager:')),
    );
    const resources = roles.flatMap((role) =>
      statementsOfRole(template, role)
        .filter((s) => JSON.stringify(s.Action).includes('secretsmanager:'))
        .map((s) => ({ action: s.Action, resource: s.Resource })),
    );

    // Assess: exactly the Azure steps, the cancel workflow's and the quotes' (VM sizes), one action, one secret
    expect(readers.sort()).toEqual(
      [
        'FnApiCreateQuoteRole',
        'FnStepsCancelJobRole',
        ...[
          'PrepareUpload',
          'UploadRange',
          'FinishUpload',
          'CreateVm',
          'CheckVm',
          'Compensate',
          'Deallocate',
          'Snapshot',
          'PublishDelta',
          'Cleanup',
        ].map((n) => `FnStepsAzure${n}Role`),
      ].sort(),
    );
    for (const r of resources) {
      expect(r).toEqual({
        action: 'secretsmanager:GetSecretValue',
        resource: { Ref: 'AzureCredentialsSecretArn' },
      });
    }
  });

  it('scope S3 object access to the staging/, returns/ and manifests/ prefixes', () => {
    // Prepare
    const { template } = synthesized();
    const roles = Object.keys(resourcesOfType(template, 'AWS::IAM::Role')).filter((r) =>
      /^Fn(Api|Steps)/.test(r),
    );

    // Act
    const s3Statements = roles.flatMap((role) =>
      statementsOfRole(template, role)
        .filter((s) => JSON.stringify(s.Action).includes('"s3:'))
        .map((s) => [role, JSON.stringify(s.Resource)] as const),
    );

    // Assess
    expect(s3Statements.length).toBeGreaterThan(0);
    for (const [role, resource] of s3Statements) {
      expect(resource, role).toMatch(/"\/(staging|returns|manifests)\/\*"/);
    }
  });

  it('only stop and terminate instances tagged burstgate:managed=true', () => {
    // Prepare
    const { template } = synthesized();
    const roles = Object.keys(resourcesOfType(template, 'AWS::IAM::Role'));

    // Act
    const statements = roles.flatMap((role) =>
      statementsOfRole(template, role).filter((s) =>
        ['ec2:StopInstances', 'ec2:TerminateInstances'].includes(s.Action as string),
      ),
    );

    // Assess
    expect(statements.length).toBe(4); // stop-instance; compensate, cleanup, cancel-job terminate
    for (const s of statements) {
      expect(s.Condition).toEqual({ StringEquals: { 'ec2:ResourceTag/burstgate:managed': 'true' } });
      expect(JSON.stringify(s.Resource)).toContain(':instance/*');
    }
  });

  it('only allow tagging while creating, and launching only instances tagged as managed, of allowed types in allowed regions', () => {
    // Prepare
    const { template } = synthesized();
    const createActions: Record<string, string> = {
      FnStepsStartImportRole: 'ImportImage',
      FnStepsLaunchInstanceRole: 'RunInstances',
      FnStepsStartExportRole: 'CreateInstanceExportTask',
      FnStepsAwsSnapshotForReturnRole: 'CreateSnapshot',
      FnStepsAwsPrepareSnapshotRole: 'StartSnapshot',
      FnStepsAwsRegisterImageRole: 'RegisterImage',
    };

    // Act
    const tagStatements = Object.keys(resourcesOfType(template, 'AWS::IAM::Role')).flatMap((role) =>
      statementsOfRole(template, role)
        .filter((s) => s.Action === 'ec2:CreateTags')
        .map((s) => [role, s] as const),
    );
    const launch = statementsOfRole(template, 'FnStepsLaunchInstanceRole').filter(
      (s) => s.Action === 'ec2:RunInstances',
    );

    // Assess
    expect(tagStatements.map(([role]) => role).sort()).toEqual(Object.keys(createActions).sort());
    for (const [role, s] of tagStatements) {
      expect(s.Condition, role).toEqual({ StringEquals: { 'ec2:CreateAction': createActions[role] } });
    }
    const onInstances = launch.find((s) => s.Resource);
    const onOthers = launch.find((s) => s.NotResource);
    expect(onInstances?.Condition).toEqual({
      StringEquals: {
        'aws:RequestTag/burstgate:managed': 'true',
        'aws:RequestedRegion': [...DEFAULT_TARGET_LIMITS.awsRegions],
      },
      StringLike: { 'ec2:InstanceType': [...DEFAULT_TARGET_LIMITS.instanceTypes] },
    });
    expect(onOthers?.NotResource).toEqual(onInstances?.Resource);
    expect(onOthers?.Condition).toBeUndefined();
  });

  it('never grant a service-wide action wildcard (only read-only ec2:Describe*)', () => {
    // Prepare
    const { template } = synthesized();
    const roles = Object.keys(resourcesOfType(template, 'AWS::IAM::Role'));

    // Act
    const wildcards = new Set(
      roles.flatMap((role) => actionsOfRole(template, role)).filter((a) => a.includes('*')),
    );

    // Assess
    expect([...wildcards].filter((a) => a !== 'ec2:Describe*')).toEqual([]);
  });

  it('let cancel-offload stop executions of the two gateway state machines and start only the cancel workflow', () => {
    // Prepare
    const { template } = synthesized();

    // Act
    const stop = statementsOfRole(template, 'FnApiCancelOffloadRole').find(
      (s) => s.Action === 'states:StopExecution',
    );
    const start = statementsOfRole(template, 'FnApiCancelOffloadRole').find((s) => s.Sid === 'StartCancel');

    // Assess
    const resources = JSON.stringify(stop?.Resource);
    expect(resources).toContain(':execution:burstgate-offload:*');
    expect(resources).toContain(':execution:burstgate-return:*');
    expect((stop?.Resource as unknown[]).length).toBe(2);
    expect(start?.Action).toBe('states:StartExecution');
    expect(JSON.stringify(start?.Resource)).toContain(':stateMachine:burstgate-cancel');
  });
});
