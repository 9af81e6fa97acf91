/**
 * Schedules in the jobs table: `pk = SCHEDULE#<id>`, `sk = SCHEDULE`, and a name claim per tenant
 * and name (`pk = SCHEDULENAME#<tenant>#<name>`, the default tenant's without `<tenant>#`, as
 * before tenants; `sk = SCHEDULENAME`) so two schedules of a tenant never share a name. A schedule
 * is in GSI `byOwner` under `SCHEDULES#<tenant>`, so a tenant's listing is a query, never a scan.
 * Writes are conditional puts on `version`, as for jobs.
 */
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_TENANT, ownerOf } from '../domain/job';
import type { Schedule } from '../domain/schedule-model';
import { backfillOwnerIndex, queryOwnerPage, type OwnerPage } from './owner-index';
import { ScheduleMissingError, ScheduleNameTakenError, ScheduleWriteConflictError } from './errors';
import { isConditionFailure, putIfVersion, updateVersioned } from './versioned';

const SK = 'SCHEDULE';
const NAME_SK = 'SCHEDULENAME';
const UPDATE_ATTEMPTS = 8;

const key = (scheduleId: string) => ({ pk: `SCHEDULE#${scheduleId}`, sk: SK });
const nameKey = (tenant: string, name: string) => ({
  pk: tenant === DEFAULT_TENANT ? `SCHEDULENAME#${name}` : `SCHEDULENAME#${tenant}#${name}`,
  sk: NAME_SK,
});
const ownerPartition = (tenant: string) => `SCHEDULES#${tenant}`;
const itemOf = (schedule: Schedule) => ({
  ...key(schedule.scheduleId),
  gsi2pk: ownerPartition(ownerOf(schedule)),
  gsi2sk: `${schedule.createdAt}#${schedule.scheduleId}`,
  version: schedule.version,
  schedule,
});

export class ScheduleStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Stores a new schedule under a name no other schedule of its tenant has; ScheduleNameTakenError otherwise. */
  async create(schedule: Schedule): Promise<void> {
    const tenant = ownerOf(schedule);
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...nameKey(tenant, schedule.name), scheduleId: schedule.scheduleId },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const holder = await this.nameHolder(tenant, schedule.name);
      // The name claim of a schedule whose own item was never written (a create that died half-way) is free again.
      if (holder && holder !== schedule.scheduleId && (await this.find(holder))) {
        throw new ScheduleNameTakenError(schedule.name, holder);
      }
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...nameKey(tenant, schedule.name), scheduleId: schedule.scheduleId },
        }),
      );
    }
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: itemOf(schedule),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async find(scheduleId: string): Promise<Schedule | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: key(scheduleId), ConsistentRead: true }),
    );
    return (out.Item as { schedule: Schedule } | undefined)?.schedule;
  }

  async get(scheduleId: string): Promise<Schedule> {
    const found = await this.find(scheduleId);
    if (!found) throw new ScheduleMissingError(scheduleId);
    return found;
  }

  /** The id of the tenant's schedule holding a name, if any. */
  async nameHolder(tenant: string, name: string): Promise<string | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: nameKey(tenant, name), ConsistentRead: true }),
    );
    return (out.Item as { scheduleId: string } | undefined)?.scheduleId;
  }

  /** Read-modify-write on the schedule's version (versioned.ts): `change` may run more than once. */
  async update(
    scheduleId: string,
    change: (schedule: Schedule) => void | false,
    now: Date = new Date(),
  ): Promise<Schedule> {
    return updateVersioned({
      read: () => this.get(scheduleId),
      write: (next, expected) => putIfVersion(this.ddb, this.table, itemOf(next), expected),
      change,
      now,
      attempts: UPDATE_ATTEMPTS,
      conflict: () => new ScheduleWriteConflictError(scheduleId, UPDATE_ATTEMPTS),
    });
  }

  /** Removes a schedule and its name claim. */
  async delete(schedule: Schedule): Promise<void> {
    await this.ddb.send(new DeleteCommand({ TableName: this.table, Key: key(schedule.scheduleId) }));
    await this.ddb
      .send(
        new DeleteCommand({
          TableName: this.table,
          Key: nameKey(ownerOf(schedule), schedule.name),
          ConditionExpression: 'scheduleId = :id',
          ExpressionAttributeValues: { ':id': schedule.scheduleId },
        }),
      )
      .catch((err: unknown) => {
        if (!isConditionFailure(err)) throw err; // the name went to another schedule meanwhile
      });
  }

  /** A tenant's schedules, newest first, a page at a time (GSI byOwner). */
  async listOwned(opts: { tenant: string; limit?: number; cursor?: string }): Promise<OwnerPage<Schedule>> {
    return queryOwnerPage(this.ddb, this.table, {
      partition: ownerPartition(opts.tenant),
      limit: opts.limit ?? 100,
      ...(opts.cursor ? { cursor: opts.cursor } : {}),
      pick: (item) => (item as { schedule: Schedule }).schedule,
    });
  }

  /** Every schedule of a tenant (the overlap check reads them all; a tenant has tens). */
  async listAllOwned(tenant: string): Promise<Schedule[]> {
    const found: Schedule[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listOwned({ tenant, limit: 100, ...(cursor ? { cursor } : {}) });
      found.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return found;
  }

  /** Writes schedules from before GSI byOwner again so they are in it (owner-index.ts); returns how many. */
  async backfillOwnerIndex(): Promise<number> {
    return backfillOwnerIndex<{ schedule: Schedule; version: number }>(this.ddb, this.table, SK, (i) =>
      itemOf(i.schedule),
    );
  }
}
