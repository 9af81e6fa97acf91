/**
 * GSI `byOwner` (`gsi2pk`/`gsi2sk`): the jobs table's items listed by whose they are. Jobs sit
 * under `JOBS#<tenant>`, schedules under `SCHEDULES#<tenant>` (sort key `<createdAt>#<id>`), API
 * keys under one `APIKEYS` partition. A listing is a query of one partition, a page at a time; the
 * page's end is handed to the caller as an opaque cursor (the last evaluated key, base64url JSON)
 * that is checked to belong to the same partition before it is used again.
 */
import { QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CursorInvalidError } from './errors';
import { isConditionFailure, putIfVersion } from './versioned';

export const BY_OWNER_INDEX = 'byOwner';

/** Longest cursor accepted: a key of four short strings is far below it. */
const MAX_CURSOR_CHARS = 2048;
/** Query rounds one page may take when a filter drops items, so a listing's cost stays bounded. */
const MAX_ROUNDS = 10;

export interface OwnerPage<T> {
  items: T[];
  /** Pass back for the next page; absent on the last one. */
  nextCursor?: string;
}

type Key = Record<string, string>;

export function encodeCursor(key: Key): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The start key a cursor stands for, checked to be a key of `partition`; CursorInvalidError otherwise. */
export function decodeCursor(cursor: string, partition: string): Key {
  let key: unknown;
  try {
    if (cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('shape');
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new CursorInvalidError('it is not a cursor this gateway made');
  }
  const fields = ['pk', 'sk', 'gsi2pk', 'gsi2sk'];
  const ok =
    !!key &&
    typeof key === 'object' &&
    !Array.isArray(key) &&
    Object.keys(key).length === fields.length &&
    fields.every((f) => typeof (key as Key)[f] === 'string');
  if (!ok) throw new CursorInvalidError('it is not a cursor this gateway made');
  if ((key as Key).gsi2pk !== partition) throw new CursorInvalidError('it belongs to another listing');
  return key as Key;
}

/**
 * One page of `partition`, newest first, of at most `limit` items that pass `filter` (a
 * FilterExpression on the item's top-level attributes, with its values).
 */
export async function queryOwnerPage<T>(
  ddb: DynamoDBDocumentClient,
  table: string,
  opts: {
    partition: string;
    limit: number;
    cursor?: string;
    filter?: { expression: string; values: Record<string, unknown> };
    pick: (item: Record<string, unknown>) => T;
  },
): Promise<OwnerPage<T>> {
  const items: T[] = [];
  let startKey: Key | undefined = opts.cursor ? decodeCursor(opts.cursor, opts.partition) : undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const out = await ddb.send(
      new QueryCommand({
        TableName: table,
        IndexName: BY_OWNER_INDEX,
        KeyConditionExpression: 'gsi2pk = :owner',
        ExpressionAttributeValues: { ':owner': opts.partition, ...(opts.filter?.values ?? {}) },
        ...(opts.filter ? { FilterExpression: opts.filter.expression } : {}),
        ScanIndexForward: false,
        // Asking for exactly what is missing keeps the last evaluated key at the last item kept.
        Limit: opts.limit - items.length,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of (out.Items as Array<Record<string, unknown>> | undefined) ?? []) {
      items.push(opts.pick(item));
    }
    startKey = out.LastEvaluatedKey as Key | undefined;
    if (!startKey || items.length >= opts.limit) break;
  }
  return { items, ...(startKey ? { nextCursor: encodeCursor(startKey) } : {}) };
}

/**
 * Writes the items of kind `sk` that lack owner index attributes again, as `itemOf` makes them
 * (items written before GSI byOwner existed are not in it until then). A one-off migration by
 * scan, never an API path; each write is conditional on the item's version, and an item changed
 * meanwhile was indexed by that change. Returns how many items it rewrote.
 */
export async function backfillOwnerIndex<T extends { version: number }>(
  ddb: DynamoDBDocumentClient,
  table: string,
  sk: string,
  itemOf: (item: T) => object,
): Promise<number> {
  let rewritten = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await ddb.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'sk = :sk AND attribute_not_exists(gsi2pk)',
        ExpressionAttributeValues: { ':sk': sk },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of (out.Items as T[] | undefined) ?? []) {
      try {
        await putIfVersion(ddb, table, itemOf(item), item.version);
        rewritten++;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return rewritten;
}
