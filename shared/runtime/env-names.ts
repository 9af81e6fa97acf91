/**
 * Environment variable names the stack sets on every function and `configFromEnv` reads. Kept in
 * a module of their own (no SDK imports) so synthesizing the stack stays light.
 */
export const ENV = {
  jobsTable: 'JOBS_TABLE',
  /** Optional, set by the operator: CIDRs and host names callbacks may reach besides public HTTPS. */
  callbackAllow: 'BURSTGATE_CALLBACK_ALLOW',
  /** Optional, set by the operator: the target limits' lists (comma-separated; AWS ones only narrower). */
  awsRegions: 'BURSTGATE_AWS_REGIONS',
  instanceTypes: 'BURSTGATE_INSTANCE_TYPES',
  /** Set by the stack when CDK context replaced them: the AWS lists its RunInstances conditions hold. */
  stackAwsRegions: 'BURSTGATE_STACK_AWS_REGIONS',
  stackInstanceTypes: 'BURSTGATE_STACK_INSTANCE_TYPES',
  azureLocations: 'BURSTGATE_AZURE_LOCATIONS',
  azureVmSizes: 'BURSTGATE_AZURE_VM_SIZES',
  /** Optional, set by the operator: every tenant's quotas, and per tenant (JSON; shared/domain/quotas.ts). */
  quotaConcurrentJobs: 'BURSTGATE_QUOTA_CONCURRENT_JOBS',
  quotaDeclaredGib: 'BURSTGATE_QUOTA_DECLARED_GIB',
  quotaLaunchesPerHour: 'BURSTGATE_QUOTA_LAUNCHES_PER_HOUR',
  tenantQuotas: 'BURSTGATE_TENANT_QUOTAS',
  /** Optional, set by the operator: `snapshot` quotes from the shipped list prices instead of the live APIs. */
  priceSource: 'BURSTGATE_PRICES',
  stagingBucket: 'STAGING_BUCKET',
  offloadStateMachineArn: 'OFFLOAD_STATE_MACHINE_ARN',
  returnStateMachineArn: 'RETURN_STATE_MACHINE_ARN',
  webhookStateMachineArn: 'WEBHOOK_STATE_MACHINE_ARN',
  cancelStateMachineArn: 'CANCEL_STATE_MACHINE_ARN',
  eventBusName: 'EVENT_BUS_NAME',
  vmImportRoleName: 'VMIMPORT_ROLE_NAME',
  /** Set on every function when the stack has Azure: the default resource group (turns Azure on). */
  azureResourceGroup: 'AZURE_RESOURCE_GROUP',
  /** Set only on the functions that call Azure: the Secrets Manager secret with the service principal. */
  azureCredentialsSecretArn: 'AZURE_CREDENTIALS_SECRET_ARN',
  azureSubnetId: 'AZURE_SUBNET_ID',
  azureUploadChunkBytes: 'AZURE_UPLOAD_CHUNK_BYTES',
  azureLroPollMs: 'AZURE_LRO_POLL_MS',
  /** AWS direct: bytes of disk per PutBlocks Lambda (a multiple of 512 KiB). */
  ebsUploadChunkBytes: 'EBS_UPLOAD_CHUNK_BYTES',
  /** Timers: the EventBridge Scheduler group, the role it assumes, the timer state machine. */
  scheduleGroupName: 'SCHEDULE_GROUP_NAME',
  schedulerRoleArn: 'SCHEDULER_ROLE_ARN',
  timerStateMachineArn: 'TIMER_STATE_MACHINE_ARN',
  /** Leases: the default (seconds from the planned launch) and the lease-expiring lead (seconds). */
  defaultLeaseSeconds: 'DEFAULT_LEASE_SECONDS',
  leaseWarningSeconds: 'LEASE_WARNING_SECONDS',
} as const;
