/**
 * The operator's side of a deployed gateway's jobs table, from a machine with AWS credentials:
 * one DynamoDB client per call, destroyed after. API keys (api-key-admin.ts) and the one-off
 * backfill of GSI byOwner after an upgrade use it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { JobStore } from '../store/job-store';
import { ScheduleStore } from '../store/schedule-store';

export interface TableRef {
  table: string;
  region: string;
  /** A DynamoDB endpoint other than AWS's (the embedded deployment's). */
  endpoint?: string;
}

export async function withTable<T>(
  ref: TableRef,
  fn: (ddb: DynamoDBDocumentClient) => Promise<T>,
): Promise<T> {
  const client = new DynamoDBClient({
    region: ref.region,
    ...(ref.endpoint ? { endpoint: ref.endpoint } : {}),
  });
  try {
    return await fn(DynamoDBDocumentClient.from(client));
  } finally {
    client.destroy();
  }
}

/**
 * Writes the jobs and schedules made before tenants again, so GSI byOwner (added with tenants)
 * holds them and `GET /offloads` and `GET /schedules` list them. Safe to run again and while the
 * gateway runs (each write is conditional on the item's version). Returns how many it rewrote.
 */
export function backfillOwnerIndex(ref: TableRef): Promise<{ jobs: number; schedules: number }> {
  return withTable(ref, async (ddb) => ({
    jobs: await new JobStore(ddb, ref.table).backfillOwnerIndex(),
    schedules: await new ScheduleStore(ddb, ref.table).backfillOwnerIndex(),
  }));
}
