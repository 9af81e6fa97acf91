/**
 * Environment variable names the stack sets on every function and `configFromEnv` reads. Kept in
 * a module of their own (no SDK imports) so synthesizing the stack stays light.
 */
export const ENV = {
  jobsTable: 'JOBS_TABLE',
  stagingBucket: 'STAGING_BUCKET',
  offloadStateMachineArn: 'OFFLOAD_STATE_MACHINE_ARN',
  returnStateMachineArn: 'RETURN_STATE_MACHINE_ARN',
  eventBusName: 'EVENT_BUS_NAME',
  vmImportRoleName: 'VMIMPORT_ROLE_NAME',
} as const;
