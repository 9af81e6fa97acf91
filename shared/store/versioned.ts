/**
 * Optimistic concurrency for the items of the jobs table (jobs, schedules): every write is a
 * conditional put on the item's `version`, so concurrent writers never lose each other's changes.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** A conditional write found the item changed (or, for a create, present). */
export const isConditionFailure = (err: unknown): boolean =>
  err instanceof ConditionalCheckFailedException ||
  (err instanceof Error && err.name === 'ConditionalCheckFailedException');

/** Puts `item` on the condition that the stored item's `version` is still `expected`. */
export function putIfVersion(
  ddb: DynamoDBDocumentClient,
  table: string,
  item: object,
  expected: number,
): Promise<unknown> {
  return ddb.send(
    new PutCommand({
      TableName: table,
      Item: item as Record<string, unknown>,
      ConditionExpression: 'version = :v',
      ExpressionAttributeValues: { ':v': expected },
    }),
  );
}

/** An item written with a version counter and the time of its last write. */
export interface Versioned {
  version: number;
  updatedAt: string;
}

/**
 * Read-modify-write: `change` gets a copy of the current item and edits it (or returns false to
 * write nothing); it may run more than once when another writer won. `write` puts the item on the
 * condition that its stored version is still `expected`. After `attempts` lost races, `conflict()`.
 */
export async function updateVersioned<T extends Versioned>(opts: {
  read: () => Promise<T>;
  write: (next: T, expected: number) => Promise<unknown>;
  change: (item: T) => void | false;
  now: Date;
  attempts: number;
  conflict: () => Error;
}): Promise<T> {
  for (let attempt = 0; attempt < opts.attempts; attempt++) {
    const current = await opts.read();
    const next = structuredClone(current);
    if (opts.change(next) === false) return current;
    next.version = current.version + 1;
    next.updatedAt = opts.now.toISOString();
    try {
      await opts.write(next, current.version);
      return next;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
  throw opts.conflict();
}
