/**
 * The embedded deployment's jobs table, made from the template's definition once, and kept in
 * step with it. A state directory from an older version may lack an index the template added
 * since (GSI byOwner, with tenants); dynalite's UpdateTable cannot add an index (it ignores
 * GlobalSecondaryIndexUpdates' Create), so the table is rebuilt: every item copied to a spare
 * table, the table made anew, the items put back, the spare dropped. A rebuild cut short is
 * finished at the next start from the spare, which is dropped only once the table holds it all.
 * Then jobs and schedules written before byOwner are written again so a tenant's listing finds
 * them. (The deployed stack gets new indexes from CloudFormation, and its old items are indexed
 * by their next write.)
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { JobStore } from '../../shared/store/job-store';
import { ScheduleStore } from '../../shared/store/schedule-store';
import { tableCreateInput, type TemplateTable } from './template';

type Item = Record<string, unknown>;

export async function ensureJobsTable(
  ddb: DynamoDBClient,
  table: TemplateTable,
  name: string,
): Promise<void> {
  const doc = DynamoDBDocumentClient.from(ddb);
  const spare = `${name}.rebuild`;
  const indexes = await indexesOf(ddb, name);
  if (!indexes) {
    await create(ddb, table, name);
    // a rebuild that stopped after dropping the table: its items wait in the spare
    if (await indexesOf(ddb, spare)) await finishRebuild(ddb, doc, spare, name);
    return;
  }
  const wanted = (table.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName ?? '');
  if (wanted.every((w) => indexes.includes(w))) return;
  const items = await scanAll(doc, name);
  if (await indexesOf(ddb, spare)) await drop(ddb, spare);
  await create(ddb, table, spare);
  await putAll(doc, spare, items);
  await drop(ddb, name);
  await create(ddb, table, name);
  await finishRebuild(ddb, doc, spare, name);
}

async function finishRebuild(ddb: DynamoDBClient, doc: DynamoDBDocumentClient, spare: string, name: string) {
  await putAll(doc, name, await scanAll(doc, spare));
  await new JobStore(doc, name).backfillOwnerIndex();
  await new ScheduleStore(doc, name).backfillOwnerIndex();
  await drop(ddb, spare);
}

/** The table's GSI names; undefined when there is no such table. */
async function indexesOf(ddb: DynamoDBClient, name: string): Promise<string[] | undefined> {
  try {
    const out = await ddb.send(new DescribeTableCommand({ TableName: name }));
    return (out.Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName ?? '');
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}

async function create(ddb: DynamoDBClient, table: TemplateTable, name: string): Promise<void> {
  await ddb.send(new CreateTableCommand(tableCreateInput(table, name)));
  for (let i = 0; i < 200; i++) {
    const out = await ddb.send(new DescribeTableCommand({ TableName: name }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`table ${name} did not become ACTIVE`);
}

async function drop(ddb: DynamoDBClient, name: string): Promise<void> {
  await ddb.send(new DeleteTableCommand({ TableName: name }));
  for (let i = 0; i < 200; i++) {
    if (!(await indexesOf(ddb, name))) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`table ${name} was not deleted`);
}

async function scanAll(doc: DynamoDBDocumentClient, name: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const out = await doc.send(new ScanCommand({ TableName: name, ExclusiveStartKey: startKey }));
    items.push(...((out.Items as Item[] | undefined) ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** BatchWriteItem takes 25 puts; what it leaves unprocessed is sent again. */
async function putAll(doc: DynamoDBDocumentClient, name: string, items: Item[]): Promise<void> {
  for (let i = 0; i < items.length; i += 25) {
    let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let round = 0; requests.length > 0; round++) {
      if (round === 20) throw new Error(`table ${name}: items stayed unprocessed`);
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [name]: requests } }));
      requests = (out.UnprocessedItems?.[name] ?? []) as typeof requests;
    }
  }
}
