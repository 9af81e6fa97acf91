/**
 * Fixed identities of the embedded deployment. Everything runs in one fake account and region, so
 * ARNs look like the cloud's and the handlers cannot tell the difference.
 */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_PARTITION = 'aws';

export const LOCAL_TABLE_NAME = 'burstgate-jobs';
export const LOCAL_BUCKET_NAME = 'burstgate-staging';
export const LOCAL_EVENT_BUS_NAME = 'burstgate';
export const LOCAL_API_ID = 'local';

/** s3rver only accepts requests signed with this key pair; the other local services accept any. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export function localFunctionArn(functionName: string): string {
  return `arn:${LOCAL_PARTITION}:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${functionName}`;
}

export function localStateMachineArn(name: string): string {
  return `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:${name}`;
}

export function localExecutionArn(stateMachineName: string, executionName: string): string {
  return `arn:${LOCAL_PARTITION}:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:execution:${stateMachineName}:${executionName}`;
}

/** The function name in a Lambda ARN (`...:function:Name` or `...:function:Name:qualifier`), or the input if it is a bare name. */
export function functionNameFromArn(arnOrName: string): string {
  const match = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(arnOrName);
  return match?.[1] ?? arnOrName;
}
