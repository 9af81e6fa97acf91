/** Creating API keys for a deployed gateway, from an operator's machine with AWS credentials. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { JobStore, newApiKey } from './job-store';

export async function createApiKey(opts: {
  table: string;
  region: string;
  label: string;
  endpoint?: string;
}): Promise<string> {
  const client = new DynamoDBClient({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
  });
  try {
    const key = newApiKey();
    await new JobStore(DynamoDBDocumentClient.from(client), opts.table).putApiKey(key, opts.label);
    return key;
  } finally {
    client.destroy();
  }
}
