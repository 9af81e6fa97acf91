/**
 * The operator's side of API keys, for a deployed gateway's jobs table from a machine with AWS
 * credentials (`burstgate api-key create|list|revoke`): one DynamoDB client per call, destroyed after.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiKeyStore, type ApiKeyRecord } from '../store/api-key-store';
import { issueApiKey, type KeyRequest } from './api-keys';

export interface TableRef {
  table: string;
  region: string;
  /** A DynamoDB endpoint other than AWS's (the embedded deployment's). */
  endpoint?: string;
}

async function withKeys<T>(ref: TableRef, fn: (keys: ApiKeyStore) => Promise<T>): Promise<T> {
  const client = new DynamoDBClient({
    region: ref.region,
    ...(ref.endpoint ? { endpoint: ref.endpoint } : {}),
  });
  try {
    return await fn(new ApiKeyStore(DynamoDBDocumentClient.from(client), ref.table));
  } finally {
    client.destroy();
  }
}

/** A new key, stored hashed; the key itself is in the answer once and nowhere else. */
export function createApiKey(
  ref: TableRef,
  req: KeyRequest,
  now: Date = new Date(),
): Promise<{ key: string; record: ApiKeyRecord }> {
  return withKeys(ref, (keys) => issueApiKey(keys, req, now));
}

export function listApiKeys(ref: TableRef, tenant?: string): Promise<ApiKeyRecord[]> {
  return withKeys(ref, (keys) => keys.list(tenant));
}

/** Revokes a key by id; the authorizer refuses it from the next request on. */
export function revokeApiKey(ref: TableRef, keyId: string, now: Date = new Date()): Promise<ApiKeyRecord> {
  return withKeys(ref, (keys) => keys.revoke(keyId, now));
}
