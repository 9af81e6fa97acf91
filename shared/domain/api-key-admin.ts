/**
 * The operator's side of API keys, for a deployed gateway's jobs table from a machine with AWS
 * credentials (`burstgate api-key create|list|revoke`; the client: table-admin.ts).
 */
import { ApiKeyStore, type ApiKeyRecord } from '../store/api-key-store';
import { issueApiKey, type KeyRequest } from './api-keys';
import { withTable, type TableRef } from './table-admin';

const withKeys = <T>(ref: TableRef, fn: (keys: ApiKeyStore) => Promise<T>): Promise<T> =>
  withTable(ref, (ddb) => fn(new ApiKeyStore(ddb, ref.table)));

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
