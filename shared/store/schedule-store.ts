/**
 * Schedules in the jobs table: `pk = SCHEDULE#<id>`, `sk = SCHEDULE`, and a name claim per schedule
 * (`pk = SCHEDULENAME#<name>`, `sk = SCHEDULENAME`) so two schedules never share a name. Neither has
 * GSI attributes, so job listings never see them. Writes are conditional puts on `version`, as for
 * jobs; there are few schedules, so listing them is a scan.
 */
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Schedule } from '../domain/schedule-model';
import { ScheduleMissingError, ScheduleNameTakenError, ScheduleWriteConflictError } from './errors';
import { isConditionFailure, updateVersioned } from './versioned';

const SK = 'SCHEDULE';
const NAME_SK = 'SCHEDULENAME';
const UPDATE_ATTEMPTS = 8;
/** Most schedules a listing reads (a deployment has tens, not thousands). */
const MAX_LISTED = 1000;

const key = (scheduleId: string) => ({ pk: `SCHEDULE#${scheduleId}`, sk: SK });
const nameKey = (name: string) => ({ pk: `SCHEDULENAME#${name}`, sk: NAME_SK });

export class ScheduleStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Stores a new schedule under a name no other schedule has; ScheduleNameTakenError otherwise. */
  async create(schedule: Schedule): Promise<void> {
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...nameKey(schedule.name), scheduleId: schedule.scheduleId },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const holder = await this.nameHolder(schedule.name);
      // The name claim of a schedule whose own item was never written (a create that died half-way) is free again.
      if (holder && holder !== schedule.scheduleId && (await this.find(holder))) {
        throw new ScheduleNameTakenError(schedule.name, holder);
      }
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...nameKey(schedule.name), scheduleId: schedule.scheduleId },
        }),
      );
    }
    await this.ddb.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...key(schedule.scheduleId), version: schedule.version, schedule },
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

  /** The id of the schedule holding a name, if any. */
  async nameHolder(name: string): Promise<string | undefined> {
    const out = await this.ddb.send(
      new GetCommand({ TableName: this.table, Key: nameKey(name), ConsistentRead: true }),
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
      write: (next, expected) =>
        this.ddb.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...key(scheduleId), version: next.version, schedule: next },
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': expected },
          }),
        ),
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
          Key: nameKey(schedule.name),
          ConditionExpression: 'scheduleId = :id',
          ExpressionAttributeValues: { ':id': schedule.scheduleId },
        }),
      )
      .catch((err: unknown) => {
        if (!isConditionFailure(err)) throw err; // the name went to another schedule meanwhile
      });
  }

  /** Every schedule, oldest first. */
  async list(): Promise<Schedule[]> {
    const found: Schedule[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(
        new ScanCommand({
          TableName: this.table,
          FilterExpression: 'sk = :sk',
          ExpressionAttributeValues: { ':sk': SK },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of (out.Items as Array<{ schedule: Schedule }> | undefined) ?? []) {
        found.push(item.schedule);
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey && found.length < MAX_LISTED);
    return found.sort(
      (a, b) => a.createdAt.localeCompare(b.createdAt) || a.scheduleId.localeCompare(b.scheduleId),
    );
  }
}
